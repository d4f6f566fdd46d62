"""Follow-up questions about a card: limits, cache and record around the answer engine.

Called by ``digest.service.DigestService.ask`` (the ``digest ask`` command and the chat
adapters). The answering itself (routing, retrieval, the model call) is ``digest.answer``.

Every question is stored with its answer. The same rows give the per-asker rate limit
(``DIGEST_QUESTIONS_PER_HOUR``) and the cache: the same question about the same card is
answered once and then served from the record, at no model cost.
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
from digest.errors import InputError, QuestionTooLong, RateLimited
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


class _Metered:
    """Wraps the model answerer to learn what each answer cost (for the ledger)."""

    def __init__(self, inner: ModelAnswerer) -> None:
        self._inner = inner
        self.last: ModelAnswer | None = None

    async def answer(self, card: Card, article_text: str, question: str) -> ModelAnswer:
        self.last = None
        self.last = await self._inner.answer(card, article_text, question)
        return self.last


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
        self._model = model
        self._within_budget = within_budget
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
        metered = None
        if answer is None:
            metered = self._metered_model()
            text = self._repo.story_text(card.story_id)
            answer = await self._answerer.answer(card, text, question, model=metered)
        self._ledger.record_question(
            card_id=card_id,
            asker=asker,
            question=question,
            question_key=key,
            answer=answer,
            usage=metered.last.usage if metered and metered.last else None,
            at=now,
        )
        return answer

    def _metered_model(self) -> _Metered | None:
        if self._model is None:
            return None
        if self._within_budget is not None and not self._within_budget():
            return None  # past the daily budget: extractive answers only
        return _Metered(self._model)


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute" + ("s" if minutes != 1 else "")
