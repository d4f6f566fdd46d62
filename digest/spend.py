"""The daily model budget: what today's paid replies cost, and whether one more may be asked.

Built once by the composition root (``digest.app``) and handed to every model client (the
card engine, its batches, the answerer), which call ``record`` as each paid reply arrives
and ``allows`` before each request, retries and regenerations included. Spend is recorded
per reply rather than per stored card, so a reply that never becomes a card (rejected,
superseded, a card another process stored first, a crash) still counts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from digest.models import Usage
from digest.ports import Clock
from digest.store.ledger import Ledger

# The engine name of an offline card made because the budget was spent.
BUDGET_ENGINE = "offline-budget"


class DailyBudget:
    """A ``SpendMeter`` over the ledger: ``DIGEST_DAILY_BUDGET_USD`` per UTC day."""

    def __init__(self, ledger: Ledger, clock: Clock, *, daily_usd: float) -> None:
        self._ledger = ledger
        self._clock = clock
        self._daily_usd = daily_usd

    def allows(self) -> bool:
        """Whether today's spend is still under the budget (a request may be made)."""
        return self.spent_today() < self._daily_usd

    def spent_today(self) -> float:
        return self._ledger.cost_since(self.midnight())

    def midnight(self) -> datetime:
        now = self._clock.now().astimezone(UTC)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    def record(self, usage: Usage, *, purpose: str) -> None:
        """Count one paid reply. A reply with no tokens (nothing billed) is not stored."""
        if usage.input_tokens == 0 and usage.output_tokens == 0 and usage.cost_usd == 0:
            return
        self._ledger.record_spend(usage, purpose=purpose, at=self._clock.now())
