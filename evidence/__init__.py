"""Evidence for fact-checks from outside memory: providers, page fetching, passages, cache."""
