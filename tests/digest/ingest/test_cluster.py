"""StoryIndex: which story a new article joins. Timing is measured elsewhere, never asserted."""

from __future__ import annotations

import unicodedata

import pytest

from digest.ingest import cluster as cluster_module
from digest.ingest.cluster import BOILERPLATE_STORIES, SHORT_HEAD, TEXT_WORDS, StoryIndex
from digest.store.repository import StoryMatcher

WIRE = (
    "Emergency crews worked through the night on Tuesday to restore power to more than forty "
    "thousand homes after a storm brought down lines across the northern coast, the regional "
    "utility said. Winds of up to 120 kilometres an hour uprooted trees and closed two "
    "motorways, and the ferry service to the islands was suspended until Wednesday morning. "
    "The utility said most customers should have electricity again by the evening, but warned "
    "that remote villages could wait until the weekend."
)
# The same wire story as another outlet ran it: a few words changed, a sentence added.
WIRE_EDITED = (
    "Emergency crews worked through the night on Tuesday to restore electricity to more than "
    "forty thousand homes after a storm brought down lines across the northern coast, the "
    "regional utility said on Wednesday. Winds of up to 120 kilometres an hour uprooted trees "
    "and shut two motorways, and the ferry service to the islands was suspended until "
    "Wednesday morning. Schools in three districts stayed closed."
)
OTHER = (
    "The central bank held its main interest rate at four per cent on Thursday, saying "
    "inflation had eased faster than expected but that wage growth remained too strong for "
    "a cut. Two members of the committee voted for a reduction of a quarter point."
)


def index_with(*articles: tuple[int, int, str, str]) -> StoryIndex:
    index = StoryIndex()
    for story_id, feed_id, title, text in articles:
        index.add(story_id, feed_id, title, text)
    return index


def test_satisfies_the_repository_protocol() -> None:
    matcher: StoryMatcher = StoryIndex()
    assert matcher.find(1, "anything", "") is None


def test_empty_index() -> None:
    assert StoryIndex().find(1, "Central bank raises interest rates to 5%", OTHER) is None
    assert len(StoryIndex()) == 0


def test_reworded_title_is_the_same_story() -> None:
    index = index_with((10, 1, "Central bank raises interest rates to 5%", ""))
    assert index.find(2, "Interest rates raised to 5% by central bank", "") == 10


def test_same_words_different_product_are_different_stories() -> None:
    # "new" is a stopword, so these share only "apple" and "unveil": too few.
    index = index_with((10, 1, "Apple unveils new iPhone", ""))
    assert index.find(2, "Apple unveils new iPad", "") is None
    # Four of six tokens shared, but each names a product the other does not: a conflict.
    # Merging would hide one launch from readers.
    index = index_with((10, 1, "Apple unveils iPhone 17 at September event", ""))
    assert index.find(2, "Apple unveils iPad at September event", "") is None
    assert index.find(2, "Apple Unveils iPad At September Event", "") is None  # Title Case
    assert index.find(2, "At its September event, Apple unveils the iPhone 17", "") == 10


def test_conflicting_names_or_numbers_are_different_stories() -> None:
    index = index_with(
        (10, 1, "Magnitude 6.1 earthquake strikes northern Japan", ""),
        (11, 1, "Man Utd beat Chelsea 2-1 in cup semi-final", ""),
    )
    assert index.find(2, "Magnitude 6.1 earthquake strikes northern Chile", "") is None
    assert index.find(2, "Man Utd beat Arsenal 2-1 in cup semi-final", "") is None
    assert index.find(2, "Northern Japan struck by magnitude 6.1 earthquake", "") == 10


def test_plurals_and_tenses_fold() -> None:
    index = index_with((10, 1, "Storm batters coast, thousands without power", ""))
    assert index.find(2, "Thousands lose power as storm batters the coast", "") == 10


def test_two_articles_of_one_feed_are_two_stories() -> None:
    index = index_with((10, 1, "Central bank raises interest rates to 5%", WIRE))
    assert index.find(1, "Central bank raises interest rates to 5%", WIRE) is None


def test_a_story_that_already_has_the_feed_is_skipped() -> None:
    index = index_with(
        (10, 1, "Central bank raises interest rates to 5%", ""),
        (10, 2, "Interest rates raised to 5% by central bank", ""),
    )
    assert index.find(2, "Central bank raises interest rates to 5%", "") is None
    assert index.find(3, "Central bank raises interest rates to 5%", "") == 10


def test_any_article_of_a_story_can_match() -> None:
    index = index_with(
        (10, 1, "Storm cuts power to forty thousand homes", ""),
        (10, 2, "Northern coast motorways closed as winds hit 120 km/h", ""),
    )
    assert index.find(3, "Winds hit 120 km/h, northern coast motorways closed", "") == 10


