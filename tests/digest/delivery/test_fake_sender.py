"""The recording fake sender the delivery tests rely on, and the HTTP fake platform."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from digest.delivery.sender import OutgoingMessage, idempotency_key
from digest.errors import DeliveryError, DestinationGone, RejectedContent, RetryLater
from digest.models import Card, Destination
from tests.support.fake_platform import FakePlatform, HttpSender
from tests.support.fake_sender import FakeSender, failure_classes

CARD = Card(
    id=7,
    story_id=1,
    title="A title",
    url="https://news.example.com/1",
    source="Example",
    published_at=None,
    category="World",
    summary="S.",
    takeaways=("a", "b", "c"),
    why_it_matters="W.",
    faq=(),
    engine="offline",
    created_at=datetime(2026, 11, 20, tzinfo=UTC),
)


def message(chat: str = "1", delivery_id: int = 1, text: str = "") -> OutgoingMessage:
    card = replace(CARD, title=text) if text else CARD
    return OutgoingMessage(
        delivery_id=delivery_id,
        destination=Destination("fake", chat),
        kind="card",
        cards=(card,),
        idempotency_key=idempotency_key(delivery_id),
    )


@pytest.mark.parametrize("error_class", failure_classes())
async def test_it_fails_on_demand_in_each_class(error_class: type[DeliveryError]) -> None:
    sender = FakeSender()
    sender.fail(error_class("no"), chat="2")
    assert (await sender.send(message("1"))).messages  # another chat: fine
    with pytest.raises(error_class):
        await sender.send(message("2"))
    assert (await sender.send(message("2", 2))).messages  # once only
    assert sender.chats() == ["1", "2"] and len(sender.calls) == 3


async def test_failures_can_last_and_be_healed() -> None:
    sender = FakeSender()
    sender.fail(DestinationGone("blocked"), times=None)
    for _ in range(3):
        with pytest.raises(DestinationGone):
            await sender.send(message())
    sender.heal()
    await sender.send(message())


async def test_a_rate_limit_answers_retry_later_with_the_wait() -> None:
    sender = FakeSender()
    sender.limit(rate=20.0)
    with pytest.raises(RetryLater) as raised:
        for n in range(5):
            await sender.send(message(str(n), n))
    assert 0 < (raised.value.retry_after or 0) <= 0.05 and raised.value.scope == "platform"
    assert sender.too_many == 1


async def test_dedupe_answers_a_repeated_key_with_the_first_message() -> None:
    sender = FakeSender(dedupe=True)
    first = await sender.send(message())
    assert await sender.send(message()) == first
    assert len(sender.sent) == 1 and len(sender.calls) == 2


async def test_the_http_platform_and_its_sender_speak_the_failure_classes() -> None:
    async with FakePlatform(rate=100.0, burst=4, idempotent=True) as platform:
        platform.gone.add("9")
        sender = HttpSender(platform.url)
        try:
            receipt = await sender.send(message("1"))
            assert receipt == await sender.send(message("1"))  # the same key: deduplicated
            with pytest.raises(DestinationGone):
                await sender.send(message("9", 2))
            with pytest.raises(RejectedContent):
                await sender.send(message("1", 3, text="please reject me"))
            burst = [sender.send(message(str(n), 10 + n)) for n in range(20)]
            refused = [
                e
                for e in await asyncio.gather(*burst, return_exceptions=True)
                if isinstance(e, RetryLater)
            ]
            assert refused and all(e.retry_after and e.scope == "platform" for e in refused)
        finally:
            await sender.aclose()
    assert platform.deduplicated == 1 and sender.too_many == platform.too_many > 0
