"""CrewAI agents, tasks and depth tiers (YAML in `config/`) and the crew builder."""
