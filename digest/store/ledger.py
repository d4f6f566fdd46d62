"""The ledger: follow-up questions with their answers, and what the model cost.

Called by ``digest.service`` (answers, the daily budget, ``digest usage``). Every question and
answer is stored; the same rows serve as the per-asker rate limit and the answer cache.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast

from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Answer, Quote, Usage
from digest.store.db import transaction
from digest.store.tables import CardRow, QuestionRow, SpendRow

_QUESTIONS = cast(Table, QuestionRow.__table__)
_CARDS = cast(Table, CardRow.__table__)
_SPEND = cast(Table, SpendRow.__table__)


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One UTC day of model use (``digest usage``)."""

    day: date
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cards_by_engine: dict[str, int] = field(default_factory=dict)
    questions: int = 0


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self._sessions)

    # -- questions -----------------------------------------------------------------------

    def questions_since(self, asker: str, since: datetime) -> list[datetime]:
        """When ``asker`` asked questions since ``since`` (oldest first), for the rate limit."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(_QUESTIONS.c.created_at)
                    .where(_QUESTIONS.c.asker == asker, _QUESTIONS.c.created_at >= since)
                    .order_by(_QUESTIONS.c.created_at)
                )
            )

    def cached_answer(self, card_id: int, question_key: str) -> Answer | None:
        """The first final answer given to the same question about the same card (not a
        cached copy, not a degraded stand-in for the model's answer)."""
        with self._session() as s:
            row = s.execute(
                select(_QUESTIONS.c.answer, _QUESTIONS.c.method, _QUESTIONS.c.quotes)
                .where(
                    _QUESTIONS.c.card_id == card_id,
                    _QUESTIONS.c.question_key == question_key,
                    _QUESTIONS.c.cached.is_(False),
                    _QUESTIONS.c.degraded.is_(False),
                )
                .order_by(_QUESTIONS.c.id)
                .limit(1)
            ).first()
        if row is None:
            return None
        quotes = tuple(
            Quote(q["text"], q.get("source", "")) if isinstance(q, dict) else Quote(str(q))
            for q in row.quotes or ()
        )
        return Answer(text=row.answer, method=row.method, quotes=quotes, cached=True)

    def record_question(
        self,
        *,
        card_id: int,
        asker: str,
        question: str,
        question_key: str,
        answer: Answer,
        usage: Usage | None,
        at: datetime,
        degraded: bool = False,
    ) -> None:
        with self._session() as s:
            s.execute(
                insert(_QUESTIONS).values(
                    card_id=card_id,
                    asker=asker,
                    question=question,
                    question_key=question_key,
                    answer=answer.text,
                    method=answer.method,
                    quotes=[{"text": q.text, "source": q.source} for q in answer.quotes],
                    cached=answer.cached,
                    degraded=degraded,
                    model=usage.model if usage else None,
                    input_tokens=usage.input_tokens if usage else 0,
                    output_tokens=usage.output_tokens if usage else 0,
                    cost_usd=usage.cost_usd if usage else 0.0,
                    created_at=at,
                )
            )

    # -- spend ---------------------------------------------------------------------------

    def record_spend(self, usage: Usage, *, purpose: str, at: datetime) -> None:
        """One paid model reply, recorded as it arrives (see ``SpendRow``)."""
        with self._session() as s:
            s.execute(
                insert(_SPEND).values(
                    at=at,
                    purpose=purpose,
                    model=usage.model,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cost_usd=usage.cost_usd,
                )
            )

    def cost_since(self, since: datetime) -> float:
        """Model spend (every paid reply) since ``since``, in USD: the daily budget's input."""
        with self._session() as s:
            total = s.scalar(
                select(func.coalesce(func.sum(_SPEND.c.cost_usd), 0.0)).where(_SPEND.c.at >= since)
            )
        return float(total or 0.0)

    def usage_by_day(self, since: datetime) -> list[DayUsage]:
        """Tokens and cost (every paid reply), cards by engine and questions per UTC day since
        ``since``.

        Grouped in Python: the rows of a week are few, and it keeps the SQL the same on
        SQLite and PostgreSQL.
        """
        days: dict[date, DayUsage] = {}

        def day(at: datetime) -> DayUsage:
            key = at.date()
            return days.setdefault(key, DayUsage(day=key))

        with self._session() as s:
            spend = s.execute(
                select(
                    _SPEND.c.at, _SPEND.c.input_tokens, _SPEND.c.output_tokens, _SPEND.c.cost_usd
                ).where(_SPEND.c.at >= since)
            ).all()
            cards = s.execute(
                select(_CARDS.c.created_at, _CARDS.c.engine).where(_CARDS.c.created_at >= since)
            ).all()
            questions = s.scalars(
                select(_QUESTIONS.c.created_at).where(_QUESTIONS.c.created_at >= since)
            ).all()
        for at, tokens_in, tokens_out, cost in spend:
            entry = day(at)
            days[entry.day] = _add(entry, tokens_in, tokens_out, cost, questions=0)
        for at, engine in cards:
            entry = day(at)
            entry.cards_by_engine[engine] = entry.cards_by_engine.get(engine, 0) + 1
        for at in questions:
            entry = day(at)
            days[entry.day] = _add(entry, 0, 0, 0.0, questions=1)
        return [days[d] for d in sorted(days)]


def _add(
    entry: DayUsage, tokens_in: int, tokens_out: int, cost: float, *, questions: int
) -> DayUsage:
    return DayUsage(
        day=entry.day,
        input_tokens=entry.input_tokens + tokens_in,
        output_tokens=entry.output_tokens + tokens_out,
        cost_usd=entry.cost_usd + cost,
        cards_by_engine=entry.cards_by_engine,
        questions=entry.questions + questions,
    )
