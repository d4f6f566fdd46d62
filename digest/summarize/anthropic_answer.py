"""Grounded answers to readers' follow-up questions, with one Claude request.

Built once by the composition root (``ClaudeAnswerer(client, model=model_for(settings),
meter=budget)``) and called by the answer engine, for questions that neither the card's
why-it-matters nor its FAQ answer, through ``ModelAnswerer.answer``.

The request carries a fixed system prompt, the story (the card's title, source and summary,
and the article text) and the reader's question, both as delimited, untrusted data
(``digest.summarize.prompts.answer_request``); no tools; the answer constrained to
``{answer, covered, quotes}``. ``digest.summarize.validate.parse_answer`` then keeps the
answer plain text, refuses any link other than the card's own articles (or their hosts),
and drops every quote that is not word for word in the article. The engine
(``digest.answer.engine``) then checks the answer's facts against the article.

Spend: with a ``meter`` (the daily budget), each reply is recorded as soon as it arrives,
before it is checked, so a reply that is then rejected is counted too. Asking the budget
before the request is the question service's job (it withholds the model past the budget).

Raises ``ModelError`` when the API fails (after the SDK's retries) and ``RejectedAnswer``
(an ``InvalidModelOutput``, carrying the reply's ``usage``) when the answer is cut off,
refused, malformed or carries a foreign link: the caller falls back to extractive answers.
There is no retry here: a reader is waiting.
"""

from __future__ import annotations

from dataclasses import replace

import anthropic

from digest.errors import InvalidModelOutput
from digest.models import Card, ModelAnswer, Usage
from digest.ports import SpendMeter
from digest.summarize import prompts, validate
from digest.summarize.anthropic_client import Reply, request_json

# An answer is at most ~600 characters of JSON; the rest is room for thinking.
ANSWER_MAX_TOKENS = 2_048
_CUT_OFF = frozenset({"max_tokens", "model_context_window_exceeded"})


class RejectedAnswer(InvalidModelOutput):
    """A paid reply that is not a usable answer; ``usage`` is what it cost (the question's
    record shows it, although the reader gets the extractive answer)."""

    def __init__(self, message: str, usage: Usage) -> None:
        super().__init__(message)
        self.usage = usage


class ClaudeAnswerer:
    """A ``ModelAnswerer`` backed by Claude."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        model: str,
        meter: SpendMeter | None = None,
        max_tokens: int = ANSWER_MAX_TOKENS,
    ) -> None:
        self._client = client
        self._model = model
        self._meter = meter
        self._max_tokens = max_tokens

    @property
    def model(self) -> str:
        return self._model

    async def answer(self, card: Card, article_text: str, question: str) -> ModelAnswer:
        """Answer ``question`` about ``card`` from ``article_text`` alone, with its cost."""
        reply = await request_json(
            self._client,
            model=self._model,
            system=prompts.ANSWER_SYSTEM_PROMPT,
            user=prompts.answer_request(card, article_text, question),
            schema=prompts.ANSWER_SCHEMA,
            max_tokens=self._max_tokens,
        )
        if self._meter is not None:
            # Counted before anything can discard the reply: a rejected answer was paid for.
            self._meter.record(reply.usage, purpose="answer")
        try:
            parsed = _parse(reply, card, article_text)
        except InvalidModelOutput as e:
            raise RejectedAnswer(str(e), reply.usage) from e
        return replace(parsed, usage=reply.usage)


def _parse(reply: Reply, card: Card, article_text: str) -> ModelAnswer:
    """The checked answer in ``reply``. Raises ``InvalidModelOutput``."""
    if reply.stop_reason in _CUT_OFF:
        raise InvalidModelOutput("the answer was cut off before the JSON ended")
    if reply.stop_reason == "refusal":
        raise InvalidModelOutput("the model declined to answer")
    # Links: only the card's own articles, or their hosts, as on cards. Not the article's
    # other links: an article that asks for its link to be "added" must not get it added.
    links = [card.url, *(s.url for s in card.sources)]
    # Quotes are checked against the text the model was shown (invisible characters and
    # delimiter look-alikes removed).
    return validate.parse_answer(
        reply.text, article_text=prompts.neutralize(article_text), allowed_links=links
    )
