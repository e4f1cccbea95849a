# AutoIntel image: build a virtualenv in one stage, run as a non-root user in the next.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/venv
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
