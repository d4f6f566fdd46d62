"""Migrations on both backends: from empty, and over a database that already has rows."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from digest.store.db import make_engine
from digest.store.migrate import alembic_config, is_current, upgrade


def test_upgrading_a_database_with_rows_keeps_them(database_url: str) -> None:
    engine = make_engine(database_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stories (title, created_at, updated_at)"
                " VALUES ('t', '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cards (story_id, category, summary, takeaways, why_it_matters, faq,"
                " engine, created_at) VALUES ((SELECT min(id) FROM stories), 'World', 's',"
                " '[\"a\",\"b\",\"c\"]', 'w', '[]', 'offline', '2026-11-01 00:00:00')"
            )
        )
    assert not is_current(engine)
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT cost_usd, input_tokens, checked FROM cards")).one()
    assert (row.cost_usd, row.input_tokens, row.checked) == (0.0, 0, None)
    assert "questions" in inspect(engine).get_table_names()
    engine.dispose()


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert is_current(engine)
    engine.dispose()
