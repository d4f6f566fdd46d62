"""The bot's state at a glance, for operators (``digest status``): feeds and their errors,
stories waiting for a card, subscriptions, queued deliveries, and today's model spend
against the daily budget.

Read-only; called by ``digest.cli``. Raises ``StorageError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digest.app import App
from digest.models import Feed
from digest.ports import SystemClock
from digest.store.outbox import Outbox

MAX_FAILING = 10  # failing feeds listed by name; the rest are counted


@dataclass(frozen=True, slots=True)
class Status:
    counts: dict[str, int]
    feeds_failing: int
    feeds_disabled: int
    failing: tuple[Feed, ...]  # the first MAX_FAILING failing or disabled feeds
    stories_waiting: int  # stories with no card yet
    subscriptions_active: int
    subscriptions_paused: int
    deliveries: dict[str, int] = field(default_factory=dict)  # by status
    spent_today_usd: float = 0.0
    budget_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "feeds": {
                "failing": self.feeds_failing,
                "disabled": self.feeds_disabled,
                "errors": [
                    {"id": f.id, "url": f.url, "disabled": f.disabled, "last_error": f.last_error}
                    for f in self.failing
                ],
            },
            "stories_waiting_for_cards": self.stories_waiting,
            "subscriptions": {
                "active": self.subscriptions_active,
                "paused": self.subscriptions_paused,
            },
            "deliveries": self.deliveries,
            "spend_today_usd": round(self.spent_today_usd, 6),
            "daily_budget_usd": self.budget_usd,
        }


def gather(app: App) -> Status:
    feeds = app.service.list_feeds()
    bad = [f for f in feeds if f.disabled or f.consecutive_failures]
    subs = app.service.list_subscriptions()
    today = app.service.usage(1)
    return Status(
        counts=app.repo.counts(),
        feeds_failing=sum(1 for f in bad if not f.disabled),
        feeds_disabled=sum(1 for f in bad if f.disabled),
        failing=tuple(bad[:MAX_FAILING]),
        stories_waiting=app.repo.count_stories_without_cards(),
        subscriptions_active=sum(1 for s in subs if s.active),
        subscriptions_paused=sum(1 for s in subs if not s.active),
        deliveries=Outbox(app.repo.engine, SystemClock()).status_counts(),
        spent_today_usd=today[-1].cost_usd if today else 0.0,
        budget_usd=app.settings.daily_budget_usd,
    )
