"""Long-term memory: vector memory in Qdrant, graph memory in the run store's database.

    embeddings.py  Embedder protocol; MiniLMEmbedder (bundled all-MiniLM-L6-v2 in NumPy,
                   numerically equivalent to sentence-transformers), OpenAIEmbedder
                   (any OpenAI-compatible /v1/embeddings); build_embedder(settings)
    minilm.py      the NumPy BERT forward pass behind MiniLMEmbedder
    vector.py      VectorMemory (one Qdrant collection per namespace), MemoryItem, Hit
    graph.py       GraphMemory: entities, claims, mentions and co-occurrence (tables.py,
                   Alembic migration 0002_graph_memory)
    corpus.py      reference corpus files (text, JSONL, CLIMATE-FEVER) → MemoryItems
    namespaces.py  namespace names: a guild id, "cli" or "reference" (the shared corpus)

Exception hierarchy (memory/errors.py); each has a stable `code` and a one-line `message`:

    MemoryStoreError                   memory_error
    ├── InvalidNamespaceError          invalid_namespace   not ^[a-z0-9_-]{1,64}$ (also a ValueError)
    ├── EmbedderError                  embedder_failed     model missing, endpoint failed
    ├── DimensionMismatchError         dimension_mismatch  collection built by another embedder
    ├── MemoryUnavailableError         memory_unavailable  Qdrant server unreachable, local storage
    │                                                      locked by another process, database down
    └── CorpusError                    bad_corpus          corpus file missing or malformed
"""

KINDS: tuple[str, ...] = ("transcript", "summary", "claim", "verdict", "reference", "evidence")
