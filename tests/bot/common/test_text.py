"""The plain-text pieces every adapter shows."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.common.text import ELLIPSIS, answer_origin, cut, date_text, digest_title, meta_line
from digest.models import Answer, Card, Source


def card(**kw: object) -> Card:
    fields: dict[str, object] = dict(
        id=1,
        story_id=1,
        title="Markets rally",
        url="https://news.example.com/1",
        source="Wire",
        published_at=datetime(2026, 11, 28, 23, 30, tzinfo=UTC),
        category="Business",
        summary="Stocks rose.",
        takeaways=("a", "b", "c"),
        why_it_matters="Money.",
        faq=(),
        engine="offline",
        created_at=datetime(2026, 11, 29, tzinfo=UTC),
    )
    fields.update(kw)
    return Card(**fields)  # type: ignore[arg-type]


def test_cut_keeps_whole_text_that_fits() -> None:
    assert cut("  Short one.  ", 20) == "Short one."


def test_cut_ends_after_the_last_sentence_that_fits() -> None:
    text = "First sentence here. Second one is here too. Third is far too long to fit at all."
    assert cut(text, 50) == "First sentence here. Second one is here too."
    assert len(cut(text, 50)) <= 50


def test_cut_falls_back_to_a_word_and_an_ellipsis() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    got = cut(text, 20)
    assert got.endswith(ELLIPSIS) and len(got) <= 20
    assert got[:-1] == "one two three four"


def test_cut_of_one_long_word_is_hard_but_within_the_limit() -> None:
    got = cut("x" * 10_000, 100)
    assert len(got) == 100 and got.endswith(ELLIPSIS)


def test_cut_ignores_a_tiny_first_sentence() -> None:
    text = "Hi. " + "word " * 100
    got = cut(text, 60)
    assert len(got) <= 60 and got.endswith(ELLIPSIS) and len(got) > 40


def test_cut_with_no_room() -> None:
    assert cut("anything", 0) == ""
    assert cut("anything", 1) == ELLIPSIS


def test_meta_line_in_the_readers_zone_with_other_sources() -> None:
    c = card(sources=(Source("Wire", "u1"), Source("Daily", "u2"), Source("Daily", "u3")))
    assert meta_line(c) == "Business · Wire · 28 Nov 2026 · also reported by Daily"
    assert meta_line(c, "Europe/Berlin").startswith("Business · Wire · 29 Nov 2026")


def test_date_text_unknown_is_empty() -> None:
    assert date_text(None) == ""


def test_answer_origin_says_how_it_was_found() -> None:
    assert answer_origin(Answer("x", "why_it_matters")) == "From the card"
    assert answer_origin(Answer("x", "model")) == "From the article"
    assert answer_origin(Answer("x", "not_covered")) == "Not covered by the article"
    assert answer_origin(Answer("x", "faq", cached=True)).endswith("answered before")


def test_digest_title_in_the_subscribers_zone() -> None:
    slot = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    assert digest_title(slot, "Europe/Berlin") == "Your news digest · Sun 29 Nov, 08:00"
