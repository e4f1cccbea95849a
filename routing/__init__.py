"""Model endpoints from settings and the one way crews get a model (`llm_for`)."""
