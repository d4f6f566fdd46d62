"""The offline card engine: card rules on every bundled sample entry, and on bad input."""

from __future__ import annotations

import html
import io
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from digest.config import DEFAULT_CATEGORIES
from digest.models import Article, CardDraft, Story
from digest.ports import CardEngine
from digest.summarize.offline import TAKEAWAY_MAX, OfflineEngine
from digest.summarize.sentences import split_sentences
from digest.summarize.taxonomy import classify

SAMPLES = Path(__file__).parents[3] / "digest" / "samples"
WHEN = datetime(2026, 11, 3, 9, 15, tzinfo=UTC)


def article(
    text: str,
    title: str = "A headline",
    *,
    id: int = 1,
    source: str = "Example News",
    published: datetime | None = WHEN,
) -> Article:
    return Article(
        id=id,
        feed_id=id,
        entry_id=f"entry-{id}",
        url=f"https://example.com/{id}",
        title=title,
        author=None,
        published_at=published,
        text=text,
        image_url=None,
        story_id=1,
        source_name=source,
    )


def story(*articles: Article, title: str | None = None) -> Story:
    head = title if title is not None else (articles[0].title if articles else "")
    return Story(id=1, title=head, created_at=WHEN, articles=articles)


def plain(markup: str) -> str:
    """Roughly what ingest stores: paragraphs as blank lines, tags gone, entities decoded."""
    text = re.sub(r"</p>\s*", "\n\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def sample_entries() -> list[tuple[str, Any]]:
    found = []
    for path in sorted(SAMPLES.glob("*.xml")):
        parsed = feedparser.parse(io.BytesIO(path.read_bytes()))
        assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
        for entry in parsed.entries:
            found.append((str(parsed.feed.title), entry))
    return found


def sample_article(feed_title: str, entry: Any, id: int = 1) -> Article:
    markup = entry.content[0].value if "content" in entry else entry.summary
    published = datetime(*entry.published_parsed[:6], tzinfo=UTC)
    return article(plain(markup), entry.title, id=id, source=feed_title, published=published)


ENTRIES = sample_entries()
ENGINE = OfflineEngine(DEFAULT_CATEGORIES)


def normal(text: str) -> str:
    return " ".join(text.split())


def card_sentences(card: CardDraft) -> list[str]:
    return [
        *split_sentences(card.summary),
        *card.takeaways,
        card.why_it_matters,
        *(item.answer for item in card.faq),
    ]


def grounded(card: CardDraft) -> list[str]:
    """The card's sentences that must be quoted from the text (not the neutral "why" line)."""
    neutral = card.why_it_matters.startswith(("Filed under", "The source does not spell out"))
    return [s for s in card_sentences(card) if not (neutral and s == card.why_it_matters)]


def assert_card_rules(card: CardDraft, categories: tuple[str, ...] = DEFAULT_CATEGORIES) -> None:
    assert card.engine == "offline"
    assert card.language is None
    assert card.category in categories
    assert 2 <= len(split_sentences(card.summary)) <= 4, card.summary
    assert "\n" not in card.summary
    assert len(card.takeaways) == 3
    assert len(set(card.takeaways)) == 3, card.takeaways
    for bullet in card.takeaways:
        assert bullet.strip() and len(bullet) <= TAKEAWAY_MAX + 3, bullet
    assert card.why_it_matters.strip() and "\n" not in card.why_it_matters
    assert 2 <= len(card.faq) <= 4, card.faq
    assert len({item.question for item in card.faq}) == len(card.faq)
    assert len({item.answer for item in card.faq}) == len(card.faq)
    assert all(item.question.endswith("?") and item.answer.strip() for item in card.faq)


# -- the samples -------------------------------------------------------------------------------


def test_samples_are_what_the_demo_needs() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.xml")) == [
        "science-daily-sample.xml",
        "tech-wire.xml",
        "world-desk.xml",
    ]
    assert len(ENTRIES) == 18
    for feed_title, entry in ENTRIES:
        assert "sample" in feed_title.lower()
        assert re.match(r"https://example\.(com|net|org)/", entry.link)
        assert entry.published_parsed[:2] == (2026, 11)
        assert entry.get("author")
        assert len(sample_article(feed_title, entry).text) >= 800, entry.title
        assert 6 <= len(split_sentences(sample_article(feed_title, entry).text)) <= 12
    images = [e for _, e in ENTRIES if e.get("media_content") or e.get("enclosures")]
    assert len(images) >= 5
    for entry in images:
        urls = [m["url"] for m in entry.get("media_content", [])]
        urls += [e["href"] for e in entry.get("enclosures", [])]
        assert all(re.match(r"https://example\.(com|net|org)/", u) for u in urls)


