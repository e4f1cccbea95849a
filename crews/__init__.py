"""CrewAI agents, tasks and the crew builder (the analysis crew issue)."""
