"""Model choice: catalogue, learning router, fallback, response cache, budgets, prompt compression."""
