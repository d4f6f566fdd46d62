"""Question routing: why-it-matters paraphrases, FAQ matches, and everything else."""

from __future__ import annotations

import dataclasses

import pytest

from digest.answer.routing import (
    FAQ_MIN_SIMILARITY,
    RouteKind,
    classify,
    faq_similarity,
    normalise_question,
)
from digest.models import FaqItem
from tests.digest.answer import ACME_CARD, META_CARD

WHY_IT_MATTERS = [
    "Why does this matter?",
    "why is this important",
    "So what?",
    "Why should I care?",
    "What's the significance?",
    "What does this mean for me?",
    "Why is this news?",
    "why does it matter",
    "Why's this important?",
    "why is this so important??",
    "WHY DOES THIS MATTER",
    "wy does this mater",  # typos
    "Why is this importnat?",
    "what is the signifcance of this",
    "whats the big deal",
    "Why should anyone care about this?",
    "How does this affect me?",
    "Why it matters?",
    "Is this important?",
    "what are the implications",
    "Why does this story matter to ordinary people?",
    "what's at stake here",
    "Can you explain why this matters?",
    "why is this relevant to me",
    "who cares?",
    "Ｗｈｙ ｄｏｅｓ ｔｈｉｓ ｍａｔｔｅｒ？",  # full-width forms: NFKC
    "  why\tdoes   this\nmatter ?!  ",
    "Why does this matter?\u200b",
    "why does this matter 🤔",
    "Why does the Meta fine matter?",  # the subject is the story itself (its title)
    "Warum ist das wichtig?",
    "Was bedeutet das für mich?",
    "Wieso ist das relevant?",
    "Pourquoi c'est important ?",
    "En quoi est-ce important ?",
    "¿Por qué es importante?",
    "¿Qué significa esto para mí?",
    "Perché è importante?",
    "Por que isso é importante?",
    "Waarom is dit belangrijk?",
]

NOT_WHY_IT_MATTERS = [
    "why did the CEO resign?",  # a "why", but about a cause, not the story's significance
    "Why did Meta move the data to the US?",
    "Why is the fine so large?",
    "Who is affected?",  # a concrete question of its own, often a FAQ item
    "What does GDPR mean?",  # a "mean" question about a term
    "Why is this happening?",
    "Why?",
    "So what did the regulator say?",  # "so what" opening a specific question
    "Does this matter for small businesses in Ohio?",  # specific audience, not in the title
    "What is the most important number here?",
    "Who cares for the patients?",
    "What's the meaning of standard contractual clauses?",
    "How does this affect prices?",
    "Warum ist der Chef zurückgetreten?",
    "Why did shares fall after the announcement?",
]


@pytest.mark.parametrize("question", WHY_IT_MATTERS)
def test_why_it_matters_paraphrases(question: str) -> None:
    assert classify(question, META_CARD).kind is RouteKind.WHY_IT_MATTERS


@pytest.mark.parametrize("question", NOT_WHY_IT_MATTERS)
def test_questions_that_are_not_why_it_matters(question: str) -> None:
    assert classify(question, META_CARD).kind is not RouteKind.WHY_IT_MATTERS


def test_the_ceo_question_is_open_on_a_card_about_the_ceo() -> None:
    # The title mentions the CEO and the resignation, so the title exception must not
    # apply: "why did ... resign" carries no significance cue at all.
    assert classify("why did the CEO resign?", ACME_CARD).kind is RouteKind.OPEN
    assert classify("Why does the CEO's resignation matter?", ACME_CARD).kind is (
        RouteKind.WHY_IT_MATTERS
    )


def test_a_title_word_is_not_corrected_into_a_cue() -> None:
    toy = dataclasses.replace(META_CARD, title="Mattel shares fall after toy recall")
    assert classify("why did Mattel shares fall?", toy).kind is RouteKind.OPEN


def test_a_card_without_why_it_matters_never_routes_there() -> None:
    bare = dataclasses.replace(META_CARD, why_it_matters="  ")
    assert classify("Why does this matter?", bare).kind is RouteKind.OPEN


# -- FAQ ------------------------------------------------------------------------------------

