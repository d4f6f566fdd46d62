"""Grounded answers to readers' follow-up questions, with one Claude request.

Built once by the composition root (``ClaudeAnswerer(build_client(settings),
model=model_for(settings))``) and called by the answer service, for questions that neither
the card's why-it-matters nor its FAQ answer, through ``ModelAnswerer.answer``.

The request carries a fixed system prompt, the story (the card's title, source and summary,
and the article text) and the reader's question, both as delimited, untrusted data
(``digest.summarize.prompts.answer_request``); no tools; the answer constrained to
``{answer, covered, quotes}``. ``digest.summarize.validate.parse_answer`` then keeps the
answer plain text, refuses links the article does not contain, and drops every quote that
is not word for word in the article.

Raises ``ModelError`` when the API fails (after the SDK's retries) and its subclass
``InvalidModelOutput`` when the answer is cut off, refused or malformed: the caller falls
back to extractive answers. There is no retry here: a reader is waiting.
"""

from __future__ import annotations

from dataclasses import replace

import anthropic

from digest.errors import InvalidModelOutput
from digest.models import Card, ModelAnswer
from digest.summarize import prompts, validate
from digest.summarize.anthropic_client import request_json

# An answer is at most ~600 characters of JSON; the rest is room for thinking.
ANSWER_MAX_TOKENS = 2_048


class ClaudeAnswerer:
    """A ``ModelAnswerer`` backed by Claude."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        model: str,
        max_tokens: int = ANSWER_MAX_TOKENS,
    ) -> None:
        self._client = client
        self._model = model
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
        if reply.stop_reason in ("max_tokens", "model_context_window_exceeded"):
            raise InvalidModelOutput("the answer was cut off before the JSON ended")
        if reply.stop_reason == "refusal":
            raise InvalidModelOutput("the model declined to answer")
        # Links in the answer may come from the article or be the article's own address.
        grounds = "\n".join([article_text, card.url, *(s.url for s in card.sources)])
        # Quotes are checked against the text the model was shown (invisible characters and
        # delimiter look-alikes removed).
        parsed = validate.parse_answer(
            reply.text, article_text=prompts.neutralize(article_text), link_source=grounds
        )
        return replace(parsed, usage=reply.usage)
