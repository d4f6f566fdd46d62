"""Answers a reader's follow-up question about a card: the platform-neutral core of #3 item 7.

The question service (which owns rate limits, the length cap, the answer cache and the
questions ledger) calls ``Answerer.respond`` once per question that got past those checks;
``digest ask`` reaches it the same way. The route decides the method:

===================  ==============================================================
route                answer
===================  ==============================================================
why it matters       ``card.why_it_matters``; no model call (method ``why_it_matters``)
close to a FAQ item  that item's answer; no model call (method ``faq``)
open, with a model   one ``ModelAnswerer`` call (``model``, or ``not_covered`` when the
                     model says the article does not cover it); on ``ModelError``, or
                     when the model's answer is not grounded (below), the extractive
                     answer
open, no model       the article's best BM25 sentences as quotes (``extractive``), or
                     ``not_covered`` when none scores high enough
===================  ==============================================================

A model's answer to a covered question is shown only when it is grounded like a card: at
least one of its quotes is article text word for word, and the claim check
(``digest.summarize.claims.unsupported_terms_in_text``) finds no number, date or name the
article does not support. Otherwise the reader gets the extractive answer and the log says
why. A "not covered" answer is our own fixed sentence, never the model's words.

``respond`` also says whether the answer is *final*, i.e. may be served again from the
answer cache: every answer is, except an extractive (or extractive "not covered") answer
that stood in for a model answer that failed or was refused; the next reader asking the
same question should get the model's answer once the model is back.

Answer texts are plain text: the platforms escape them. Quotes are always article text
(model quotes that are not found verbatim in the article are dropped), attributed to the
card's source. ``respond`` raises ``ValueError`` for an empty question and lets errors
other than ``ModelError`` from the model through (they are bugs, not outages); any other
text, however odd, gets an answer.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from digest.answer.retrieval import MAX_PASSAGES, QUOTE_MAX_CHARS, SentenceIndex
from digest.answer.routing import RouteKind, classify, normalise_question
from digest.errors import ModelError
from digest.models import Answer, Card, ModelAnswer, Quote, Usage
from digest.ports import ModelAnswerer
from digest.summarize import claims
from digest.summarize.sentences import clean_text, shorten

log = logging.getLogger(__name__)

WHY_IT_MATTERS = "why_it_matters"
FAQ = "faq"
MODEL = "model"
EXTRACTIVE = "extractive"
NOT_COVERED = "not_covered"
METHODS = frozenset({WHY_IT_MATTERS, FAQ, MODEL, EXTRACTIVE, NOT_COVERED})

NOT_COVERED_TEXT = "The article does not cover that question."
EXTRACTIVE_LEAD = "From the article:"
CARD_QUOTE_MIN_COVERAGE = 0.6  # a card answer gets a quote only when one sentence backs it
MIN_QUOTE_WORDS = 3  # a model "quote" of one or two words proves nothing
_SPACE = re.compile(r"\s+")
_QUOTE_MARKS = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "’": "'"})
# What a model puts around a quote: quotation marks and ellipses (not a final full stop).
_EDGES = re.compile(r"^[\s\"']*(?:…|\.\.\.)?\s*|\s*(?:…|\.\.\.)?[\s\"']*$")

# (answer text, source text) -> the terms of the answer the source does not support.
ClaimCheck = Callable[[str, str], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Answered:
    """What ``Answerer.respond`` found: the answer, whether it is *final* (may be served
    again from the answer cache; not a stand-in for a model answer that failed), and what
    the model call cost (``None``: no paid reply), also when its answer was not shown."""

    answer: Answer
    final: bool = True
    usage: Usage | None = None


class _Ungrounded(Exception):
    """The model's answer is not shown: it is not backed by the article."""