# (question asked, FAQ question it should match)
FAQ_MATCHES = [
    ("when will it happen", "When will this happen?"),
    ("When is this happening?", "When will this happen?"),
    ("when will this hapen", "When will this happen?"),
    ("what's next", "What happens next?"),
    ("What will happen next?", "What happens next?"),
    ("who's involved", "Who is involved?"),
    ("who are the people involved?", "Who is involved?"),
    ("how big is the fine", "How much is the fine?"),
    ("How much was the fine?", "How much is the fine?"),
    ("is meta going to appeal?", "Will Meta appeal the fine?"),
    ("Are users in the UK affected?", "Does the fine affect users in the UK?"),
    ("what are they doing about it", "What is being done about it?"),
    ("what is being done", "What is being done about it?"),
    ("Who else reported it?", "Who reported this?"),
    ("what were the key numbers", "What are the key numbers?"),
]
# Pairs that must not match even where they share a word or a wh-word.
FAQ_NON_MATCHES = [
    ("When will the ban start?", "When will this happen?"),
    ("What happened?", "When did this happen?"),
    ("Who is affected?", "Who is involved?"),
    ("What did Meta say?", "What did the regulator say?"),
    ("When will this happen and who pays for it?", "When will this happen?"),
    ("What is the fine for?", "How much is the fine?"),
    ("Why will Meta appeal?", "Will Meta appeal the fine?"),
    ("who is the CEO", "Who is involved?"),
    ("What happens to my data?", "What happens next?"),
    ("what does the regulator want", "What happens next?"),
]


@pytest.mark.parametrize(("asked", "faq_question"), FAQ_MATCHES)
def test_faq_matches(asked: str, faq_question: str) -> None:
    assert faq_similarity(asked, faq_question) >= FAQ_MIN_SIMILARITY


@pytest.mark.parametrize(("asked", "faq_question"), FAQ_NON_MATCHES)
def test_faq_non_matches(asked: str, faq_question: str) -> None:
    assert faq_similarity(asked, faq_question) < FAQ_MIN_SIMILARITY


def test_the_threshold_separates_the_tables_with_a_margin() -> None:
    lowest_match = min(faq_similarity(a, b) for a, b in FAQ_MATCHES)
    highest_miss = max(faq_similarity(a, b) for a, b in FAQ_NON_MATCHES)
    assert highest_miss + 0.05 <= FAQ_MIN_SIMILARITY <= lowest_match - 0.05


@pytest.mark.parametrize(
    ("question", "index"),
    [
        ("when will it happen", 0),
        ("Who's involved?", 1),
        ("what happens next?", 2),
        ("how big is the fine?", 3),
    ],
)
def test_classify_picks_the_matching_faq_item(question: str, index: int) -> None:
    route = classify(question, META_CARD)
    assert route.kind is RouteKind.FAQ
    assert route.faq_index == index
    assert route.similarity >= FAQ_MIN_SIMILARITY


def test_faq_items_without_an_answer_are_skipped() -> None:
    card = dataclasses.replace(META_CARD, faq=(FaqItem("When will this happen?", " "),))
    assert classify("when will it happen", card).kind is RouteKind.OPEN


def test_a_german_card_matches_its_german_faq() -> None:
    card = dataclasses.replace(
        META_CARD, faq=(FaqItem("Wann tritt die Regel in Kraft?", "Im Oktober."),)
    )
    route = classify("wann tritt die regel in kraft", card)
    assert route.kind is RouteKind.FAQ


# -- everything else ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Did Meta say it would appeal?",
        "What are standard contractual clauses?",
        "🔥🔥🔥",
        "?!" * 150,
        "これは何ですか",
        "Что это значит для Европы?",
        "a" * 5_000,
        "<b>hi</b> @everyone",
    ],
)
def test_other_questions_are_open(question: str) -> None:
    assert classify(question, META_CARD).kind is RouteKind.OPEN


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\u200b", "\x00\x01"])
def test_an_empty_question_is_a_value_error(question: str) -> None:
    with pytest.raises(ValueError, match="empty question"):
        classify(question, META_CARD)


def test_normalise_question() -> None:
    assert (
        normalise_question("  Ｗｈｙ\u00a0does\u200b this\r\nmatter？ ") == "Why does this matter?"
    )
    assert normalise_question("👩\u200d💻 why?") == "👩\u200d💻 why?"  # emoji sequences kept
