"""Alembic environment: migrations run on a connection handed in by the run store."""

from __future__ import annotations

from alembic import context

from pipelines.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through RunStore.open(), which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