@pytest.mark.parametrize(("feed_title", "entry"), ENTRIES, ids=[e.title[:40] for _, e in ENTRIES])
def test_card_rules_hold_for_every_sample_entry(feed_title: str, entry: Any) -> None:
    source = sample_article(feed_title, entry)
    card = ENGINE.build_card(story(source))
    assert_card_rules(card)
    # Extractive: every sentence on the card is the article's own (trimmed ones are prefixes).
    body = normal(source.text)
    for sentence in grounded(card):
        assert normal(sentence).rstrip('…"”') in body, sentence
    # A sample has enough sentences that none needs to appear twice on the card.
    seen = [normal(s).rstrip('.…"”') for s in card_sentences(card)]
    assert len(seen) == len(set(seen)), seen


SHARED = {
    "Stratocloud": 2,
    "trawling": 2,
    "RSV": 2,
    "sodium-ion": 3,
}


@pytest.mark.parametrize(("keyword", "count"), SHARED.items())
def test_stories_covered_by_several_sample_feeds(keyword: str, count: int) -> None:
    matching = [(f, e) for f, e in ENTRIES if keyword.lower() in e.title.lower()]
    assert len(matching) == count
    arts = tuple(sample_article(f, e, id=i + 1) for i, (f, e) in enumerate(matching))
    card = ENGINE.build_card(story(*arts))
    assert_card_rules(card)
    everything = " ".join(normal(a.text) for a in arts)
    for sentence in grounded(card):
        assert normal(sentence).rstrip('…"”') in everything, sentence


def test_sample_categories_are_varied() -> None:
    cards = {e.title: ENGINE.build_card(story(sample_article(f, e))) for f, e in ENTRIES}
    categories = {c.category for c in cards.values()}
    assert len(categories) >= 6, categories
    by_title = {title[:20]: card.category for title, card in cards.items()}
    assert by_title["LockLedger password "] == "Security"
    assert by_title["Port Amsel Rovers wi"] == "Sports"
    assert by_title["Kestrel Semiconducto"] == "Business"
    assert by_title["Valdorian parliament"] == "Policy"


def test_cards_are_deterministic_across_processes() -> None:
    """Same input, same card — also under another hash seed, where set order differs."""
    arts = tuple(sample_article(f, e, id=i + 1) for i, (f, e) in enumerate(ENTRIES[:3]))
    here = [asdict(ENGINE.build_card(story(a))) for a in arts]
    assert here == [asdict(ENGINE.build_card(story(a))) for a in arts]
    script = (
        "import json, sys\n"
        "from dataclasses import asdict\n"
        "from tests.digest.summarize.test_offline import ENTRIES, ENGINE, sample_article, story\n"
        "arts = [sample_article(f, e, id=i + 1) for i, (f, e) in enumerate(ENTRIES[:3])]\n"
        "print(json.dumps([asdict(ENGINE.build_card(story(a))) for a in arts]))\n"
    )
    root = Path(__file__).parents[3]
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, check=True
        )
        assert json.loads(out.stdout) == json.loads(json.dumps(here))


async def test_make_card_is_the_async_face_of_build_card() -> None:
    engine: CardEngine = OfflineEngine(DEFAULT_CATEGORIES)
    source = sample_article(*ENTRIES[0])
    assert engine.name == "offline"
    assert await engine.make_card(story(source)) == ENGINE.build_card(story(source))


# -- degenerate input ---------------------------------------------------------------------------


def test_title_only_article() -> None:
    card = ENGINE.build_card(story(article("", "Harbour bridge closes for repairs")))
    assert_card_rules(card)
    assert card.summary.startswith("Harbour bridge closes for repairs.")
    assert "Example News published this report on 3 November 2026." in card.summary
    assert "Harbour bridge closes for repairs." in card.takeaways


def test_title_only_without_source_or_date() -> None:
    bare = article("", "Quiet day", source="", published=None)
    assert_card_rules(ENGINE.build_card(story(bare)))


