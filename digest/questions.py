"""Follow-up questions about a card: limits, cache and record around the answer engine.

Called by ``digest.service.DigestService.ask`` (the ``digest ask`` command and the chat
adapters). The answering itself (routing, retrieval, the model call) is ``digest.answer``.

Every question is stored with its answer. The same rows give the per-asker rate limit
(``DIGEST_QUESTIONS_PER_HOUR``) and the cache: the same question about the same card is
answered once and then served from the record, at no model cost. Only *final* answers are
served again (see ``digest.answer.engine``): an extractive answer that stood in for the model
(an outage, a rejected reply, the daily budget spent) is recorded as degraded, and the same
question is put to the model again once it can answer.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, timedelta

from digest.answer.engine import Answerer
from digest.answer.routing import normalise_question
from digest.config import Settings
from digest.errors import InputError, ModelError, QuestionTooLong, RateLimited
from digest.models import Answer, Card, ModelAnswer
from digest.ports import Clock, ModelAnswerer
from digest.store.ledger import Ledger
from digest.store.repository import Repository

WINDOW = timedelta(hours=1)
_NOT_WORD = re.compile(r"[^\w]+")


def question_key(question: str) -> str:
    """The cache key: case, punctuation and spacing do not make a question different."""
    folded = unicodedata.normalize("NFKC", question).casefold()
    return hashlib.sha256(" ".join(_NOT_WORD.sub(" ", folded).split()).encode()).hexdigest()


class _Budgeted:
    """The model answerer behind the daily budget, asked only when a question needs the
    model (a why-it-matters or FAQ question costs no budget check). Past the budget it
    raises ``ModelError``, so the engine answers extractively and marks the answer as a
    stand-in, not to be served from the cache once the budget allows the model again."""

    def __init__(self, inner: ModelAnswerer, within_budget: Callable[[], bool] | None) -> None:
        self._inner = inner
        self._within_budget = within_budget

    async def answer(self, card: Card, article_text: str, question: str) -> ModelAnswer:
        if self._within_budget is not None and not self._within_budget():
            raise ModelError("the daily model budget is spent")
        return await self._inner.answer(card, article_text, question)


class QuestionDesk:
    def __init__(
        self,
        *,
        settings: Settings,
        repo: Repository,
        ledger: Ledger,
        clock: Clock,
        model: ModelAnswerer | None,
        within_budget: Callable[[], bool] | None = None,
    ) -> None:
        self._settings = settings
        self._repo = repo
        self._ledger = ledger
        self._clock = clock
        self._budgeted = None if model is None else _Budgeted(model, within_budget)
        self._answerer = Answerer()

    async def ask(self, card_id: int, question: str, asker: str) -> Answer:
        """Answer ``question`` about card ``card_id`` for ``asker`` (a platform-qualified id
        such as ``telegram:42``).

        Raises ``InputError`` (empty question), ``QuestionTooLong``, ``RateLimited`` (with
        ``retry_after`` seconds), ``NotFound`` (no such card).
        """
        try:  # drops invisible characters too: a lone zero-width space is no question
            question = normalise_question(question)
        except ValueError:
            raise InputError('ask a question, e.g. "why does this matter?"') from None
        limit = self._settings.question_max_chars
        if len(question) > limit:
            raise QuestionTooLong(f"questions can be at most {limit} characters long")
        card = self._repo.get_card(card_id)
        now = self._clock.now().astimezone(UTC)
        asked = self._ledger.questions_since(asker, now - WINDOW)
        if len(asked) >= self._settings.questions_per_hour:
            wait = max(1.0, (asked[0] + WINDOW - now).total_seconds())
            raise RateLimited(
                f"you have asked {len(asked)} questions in the last hour;"
                f" try again in {_minutes(wait)}",
                retry_after=wait,
            )
        key = question_key(question)
        answer = self._ledger.cached_answer(card_id, key)
        usage = None
        degraded = False  # a stand-in for the model's answer: recorded, never served again
        if answer is None:
            text = self._repo.story_text(card.story_id)
            answered = await self._answerer.respond(card, text, question, model=self._budgeted)
            answer, usage, degraded = answered.answer, answered.usage, not answered.final
        self._ledger.record_question(
            card_id=card_id,
            asker=asker,
            question=question,
            question_key=key,
            answer=answer,
            usage=usage,
            degraded=degraded,
            at=now,
        )
        return answer


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute" + ("s" if minutes != 1 else "")