class Answerer:
    """Answers follow-up questions. Built once by the composition root and shared.

    ``quote_card_answers``: also attach the article sentences that support a why-it-matters
    or FAQ answer (retrieval over a cached index: tens of microseconds once built).
    ``index_cache_size``: how many articles' sentence indexes to keep; a card is usually
    asked about in bursts, and building an index costs a few milliseconds.
    ``claim_check``: finds the numbers, dates and names of a model's answer that the
    article does not support; ``None`` is ``claims.unsupported_terms_in_text`` (tests pass
    a scripted one).
    """

    def __init__(
        self,
        *,
        quote_card_answers: bool = True,
        index_cache_size: int = 32,
        claim_check: ClaimCheck | None = None,
    ) -> None:
        self._quote_card_answers = quote_card_answers
        self._cache_size = max(1, index_cache_size)
        self._indexes: OrderedDict[str, SentenceIndex] = OrderedDict()
        self._claim_check = claim_check

    async def answer(
        self,
        card: Card,
        article_text: str,
        question: str,
        *,
        model: ModelAnswerer | None,
    ) -> Answer:
        """Answer ``question`` about ``card`` from the card or from ``article_text``.

        ``respond`` without the cache verdict and the cost. Raises ``ValueError`` for an
        empty question; see the module docstring for the rest.
        """
        return (await self.respond(card, article_text, question, model=model)).answer

    async def respond(
        self,
        card: Card,
        article_text: str,
        question: str,
        *,
        model: ModelAnswerer | None,
    ) -> Answered:
        """Answer ``question`` about ``card``; say whether the answer is final and what the
        model cost. ``model`` is ``None`` when no model is configured: the extractive answer
        is then final. A caller withholding a configured model (the daily budget) passes one
        that raises ``ModelError`` instead, so the stand-in answer is not final.

        Raises ``ValueError`` for an empty question; see the module docstring for the rest.
        """
        text = normalise_question(question)
        route = classify(text, card)
        if route.kind is RouteKind.WHY_IT_MATTERS:
            return Answered(
                self._card_answer(card, article_text, card.why_it_matters, WHY_IT_MATTERS)
            )
        if route.kind is RouteKind.FAQ and route.faq_index is not None:
            item = card.faq[route.faq_index]
            return Answered(self._card_answer(card, article_text, item.answer, FAQ))
        if model is None:
            return Answered(self.extractive(card, article_text, text))
        try:
            result = await model.answer(card, article_text, text)
        except ModelError as e:
            # An outage must not cost the reader an answer: the extractive one is grounded
            # too, only blunter. It is not final: once the model is back, it answers.
            log.warning("model answer for card %s failed, answering extractively: %s", card.id, e)
            return Answered(
                self.extractive(card, article_text, text), final=False, usage=_usage_of(e)
            )
        try:
            answer = self._model_answer(card, article_text, result)
        except _Ungrounded as e:
            log.warning(
                "model answer for card %s not shown (%s), answering extractively", card.id, e
            )
            return Answered(
                self.extractive(card, article_text, text), final=False, usage=result.usage
            )
        return Answered(answer, usage=result.usage)

    def extractive(self, card: Card, article_text: str, question: str) -> Answer:
        """The best supporting sentences as quotes, or ``not_covered``. No model involved."""
        found = self._index(article_text).search(question, limit=MAX_PASSAGES)
        if not found.covered:
            return Answer(NOT_COVERED_TEXT, NOT_COVERED)
        quotes = tuple(Quote(p.text, card.source) for p in found.passages)
        body = "\n".join(f"“{q.text}”" for q in quotes)
        return Answer(f"{EXTRACTIVE_LEAD}\n{body}", EXTRACTIVE, quotes)

    def _card_answer(self, card: Card, article_text: str, text: str, method: str) -> Answer:
        quotes: tuple[Quote, ...] = ()
        if self._quote_card_answers and article_text.strip():
            # Only a close match is worth showing beside an answer we already have.
            found = self._index(article_text).search(text, limit=1)
            if found.covered and found.coverage >= CARD_QUOTE_MIN_COVERAGE:
                quotes = tuple(Quote(p.text, card.source) for p in found.passages)
        return Answer(text.strip(), method, quotes)

    def _model_answer(self, card: Card, article_text: str, result: ModelAnswer) -> Answer:
        """The answer to show for the model's ``result``. Raises ``_Ungrounded`` when the
        article does not back a covered answer."""
        if not result.covered:
            # Our sentence, not the model's: a "not covered" answer must not carry claims.
            return Answer(NOT_COVERED_TEXT, NOT_COVERED)
        text = result.text.strip()
        if not text:
            raise _Ungrounded("the answer is empty")
        quotes = verbatim_quotes(result.quotes, article_text)
        if not quotes:
            raise _Ungrounded("no quote from the article backs it")
        terms = self._unsupported(card, article_text, text)
        if terms:
            raise _Ungrounded(f"the article does not support: {', '.join(terms[:5])}")
        return Answer(text, MODEL, tuple(Quote(q, card.source) for q in quotes))

    def _unsupported(self, card: Card, article_text: str, text: str) -> tuple[str, ...]:
        # The model was shown the headline and the publishers' names besides the article
        # (not the card's model-written summary): it may name them.
        names = [card.source, *(s.name for s in card.sources)]
        grounds = "\n".join([card.title, *names, article_text])
        try:
            check = self._claim_check or claims.unsupported_terms_in_text
            return tuple(check(text, grounds))
        except Exception as e:
            # A bug in the checker must not put an unchecked answer in front of a reader.
            log.exception("card %s: the claim check failed on a model answer", card.id)
            raise _Ungrounded("the claim check failed") from e

    def _index(self, article_text: str) -> SentenceIndex:
        index = self._indexes.get(article_text)
        if index is None:
            index = self._indexes[article_text] = SentenceIndex(article_text)
            if len(self._indexes) > self._cache_size:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(article_text)
        return index


def _usage_of(error: ModelError) -> Usage | None:
    """What a failed model call cost: a rejected reply was paid for (``RejectedAnswer``
    carries its ``usage``); an API error was not."""
    usage = getattr(error, "usage", None)
    return usage if isinstance(usage, Usage) else None


def _comparable(text: str) -> str:
    """Whitespace collapsed, curly quotes made straight: lengths are kept by ``translate``."""
    return _SPACE.sub(" ", text.translate(_QUOTE_MARKS)).strip()


def verbatim_quotes(quotes: tuple[str, ...], article_text: str) -> list[str]:
    """The model's quotes that really are article text, as the article writes them.

    Whitespace, quotation-mark style, the case of letters and surrounding quotation marks
    or ellipses may differ (a model quoting mid-sentence capitalises); words may not.
    Duplicates go, at most ``MAX_PASSAGES`` are kept, and long ones are trimmed.
    """
    article = _comparable(clean_text(article_text))
    lowered = article.lower()
    same_length = len(lowered) == len(article)  # lower() can change length (rarely)
    out: list[str] = []
    for quote in quotes:
        wanted = _EDGES.sub("", _comparable(quote))
        if len(wanted.split()) < MIN_QUOTE_WORDS:
            continue
        at = lowered.find(wanted.lower())
        if at < 0:
            continue
        found = article[at : at + len(wanted)] if same_length else wanted
        if len(found) > QUOTE_MAX_CHARS:
            found = shorten(found, QUOTE_MAX_CHARS)
        if found not in out:
            out.append(found)
        if len(out) == MAX_PASSAGES:
            break
    return out