def test_story_without_articles_or_title() -> None:
    card = ENGINE.build_card(Story(id=9, title="", created_at=WHEN))
    assert_card_rules(card)
    assert card.category == "General"


def test_one_sentence_article() -> None:
    text = "The Harwick city council voted 9 to 2 on Tuesday to close the old harbour bridge."
    card = ENGINE.build_card(story(article(text, "Council votes to close bridge")))
    assert_card_rules(card)
    assert card.summary.startswith(text)
    assert text in card.takeaways


def test_two_sentence_article_keeps_the_why_sentence_grounded() -> None:
    text = (
        "The Harwick city council voted on Tuesday to close the old harbour bridge.\n\n"
        "The closure could affect 20,000 commuters because there is no other crossing."
    )
    card = ENGINE.build_card(story(article(text, "Council votes to close bridge")))
    assert_card_rules(card)
    assert card.why_it_matters == (
        "The closure could affect 20,000 commuters because there is no other crossing."
    )


def test_no_cue_gives_a_neutral_why_from_category_and_title() -> None:
    text = (
        "The striker scored twice in the league match on Saturday. The team won 3-1 at home. "
        "The coach praised the players. The stadium was full."
    )
    card = ENGINE.build_card(story(article(text, "Rovers beat Athletic")))
    assert card.category == "Sports"
    assert card.why_it_matters.startswith("Filed under Sports.")
    assert card.why_it_matters.endswith("Rovers beat Athletic.")


def test_hundred_kilobytes_of_text() -> None:
    paragraphs = [
        f"Report {i} says the council spent {i * 3} million euros on project {i} in Harwick. "
        f"Officials said phase {i} would finish by 2028 because funding was approved."
        for i in range(700)
    ]
    text = "\n\n".join(paragraphs)
    assert len(text) > 100_000
    started = time.perf_counter()
    card = ENGINE.build_card(story(article(text, "Council spending report")))
    assert time.perf_counter() - started < 2.0
    assert_card_rules(card)


def test_hundred_kilobytes_without_any_punctuation() -> None:
    text = " ".join(f"word{i}" for i in range(15_000))
    card = ENGINE.build_card(story(article(text, "A very long feed item")))
    assert_card_rules(card)
    assert len(card.summary) < 1_000


def test_html_leftovers_markup_and_mentions_stay_plain_text() -> None:
    text = (
        "<p>The mayor of Harwick &amp; her deputy announced a new ferry line on Monday.</p>"
        "<script>alert('x')</script>"
        "<p>@everyone the **first** ferry will sail on 1 December, officials said.</p>"
        "<p>Tickets will cost 4 euros, and the service could cut commuting times by half.</p>"
    )
    card = ENGINE.build_card(story(article(text, "New ferry line for Harwick")))
    assert_card_rules(card)
    everything = " ".join(card_sentences(card))
    assert "<p>" not in everything and "alert" not in everything and "&amp;" not in everything
    assert "Harwick & her deputy" in card.summary
    assert "@everyone the **first** ferry" in everything  # escaping is the platforms' job


def test_boilerplate_and_repeated_headline_are_skipped() -> None:
    text = (
        "New ferry line for Harwick\n\n"
        "The mayor of Harwick announced a new ferry line on Monday. Tickets will cost 4 euros.\n\n"
        "Read more: https://example.com/ferry\n\n"
        "The post New ferry line appeared first on Example News."
    )
    card = ENGINE.build_card(story(article(text, "New ferry line for Harwick")))
    assert_card_rules(card)
    everything = " ".join(card_sentences(card))
    assert "Read more" not in everything and "appeared first" not in everything
    assert card.summary.startswith("The mayor of Harwick announced")


def test_german_text_is_kept_in_its_language() -> None:
    text = (
        "Der Stadtrat von Hafenberg hat am Dienstag den Bau einer neuen Brücke beschlossen. "
        "Die Brücke soll 48 Millionen Euro kosten und im Jahr 2029 fertig sein. "
        "Bürgermeisterin Anna Keller sagte, die Brücke sei für den Verkehr dringend nötig. "
        "Kritiker warnen, weil die Kosten weiter steigen könnten. "
        "Die Bauarbeiten werden im Frühjahr beginnen."
    )
    card = ENGINE.build_card(story(article(text, "Hafenberg baut neue Brücke")))
    assert_card_rules(card)
    assert card.language is None
    body = normal(text)
    for sentence in card_sentences(card):
        assert normal(sentence).rstrip("…") in body
    assert "weil" in card.why_it_matters


