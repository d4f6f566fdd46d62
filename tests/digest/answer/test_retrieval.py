"""BM25 over an article's sentences: ranking, the "does not cover" floor, trimming."""

from __future__ import annotations

import math

import pytest

from digest.answer.retrieval import (
    K1,
    MAX_PASSAGES,
    QUOTE_MAX_CHARS,
    B,
    SentenceIndex,
    stem,
    terms,
    trim,
    words,
)
from tests.digest.answer import ACME_ARTICLE, META_ARTICLE


@pytest.fixture(scope="module")
def meta() -> SentenceIndex:
    return SentenceIndex(META_ARTICLE)


@pytest.fixture(scope="module")
def acme() -> SentenceIndex:
    return SentenceIndex(ACME_ARTICLE)


@pytest.mark.parametrize(
    ("question", "expected_start"),
    [
        ("Did Meta say it would appeal?", "The company said it would appeal"),
        ("What did Max Schrems say?", "Privacy campaigner Max Schrems"),
        ("What are standard contractual clauses?", "Thousands of businesses rely"),
        ("When must Meta delete the data?", "Meta was ordered to suspend"),
        ("Will Facebook users notice anything?", "Facebook users in Europe"),
        ("Who started the case?", "Privacy campaigner Max Schrems"),
        ("What is the new transatlantic framework?", "Negotiators in Brussels"),
        ("How does the fine compare with Amazon's?", "The penalty is the largest"),
    ],
)
def test_the_best_sentence_comes_first(
    meta: SentenceIndex, question: str, expected_start: str
) -> None:
    found = meta.search(question)
    assert found.covered
    best = max(found.passages, key=lambda p: p.score)
    assert best.text.startswith(expected_start)


@pytest.mark.parametrize(
    ("question", "expected_start"),
    [
        ("why did the CEO resign?", "Acme Robotics said on Tuesday"),  # CEO = chief executive
        ("who will run the company?", "Finance chief Maria Lopez"),
        ("how far did the shares fall?", "Shares in Acme fell 14%"),  # fell -> fall
        ("what will happen to the share sale?", "Analysts at Northfield"),
        ("who is the auditor?", "The review was ordered in March"),
    ],
)
def test_acme_questions(acme: SentenceIndex, question: str, expected_start: str) -> None:
    found = acme.search(question)
    assert found.covered
    assert max(found.passages, key=lambda p: p.score).text.startswith(expected_start)


@pytest.mark.parametrize(
    "question",
    [
        "What is the weather in Dublin?",
        "How many employees does Meta have in Brazil?",  # "Meta" is everywhere; Brazil nowhere
        "Is Meta's stock price falling?",
        "What happened?",  # no content word left after the stopwords
        "🔥🔥🔥",
        "?!" * 150,
        "これは何ですか",
        "",
    ],
)
def test_questions_the_article_does_not_cover(meta: SentenceIndex, question: str) -> None:
    found = meta.search(question)
    assert not found.covered
    assert found.passages == ()


def test_passages_come_in_article_order_and_at_most_three(meta: SentenceIndex) -> None:
    found = meta.search("Meta data transfers United States Europe court appeal fine", limit=10)
    indexes = [p.index for p in found.passages]
    assert 1 <= len(indexes) <= max(MAX_PASSAGES, 10)
    assert indexes == sorted(indexes)
    assert len(meta.search("Meta data transfers United States appeal fine").passages) <= 3


def test_weak_tagalongs_are_left_out(meta: SentenceIndex) -> None:
    # One sentence names Schrems; the others share only "said" with the question.
    found = meta.search("What did Max Schrems say?")
    assert [p.text[:20] for p in found.passages] == ["Privacy campaigner M"]


def test_bm25_matches_the_formula_on_a_tiny_corpus() -> None:
    index = SentenceIndex("Rates rose sharply. Rates fell. Banks cut rates again and again.")
    found = index.search("banks", limit=1)
    n, df = 3, 1
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    lengths = [len(terms(s)) for s in index.sentences]
    avg = sum(lengths) / n
    expected = idf * (K1 + 1) / (1 + K1 * (1 - B + B * lengths[2] / avg))
    assert found.passages[0].score == pytest.approx(expected)


def test_a_shorter_sentence_wins_a_tie_on_terms() -> None:
    index = SentenceIndex(
        "The council approved the budget. "
        "After a long debate that ran past midnight and several amendments about parks, "
        "roads, schools and libraries, the council finally approved the budget."
    )
    found = index.search("council budget", limit=1)
    assert found.passages[0].index == 0


def test_an_empty_article_covers_nothing() -> None:
    for text in ("", "   \n\n ", "<p></p>"):
        assert not SentenceIndex(text).search("what happened to the budget?").covered


def test_html_leftovers_are_cleaned_before_indexing() -> None:
    index = SentenceIndex("<p>The vote passed 52&ndash;48.</p><p>Turnout was low.</p>")
    assert index.sentences == ("The vote passed 52–48.", "Turnout was low.")


def test_a_huge_sentence_is_trimmed_around_the_matched_words() -> None:
    filler = "lorem ipsum dolor sit amet " * 60
    sentence = f"{filler}the reactor will restart in October {filler}".strip() + "."
    index = SentenceIndex(sentence)
    found = index.search("when will the reactor restart?")
    assert found.covered
    quote = found.passages[0].text
    assert len(quote) <= QUOTE_MAX_CHARS + 2
    assert "the reactor will restart in October" in quote
    assert quote.startswith("…") and quote.endswith("…")
    assert quote.strip("…") in sentence


def test_trim_leaves_short_sentences_alone_and_cuts_at_a_clause_without_hits() -> None:
    assert trim("Short one.", {"short"}) == "Short one."
    long = "Officials said the plan, which was drafted in secret, " + "would cost more " * 40
    cut = trim(long, set(), limit=80)
    assert len(cut) <= 82 and cut.endswith("…")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("happens", "happen"),
        ("happened", "happen"),
        ("happening", "happen"),
        ("involved", "involv"),
        ("involve", "involv"),
        ("stopped", "stop"),
        ("falling", "fall"),
        ("fell", "fall"),
        ("companies", "company"),
        ("resignation", "resign"),
        ("news", "news"),
        ("status", "status"),
        ("said", "say"),
        ("impacted", "affect"),
        ("2024", "2024"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_words_fold_case_accents_and_contractions() -> None:
    assert words("Why doesn’t it MATTER für Café?") == [
        "why",
        "does",
        "not",
        "it",
        "matter",
        "fur",
        "cafe",
    ]
    assert words("東京電力") == ["東京", "京電", "電力"]  # CJK: bigrams
