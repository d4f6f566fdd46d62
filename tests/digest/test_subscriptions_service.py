"""The subscription half of the facade, as the chat adapters call it (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.app import open_app
from digest.config import Settings
from digest.errors import DuplicateSubscription, InvalidSubscription, NotFound
from digest.models import Destination
from digest.subscription_text import summary
from digest.subscriptions import SubscriptionOptions
from tests.digest.store.test_subscriptions import make_card
from tests.support.clock import FakeClock


async def test_a_chat_subscribes_changes_its_mind_migrates_and_gets_its_digest(
    db_settings: Settings,
) -> None:
    clock = FakeClock(datetime(2026, 11, 20, 7, 0, tzinfo=UTC))
    async with open_app(db_settings, clock=clock) as app:
        service = app.service
        sub = service.add_subscription(
            "telegram", "-4001", options=SubscriptionOptions(topics="World", tz="Europe/Berlin")
        )
        assert sub.mode == "instant" and sub.spec.categories == ("World",)
        with pytest.raises(DuplicateSubscription):
            service.add_subscription("Telegram", " -4001 ")  # the same chat, spelled loosely
        with pytest.raises(InvalidSubscription, match="unknown time zone"):
            service.update_subscription(sub.id, SubscriptionOptions(tz="Berlin/Europe"))

        # the adapters address a subscription by the chat the command came from
        here = Destination("telegram", "-4001")
        digest = service.update_subscription(
            here, SubscriptionOptions(mode="digest", times="09:00", max_cards="3")
        )
        assert digest.spec.schedule == "0 9 * * *" and digest.spec.max_cards == 3
        assert "digest 09:00 daily Europe/Berlin, up to 3 cards, next 2026-11-20 09:00 CET" in (
            summary(digest, clock.now())
        )

        # the group became a supergroup: same subscription, new chat id
        [moved] = service.move_subscription("telegram", "-4001", "-1004001")
        assert moved.id == sub.id and moved.destination.chat == "-1004001"
        with pytest.raises(NotFound):
            service.get_subscription(here)

        clock.current = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)  # after the switch to digest
        make_card(app.repo, "Summit opens", category="World")
        clock.current = datetime(2026, 11, 20, 8, 1, tzinfo=UTC)  # 09:01 in Berlin
        assert service.enqueue_due_digests() == 1
        assert service.enqueue_due_digests() == 0

        paused = service.pause_subscription(moved.id, "  going   on holiday ")
        assert paused.paused_reason == "going on holiday"
        assert service.resume_subscription(moved.id).active
        assert [s.id for s in service.list_subscriptions(platform="telegram")] == [sub.id]
        assert service.remove_subscription(moved.id).id == sub.id
        assert service.list_subscriptions() == []