def test_french_text_is_kept_in_its_language() -> None:
    text = (
        "Le conseil municipal de Portvallon a approuvé lundi la construction d'un nouveau tramway. "
        "Le projet coûtera 120 millions d'euros, selon M. Dupont, adjoint au maire. "
        "Les travaux commenceront en mars 2027 et devraient durer trois ans. "
        "Des commerçants craignent des pertes, parce que la rue principale sera fermée. "
        "La ligne transportera 40 000 voyageurs par jour."
    )
    card = ENGINE.build_card(story(article(text, "Portvallon aura son tramway")))
    assert_card_rules(card)
    assert "parce que" in card.why_it_matters
    body = normal(text)
    for sentence in card_sentences(card):
        assert normal(sentence).rstrip("…") in body


def test_cjk_text() -> None:
    text = (
        "東京都は新しい公園を開きました。公園は十万人が利用できます。市長は喜んでいると述べました。"
    )
    card = ENGINE.build_card(story(article(text, "東京に新しい公園")))
    assert_card_rules(card)
    assert card.summary.startswith("東京都は新しい公園を開きました。")


def test_other_sources_are_named_when_the_text_is_thin() -> None:
    lead = article("", "Harbour bridge closes", id=1, source="World Desk")
    other = article("", "Bridge shut in Harwick", id=2, source="City Wire")
    card = ENGINE.build_card(story(lead, other))
    assert_card_rules(card)
    assert "It was also reported by City Wire." in card.takeaways


# -- categories -------------------------------------------------------------------------------


def test_custom_taxonomy() -> None:
    categories = ("Business", "Policy", "Research", "Products", "Security")
    engine = OfflineEngine(categories)
    by_title = {e.title: engine.build_card(story(sample_article(f, e))) for f, e in ENTRIES}
    for card in by_title.values():
        assert_card_rules(card, categories)
    assert (
        by_title["LockLedger password manager discloses theft of encrypted vault backups"].category
        == "Security"
    )
    assert (
        by_title["Brightwater Observatory finds water vapour on a nearby rocky exoplanet"].category
        == "Research"
    )
    nothing = engine.build_card(story(article("Lorem ipsum dolor sit amet, consectetur.", "Lorem")))
    assert nothing.category == "Security"  # no "General" configured: the last category


def test_categories_outside_the_lexicon_match_by_their_name() -> None:
    categories = ("Gardening", "Cooking", "Misc")
    title = "Tomato growers share gardening tips"
    text = "Gardeners say the gardening season starts early. Cooking comes later."
    assert classify(title, text, categories) == "Gardening"
    assert classify("Nothing here", "Nothing at all.", categories) == "Misc"


def test_classify_ties_go_to_the_first_configured_category() -> None:
    assert classify("Election", "", ("Policy", "Politics")) == "Policy"
    assert classify("Election", "", ("Politics", "Policy")) == "Politics"


def test_general_is_found_in_any_case() -> None:
    assert classify("Lorem", "Ipsum.", ("Sports", "general", "Culture")) == "general"


def test_engine_needs_categories() -> None:
    with pytest.raises(ValueError, match="category"):
        OfflineEngine(())


def test_a_syndicated_copy_adds_no_repeated_sentences() -> None:
    source = sample_article(*ENTRIES[0])
    copy = article(source.text, "Same story, other feed", id=2, source="Copy Wire")
    card = ENGINE.build_card(story(source, copy))
    assert_card_rules(card)
    seen = [normal(s).rstrip('.…"”') for s in grounded(card)]
    assert len(seen) == len(set(seen))
    assert "It was also reported by" not in " ".join(card.takeaways)  # the text was enough


def test_many_long_sources_stay_fast() -> None:
    arts = tuple(
        article(
            "\n\n".join(
                f"Source {n} line {i}: the Harwick council approved plan {i * 7 + n} on Monday."
                for i in range(1_500)
            ),
            f"Council approves plans {n}",
            id=n + 1,
            source=f"Wire {n}",
        )
        for n in range(8)
    )
    started = time.perf_counter()
    card = ENGINE.build_card(story(*arts))
    assert time.perf_counter() - started < 3.0
    assert_card_rules(card)