def test_syndicated_text_with_a_new_headline_is_the_same_story() -> None:
    index = index_with((10, 1, "Storm leaves 40,000 homes without power", WIRE))
    assert index.find(2, "Crews race to restore power after coastal storm", WIRE_EDITED) == 10


def test_teaser_of_the_same_wire_story_matches_the_full_text() -> None:
    teaser = " ".join(WIRE.split()[:25])
    index = index_with((10, 1, "Storm leaves 40,000 homes without power", WIRE))
    assert index.find(2, "Power cut after storm on the coast", teaser) == 10


def test_similar_text_needs_two_shared_title_tokens() -> None:
    index = index_with((10, 1, "Storm leaves 40,000 homes without power", WIRE))
    assert index.find(2, "Weekly digest", WIRE_EDITED) is None


def test_unrelated_articles_stay_apart() -> None:
    index = index_with((10, 1, "Storm leaves 40,000 homes without power", WIRE))
    assert index.find(2, "Central bank holds rates at four per cent", OTHER) is None


def test_boilerplate_text_does_not_merge_stories() -> None:
    notice = (
        "This article is available to subscribers only. Subscribe today for unlimited access "
        "to award-winning journalism, the daily newsletter and our archive of past editions."
    )
    titles = [
        "Harbour festival dates announced",
        "New library opens on Mill Street",
        "Council budget passes after long debate",
        "School meals price to rise in autumn",
        "Bus route 7 to be withdrawn",
        "Lighthouse reopens to visitors",
        "Fishing quota row goes to court",
    ]
    assert len(titles) > BOILERPLATE_STORIES
    index = index_with(*((i, 1, t, notice) for i, t in enumerate(titles)))
    # Shares two title tokens with story 0 and the whole text with every story: a new story.
    assert index.find(2, "Harbour festival tickets sell out", notice) is None
    # With the notice in fewer stories that would have been a text match.
    assert (
        index_with((0, 1, titles[0], notice)).find(2, "Harbour festival tickets sell out", notice)
        == 0
    )
    # And even then a title sharing a single token is not enough.
    assert index_with((0, 1, titles[0], notice)).find(2, "Harbour ferry fares rise", notice) is None


def test_best_scoring_story_wins() -> None:
    index = index_with(
        (10, 1, "Central bank raises interest rates to 5%", ""),
        (11, 3, "Central bank raises interest rates to 5% as inflation stays high", ""),
    )
    assert index.find(2, "Central bank raises interest rates to 5%", "") == 10


def test_short_titles_do_not_match_on_two_words() -> None:
    index = index_with((10, 1, "Markets rally", ""))
    assert index.find(2, "Markets rally", "") is None  # fewer than three meaningful tokens


def test_odd_input_does_not_crash() -> None:
    index = index_with(
        (10, 1, "", ""), (11, 1, "!!! ??? ...", "\x00\u200b"), (12, 1, "日本語のニュース", "")
    )
    assert index.find(2, "", "") is None
    assert index.find(2, "日本語のニュース", "日本語 " * 100) is None
    assert len(index) == 3


def test_shared_tokens_may_be_the_commonest_ones() -> None:
    # find() counts the smallest postings in full and the biggest only where they meet those:
    # a story sharing only the query's most common tokens must still be found.
    index = index_with(
        (10, 1, "council budget vote", ""),
        *((100 + i, 1, f"council budget vote story{i}", "") for i in range(40)),
        (11, 1, "harbour ferry", ""),
        (12, 1, "lighthouse ferry", ""),
    )
    assert index.find(2, "council budget vote harbour lighthouse", "") == 10
    assert index.find(2, "council budget harbour lighthouse ferry", "") is None  # two each


def reference_words(text: str) -> list[str]:
    """The first words as _shingles defines them, read from the whole window at once."""
    head = unicodedata.normalize("NFKC", text[: TEXT_WORDS * 30]).casefold()
    return cluster_module._WORD.findall(head)[:TEXT_WORDS]


@pytest.mark.parametrize(
    "tail",
    [
        "e\u0301tude",  # a combining accent right after the cut composes with the letter before
        ".continued",  # "word.continued" is one word
        "’s end",
        " ﬁnal",  # NFKC expands the ligature
        "ß" * 10,  # casefold expands it
    ],
)
@pytest.mark.parametrize("offset", range(-3, 4))
def test_first_words_read_a_short_window_exactly(tail: str, offset: int) -> None:
    # Words are read from a short window first; the result must be the long window's whatever
    # sits at the cut.
    words = " ".join(f"w{i:02d}" for i in range(200))
    cut = SHORT_HEAD + offset
    text = words[:cut] + tail + words[cut:]
    assert cluster_module._first_words(text) == reference_words(text)
    long_words = " ".join(f"verylongword{i:03d}" for i in range(150))  # only the long window
    assert cluster_module._first_words(long_words) == reference_words(long_words)
