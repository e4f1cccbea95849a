"""Vector (Qdrant) and graph long-term memory (the analysis crew issue)."""
