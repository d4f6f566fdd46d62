"""Card, digest and answer rendering for Discord, and the components' custom ids: every
limit, sentence-boundary cuts, order, stable colours. Pure functions: no Discord here
(the payloads as Discord receives them are checked in ``test_sender``)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import discord
import pytest

from bot.common.text import DISCLAIMER
from bot.discord.components import (
    DYNAMIC_ITEMS,
    MAX_CARD_ID,
    FaqSelect,
    OpenCardButton,
    RelatedButton,
    WhyButton,
    card_view,
    digest_view,
)
from bot.discord.render import (
    CATEGORY_COLOURS,
    GREY,
    answer_text,
    card_embed,
    category_colour,
    digest_embeds,
    digest_parts,
    embed_size,
)
from digest.models import Answer, Card, FaqItem, Quote, Source

PUBLISHED = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)


def make_card(**changes: Any) -> Card:
    card = Card(
        id=42,
        story_id=7,
        title="Chip export rules tightened",
        url="https://news.example.com/chips",
        source="Wire",
        published_at=PUBLISHED,
        category="Policy",
        summary="The ministry tightened export rules. Firms have 90 days to comply.",
        takeaways=("Rules cover advanced chips.", "90 days to comply.", "Fines up to 4%."),
        why_it_matters="Supply chains for data centres shift.",
        faq=(FaqItem("Who is affected?", "Exporters."), FaqItem("When?", "In 90 days.")),
        engine="offline",
        created_at=PUBLISHED,
        sources=(Source("Wire", "https://news.example.com/chips"),),
    )
    return replace(card, **changes)


def sentences(n: int, words: int = 12, start: int = 0) -> str:
    """``n`` distinct sentences of ``words`` words each, numbered so a cut is traceable."""
    return " ".join(
        f"Sentence {i} " + " ".join(["word"] * (words - 2)) + "." for i in range(start, start + n)
    )


def field(embed: discord.Embed, name: str) -> str:
    return next(f.value or "" for f in embed.fields if f.name == name)


# -- the card embed ----------------------------------------------------------------------------


def test_a_card_embed_has_every_part() -> None:
    card = make_card(image_url="https://img.example.com/chip.jpg")
    embed = card_embed(card)
    assert embed.title == "Chip export rules tightened"
    assert embed.url == "https://news.example.com/chips"
    assert embed.description == card.summary
    assert [(f.name, f.inline) for f in embed.fields] == [
        ("Key takeaways", False),
        ("Why it matters", False),
    ]
    assert field(embed, "Key takeaways") == (
        "• Rules cover advanced chips.\n• 90 days to comply.\n• Fines up to 4%."
    )
    assert field(embed, "Why it matters") == "Supply chains for data centres shift."
    assert embed.footer.text == f"Policy · Wire · 29 Nov 2026\n{DISCLAIMER}"
    assert embed.timestamp == PUBLISHED
    assert embed.colour is not None and embed.colour.value == CATEGORY_COLOURS["policy"]
    assert embed.thumbnail.url == "https://img.example.com/chip.jpg"


def test_a_card_without_image_date_or_usable_url_still_renders() -> None:
    created = datetime(2026, 11, 28, 9)  # naive: the core's times are UTC
    card = make_card(image_url=None, published_at=None, created_at=created, url="ftp://x/y")
    embed = card_embed(card)
    assert embed.thumbnail.url is None
    assert embed.url is None  # Discord refuses a non-http(s) link; the card still goes
    assert embed.timestamp == created.replace(tzinfo=UTC)
    assert card_view(card).children[-1].type is discord.ComponentType.select  # no link button
    assert not any(getattr(i, "url", None) for i in card_view(card).children)


def test_every_field_is_cut_at_a_sentence_within_its_limit() -> None:
    card = make_card(
        title="Headline " * 40,
        summary=sentences(120),
        takeaways=(sentences(30), sentences(30, start=100), sentences(30, start=200)),
        why_it_matters=sentences(40),
        source="S" * 3000,
    )
    embed = card_embed(card)
    assert embed.title is not None and len(embed.title) <= 256
    assert embed.title.endswith("…")  # no sentence in it: cut after a word
    assert embed.description is not None and len(embed.description) <= 4096
    assert re.search(r"Sentence \d+ (word ){9}word\.$", embed.description)
    takeaways = field(embed, "Key takeaways")
    assert len(takeaways) <= 1024
    bullets = takeaways.split("\n")
    assert len(bullets) == 3  # each keeps its share; none is dropped
    assert [b[:12] for b in bullets] == ["• Sentence 0", "• Sentence 1", "• Sentence 2"]
    assert all(b.endswith(".") for b in bullets)  # whole sentences
    why = field(embed, "Why it matters")
    assert len(why) <= 1024 and why.endswith("word.")
    assert embed.footer.text is not None and len(embed.footer.text) <= 2048
    assert embed.footer.text.endswith("…\n" + DISCLAIMER)  # the disclaimer stays whole
    assert embed_size(embed) <= 6000


def test_a_card_whose_texts_exceed_6000_in_total_gives_up_summary() -> None:
    card = make_card(
        summary=sentences(200),  # ~ 14,000 characters
        takeaways=(sentences(10), sentences(10), sentences(10)),
        why_it_matters=sentences(30),
        title="T" * 300,
        source="Source " * 300,  # a footer near its 2,048 limit
    )
    embed = card_embed(card)
    lengths = {
        "title": len(embed.title or ""),
        "description": len(embed.description or ""),
        "fields": sum(len(f.name or "") + len(f.value or "") for f in embed.fields),
        "footer": len(embed.footer.text or ""),
    }
    assert sum(lengths.values()) == embed_size(embed)
    naive = 256 + 4096 + sum(lengths.values()) - lengths["description"] - lengths["title"]
    assert naive > 6000  # each part at its own limit would be refused
    assert 5800 <= embed_size(embed) <= 6000  # the summary took what was left, no more
    assert embed.description is not None and embed.description.endswith(".")


def test_article_text_keeps_mentions_and_shows_markdown_as_typed() -> None:
    card = make_card(
        title="@everyone look: <@&123456789012345678> and <@234567890123456789>",
        summary="Use *args and snake_case_names; see [click](http://evil.example).",
    )
    embed = card_embed(card)
    assert embed.title is not None and "@everyone" in embed.title
    assert "<@&123456789012345678>" in embed.title and "<@234567890123456789>" in embed.title
    assert "\u200b" not in embed.title  # no zero-width spaces inserted into names
    assert embed.description == (
        r"Use \*args and snake\_case\_names; see \[click](http://evil.example)."
    )


def test_colours_are_stable_per_category_and_grey_by_default() -> None:
    defaults = ["World", "Policy", "Business", "Technology", "Science", "Health", "Climate"]
    colours = [category_colour(c) for c in defaults]
    assert len(set(colours)) == len(colours)  # each its own
    assert category_colour("policy") == category_colour(" Policy ") == CATEGORY_COLOURS["policy"]
    assert category_colour("") == GREY and category_colour("General") == GREY
    # A configured category outside the defaults: the same colour every time (crc32, not
    # hash(): identical across processes), always a valid colour.
    assert category_colour("Astronomy") == 0xAD1457
    assert category_colour("Astronomy") == category_colour("astronomy")
    assert all(0 <= category_colour(f"Topic {i}") <= 0xFFFFFF for i in range(50))


# -- components ----------------------------------------------------------------------------------


def test_card_components_carry_the_card_id() -> None:
    card = make_card(id=123456789, related=(5, 6))
    rows = card_view(card).to_components()
    buttons, menu = rows[0]["components"], rows[1]["components"]
    assert [(b.get("custom_id"), b["label"]) for b in buttons] == [
        ("card:why:123456789", "Why it matters"),
        ("card:rel:123456789", "Related"),
        (None, "Read article"),
    ]
    assert buttons[2]["url"] == card.url and buttons[2]["style"] == 5
    assert menu[0]["custom_id"] == "card:faq:123456789"
    assert [(o["label"], o["value"]) for o in menu[0]["options"]] == [
        ("Who is affected?", "0"),
        ("When?", "1"),
    ]
    assert card_view(card).timeout is None
    without = card_view(make_card(related=(), faq=()))
    assert [getattr(i, "custom_id", None) for i in without.children] == ["card:why:42", None]


def test_custom_ids_fit_and_match_their_templates() -> None:
    biggest = MAX_CARD_ID  # the largest id the cards table holds (32-bit on PostgreSQL)
    items = [
        WhyButton(biggest),
        FaqSelect(biggest, ["Q" * 300]),
        RelatedButton(biggest),
        OpenCardButton(biggest, "1"),
    ]
    for item, cls in zip(items, DYNAMIC_ITEMS, strict=True):
        assert len(item.custom_id) <= 100
        match = cls.__discord_ui_compiled_template__.fullmatch(item.custom_id)
        assert match is not None and int(match["id"]) == biggest
    assert [i.custom_id.split(":")[1] for i in items] == ["why", "faq", "rel", "open"]
    faq = items[1].item
    assert isinstance(faq, discord.ui.Select) and len(faq.options[0].label) <= 100
    # One template never claims another's ids.
    assert WhyButton.__discord_ui_compiled_template__.fullmatch("card:rel:1") is None
    # Nor an id no card can have (longer than any id; other scripts' digits).
    assert WhyButton.__discord_ui_compiled_template__.fullmatch("card:why:" + "9" * 11) is None
    assert WhyButton.__discord_ui_compiled_template__.fullmatch("card:why:١") is None


def test_digest_view_numbers_its_buttons() -> None:
    cards = [make_card(id=i) for i in (9, 8, 7)]
    rows = digest_view(cards, first_number=4).to_components()
    found = [(c["custom_id"], c["label"]) for r in rows for c in r["components"]]
    assert found == [("card:open:9", "4"), ("card:open:8", "5"), ("card:open:7", "6")]


# -- digests -------------------------------------------------------------------------------------


def test_a_digest_lists_numbered_linked_headlines_in_order() -> None:
    cards = [
        make_card(id=1, title="First [video] story", url="https://e.example/a_(b)"),
        make_card(id=2, title="Second story", category="Business", summary=sentences(30)),
    ]
    slot = datetime(2026, 11, 29, 7, tzinfo=UTC)
    [embed] = digest_embeds(cards, slot, "Europe/Berlin")
    assert embed.title == "Your news digest · Sun 29 Nov, 08:00"
    assert embed.timestamp == slot
    assert embed.footer.text == DISCLAIMER
    first, second = (embed.description or "").split("\n\n")
    assert first.startswith("**1.** [First (video) story](https://e.example/a_%28b%29)\n")
    assert second.startswith("**2.** [Second story](https://news.example.com/chips)\nSentence 0")
    one_line = second.split("\n")[1]
    assert one_line.endswith(" · Business · Wire") and len(one_line) <= 160 + 20


def test_a_long_digest_is_split_in_order_within_the_limits() -> None:
    cards = [
        make_card(id=i, title=f"Story {i} " + "x" * 200, summary=sentences(20)) for i in range(60)
    ]
    parts = digest_parts(cards, datetime(2026, 11, 29, 8, tzinfo=UTC))
    assert len(parts) > 2
    assert [c.id for p in parts for c in p.cards] == list(range(60))  # all, in order, once
    numbers = [
        int(n)
        for p in parts
        for n in re.findall(r"^\*\*(\d+)\.\*\*", p.embed.description or "", re.M)
    ]
    assert numbers == list(range(1, 61))
    assert [p.first_number for p in parts] == [p.cards[0].id + 1 for p in parts]
    for index, part in enumerate(parts, start=1):
        assert len(part.embed.description or "") <= 4096
        assert embed_size(part.embed) <= 6000
        assert len(part.cards) <= 25
        assert (part.embed.title or "").endswith(f"({index}/{len(parts)})")


def test_many_short_headlines_are_split_by_the_button_limit() -> None:
    cards = [make_card(id=i, title=f"S{i}", summary="Short.") for i in range(30)]
    parts = digest_parts(cards, None)
    assert [len(p.cards) for p in parts] == [25, 5]
    assert [len(digest_view(p.cards).children) for p in parts] == [25, 5]


def test_an_empty_digest_is_one_message() -> None:
    [part] = digest_parts([], None)
    assert part.cards == () and part.embed.description == "No new stories this time."


# -- answers -------------------------------------------------------------------------------------


def test_an_answer_says_how_it_was_found_and_fits_a_message() -> None:
    answer = Answer("Exporters of *advanced* chips.", "faq")
    assert answer_text("Who is affected?", answer) == (
        "**Q:** Who is affected?\nExporters of \\*advanced\\* chips.\n-# From the card"
    )
    long = Answer(
        sentences(300), "extractive", quotes=(Quote("A quote."), Quote("B."), Quote("C."))
    )
    text = answer_text("Why?", long)
    assert len(text) <= 2000
    assert text.endswith("> A quote.\n> B.\n-# From the article (quoted)")
    assert re.search(r"word\.\n> A quote", text)  # the answer was cut after a sentence


@pytest.mark.parametrize("method", ["why_it_matters", "model", "not_covered"])
def test_every_answer_method_has_an_origin_line(method: str) -> None:
    text = answer_text("Q?", Answer("A.", method))
    assert text.splitlines()[-1].startswith("-# ") and len(text.splitlines()[-1]) > 5


def test_a_feed_with_a_huge_title_cannot_push_a_digest_past_its_limits() -> None:
    cards = [make_card(id=1, source="Feed " * 1_000), make_card(id=2), make_card(id=3)]
    parts = digest_parts(cards, None)
    assert [c.id for p in parts for c in p.cards] == [1, 2, 3]
    for part in parts:
        assert len(part.embed.description or "") <= 4096 and embed_size(part.embed) <= 6000
