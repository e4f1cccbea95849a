"""LLM endpoints, model choice, fallbacks and response cache (the crew and routing issues)."""
