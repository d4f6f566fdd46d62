"""Alembic environment. ``digest.store.migrate.upgrade`` passes a live connection in
``config.attributes``; run from the alembic CLI it falls back to ``DATABASE_URL``."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from digest.store.db import make_engine
from digest.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///data/digest.db"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
