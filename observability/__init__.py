"""Logging setup, metrics, health checks and the doctor (the observability issue)."""
