"""Finding the cards in one language beside a list of default cards (what a chat's /digest
shows a subscriber of that language), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, event

from digest.errors import NotFound
from digest.store.repository import Repository
from tests.digest.store import test_subscriptions as base

# The fixtures and helpers of the subscription tests, on both backends.
clock, engine, repo = base.clock, base.engine, base.repo
draft, make_card = base.draft, base.make_card


def translate(repo: Repository, card_id: int, key: str, language: str, summary: str) -> int:
    """Store the card of ``card_id``'s story in the language ``key``; returns its id."""
    story_id = repo.get_card(card_id).story_id
    made = repo.save_card(
        story_id, replace(draft(summary=summary), language=language), lang_key=key
    )
    assert made is not None
    return made


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` meanwhile."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_each_default_card_gets_its_storys_card_in_the_language_where_one_exists(
    repo: Repository,
) -> None:
    rally, storm, quiet = (make_card(repo, t) for t in ("Markets rally", "Storm", "Quiet day"))
    rally_de = translate(repo, rally, "de", "German", "Die Aktien stiegen. Die Märkte zogen an.")
    rally_fr = translate(repo, rally, "fr", "French", "Les actions ont monté. Voilà.")
    storm_fr = translate(repo, storm, "fr", "French", "Une tempête. Voilà.")

    german = repo.cards_in_language([rally, storm, quiet], "de")
    assert {default: card.id for default, card in german.items()} == {rally: rally_de}
    card = german[rally]
    assert card.story_id == repo.get_card(rally).story_id and card.language == "German"
    assert card.summary.startswith("Die Aktien") and card.title == "Markets rally"

    french = repo.cards_in_language([quiet, storm, rally], "fr")
    assert {d: c.id for d, c in french.items()} == {rally: rally_fr, storm: storm_fr}
    assert repo.cards_in_language([quiet], "fr") == {}
    assert repo.cards_in_language([rally], "es") == {}


def test_only_default_card_ids_are_looked_up(repo: Repository) -> None:
    rally = make_card(repo, "Markets rally")
    rally_de = translate(repo, rally, "de", "German", "Die Aktien stiegen. Gut.")
    assert repo.cards_in_language([], "de") == {}
    assert repo.cards_in_language([rally], "") == {}  # "" is the default card itself
    assert repo.cards_in_language([rally_de, 10**9], "de") == {}  # not default cards
    assert list(repo.cards_in_language([rally, rally, 10**9], "de")) == [rally]


def test_the_lookup_takes_as_many_statements_for_many_cards_as_for_one(
    repo: Repository, engine: Engine
) -> None:
    defaults = [make_card(repo, f"Story number {n}") for n in range(12)]
    for card_id in defaults:
        translate(repo, card_id, "de", "German", "Auf Deutsch. Kurz.")
    with statements(engine) as one:
        assert len(repo.cards_in_language(defaults[:1], "de")) == 1
    with statements(engine) as many:
        assert len(repo.cards_in_language(defaults, "de")) == 12
    assert len(many) == len(one)


def test_a_card_id_past_what_the_database_holds_is_no_card(repo: Repository) -> None:
    # A button or a typed number may carry any id; PostgreSQL would refuse the query.
    for card_id in (0, -1, 2**31, 10**18):
        with pytest.raises(NotFound):
            repo.get_card(card_id)
