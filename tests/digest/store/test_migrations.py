"""Migrations on both backends: from empty, and over a database that already has rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from digest.store.db import make_engine
from digest.store.ledger import Ledger
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


def test_an_upgraded_database_keeps_counting_what_was_spent_before_the_spend_ledger(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    cards = {"paid": ("'claude'", "'claude-haiku-5-5'", 0.002), "free": ("'offline'", "NULL", 0)}
    with engine.begin() as conn:
        for title, (engine_name, model, cost) in cards.items():
            conn.execute(
                text(
                    "INSERT INTO stories (title, created_at, updated_at)"
                    f" VALUES ('{title}', '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO cards (story_id, category, summary, takeaways, why_it_matters,"
                    " faq, engine, created_at, model, input_tokens, output_tokens, cost_usd,"
                    f" unchecked_terms, related) VALUES ((SELECT id FROM stories WHERE title ="
                    f" '{title}'), 'World', 's', '[]', 'w', '[]', {engine_name},"
                    f" '2026-11-01 00:00:00', {model}, 1000, 100, {cost}, '[]', '[]')"
                )
            )
    upgrade(engine)
    ledger = Ledger(engine)
    assert ledger.cost_since(datetime(2026, 10, 31, tzinfo=UTC)) == 0.002  # offline was free
    (day,) = ledger.usage_by_day(datetime(2026, 10, 31, tzinfo=UTC))
    assert (day.input_tokens, day.cards_by_engine) == (1000, {"claude": 1, "offline": 1})
    engine.dispose()


def test_extractive_answers_from_before_0006_are_not_served_from_the_cache(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
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
                " engine, created_at, input_tokens, output_tokens, cost_usd, unchecked_terms,"
                " related) VALUES ((SELECT min(id) FROM stories), 'World', 's', '[]', 'w', '[]',"
                " 'offline', '2026-11-01 00:00:00', 0, 0, 0, '[]', '[]')"
            )
        )
        for method, key in (("extractive", "k1"), ("why_it_matters", "k2")):
            conn.execute(
                text(
                    "INSERT INTO questions (card_id, asker, question, question_key, answer,"
                    " method, quotes, cached, input_tokens, output_tokens, cost_usd, created_at)"
                    f" VALUES ((SELECT min(id) FROM cards), 'a', 'q', '{key}', 'answer',"
                    f" '{method}', '[]', false, 0, 0, 0, '2026-11-01 00:00:00')"
                )
            )
    upgrade(engine)
    ledger = Ledger(engine)
    with engine.connect() as conn:
        card_id = conn.execute(text("SELECT min(id) FROM cards")).scalar_one()
    assert ledger.cached_answer(card_id, "k1") is None  # maybe a stand-in: asked again
    cached = ledger.cached_answer(card_id, "k2")
    assert cached is not None and cached.method == "why_it_matters"
    engine.dispose()


def test_0007_keeps_every_row_that_points_at_a_card_and_allows_a_card_per_language(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
    when = "'2026-11-01 00:00:00'"
    with engine.begin() as conn:
        for statement in (
            f"INSERT INTO stories (title, created_at, updated_at) VALUES ('t', {when}, {when})",
            "INSERT INTO cards (story_id, category, summary, takeaways, why_it_matters, faq,"
            " engine, created_at, input_tokens, output_tokens, cost_usd, unchecked_terms,"
            " related) VALUES ((SELECT min(id) FROM stories), 'World', 's', '[]', 'w', '[]',"
            f" 'offline', {when}, 0, 0, 0, '[]', '[]')",
            "INSERT INTO questions (card_id, asker, question, question_key, answer, method,"
            " quotes, cached, degraded, input_tokens, output_tokens, cost_usd, created_at)"
            " VALUES ((SELECT min(id) FROM cards), 'a', 'q', 'k', 'answer', 'faq', '[]', true,"
            f" false, 0, 0, 0, {when})",
            "INSERT INTO subscriptions (platform, destination, thread, categories,"
            " include_keywords, exclude_keywords, mode, schedule, timezone, max_cards, active,"
            f" created_at, updated_at) VALUES ('telegram', '1', '', '[]', '[]', '[]',"
            f" 'instant', '0 8 * * *', 'UTC', 10, true, {when}, {when})",
            "INSERT INTO deliveries (subscription_id, kind, status, due_at, attempts,"
            f" message_ids, created_at) VALUES ((SELECT min(id) FROM subscriptions), 'card',"
            f" 'sent', {when}, 1, '[\"9\"]', {when})",
            "INSERT INTO delivery_items (delivery_id, card_id, subscription_id, position)"
            " VALUES ((SELECT min(id) FROM deliveries), (SELECT min(id) FROM cards),"
            " (SELECT min(id) FROM subscriptions), 0)",
            "INSERT INTO sent_messages (platform, chat, message_id, card_id, delivery_id,"
            " created_at) VALUES ('telegram', '1', '9', (SELECT min(id) FROM cards),"
            f" (SELECT min(id) FROM deliveries), {when})",
        ):
            conn.execute(text(statement))
    upgrade(engine)
    with engine.connect() as conn:
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("questions", "delivery_items", "sent_messages", "cards")
        }
        item = conn.execute(text("SELECT story_id FROM delivery_items")).scalar_one()
        story, key = conn.execute(text("SELECT story_id, lang_key FROM cards")).one()
    assert counts == {"questions": 1, "delivery_items": 1, "sent_messages": 1, "cards": 1}
    assert (item, key) == (story, "")
    insert_card = (
        "INSERT INTO cards (story_id, category, summary, takeaways, why_it_matters, faq,"
        " engine, created_at, input_tokens, output_tokens, cost_usd, unchecked_terms,"
        f" related, lang_key) VALUES ({story}, 'World', 's', '[]', 'w', '[]', 'claude',"
        f" {when}, 0, 0, 0, '[]', '[]', :key)"
    )
    with engine.begin() as conn:
        conn.execute(text(insert_card), {"key": "de"})  # a second language: fine
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(insert_card), {"key": ""})  # a second default card: refused
    engine.dispose()
