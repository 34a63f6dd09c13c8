"""Alembic's entry point for the hub: always online, on the connection hub.storage.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from hub.storage import tables  # noqa: F401 - registers the tables on SQLModel.metadata
from hub.storage.migrations.render import render_item

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `hub db upgrade` (hub.storage.migrate), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies the table instead
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
