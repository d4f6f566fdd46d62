"""Apply Alembic migrations from code (at start, and by ``digest db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StorageError
from digest.store.db import short_error

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it only has to be the same in every process of this project.
_PG_LOCK_KEY = 7_419_305_118


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision. Safe to call from several processes at once:
    on PostgreSQL an advisory lock serialises them; on SQLite the write lock does.

    Raises ``StorageError`` when the database cannot be reached or a migration fails.
    """
    cfg = alembic_config()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except SQLAlchemyError as e:
        raise StorageError(f"database migration failed: {short_error(e)}") from e


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest revision (used by status output and tests)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
