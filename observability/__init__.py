"""Logging setup, Prometheus metrics, the /metrics /healthz /readyz server and `autointel doctor`."""
