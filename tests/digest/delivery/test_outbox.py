"""The outbox store: claims with leases and tokens, outcomes, and finding a message's card
(each test on SQLite and on PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from digest.delivery.claims import Final, Retry, Sent
from digest.delivery.sender import Posted, SendReceipt
from digest.store.tables import DeliveryItemRow, DeliveryRow, SentMessageRow
from tests.digest.delivery.conftest import World
from tests.support.deliveries import deliveries

LEASE = timedelta(seconds=60)


def claim(world: World, *, limit: int = 100, per_chat: int = 5, platforms=("fake",)):  # type: ignore[no-untyped-def]
    return world.outbox.claim(platforms=platforms, limit=limit, per_chat=per_chat, lease=LEASE)


def test_a_claim_takes_due_deliveries_with_their_destination_and_cards(world: World) -> None:
    world.subscribe("1", "2")
    card = world.card()
    claims = claim(world)
    assert sorted(c.destination.chat for c in claims) == ["1", "2"]
    first = claims[0]
    assert first.kind == "card" and first.card_ids == (card,)
    assert first.attempts == 1 and first.active
    assert first.claimed_until == world.clock.now() + LEASE
    assert len({c.token for c in claims}) == 1
    assert claim(world) == []  # claimed: nobody else gets them until the lease runs out


def test_only_platforms_the_worker_can_send_to_are_claimed(world: World) -> None:
    world.subscribe("1", platform="telegram")
    world.subscribe("2", platform="discord")
    world.card()
    assert [c.destination.platform for c in claim(world, platforms=("discord",))] == ["discord"]
    assert claim(world, platforms=()) == []
    assert world.outbox.status_counts() == {"pending": 2}


def test_one_chat_is_claimed_a_few_at_a_time_and_by_one_claim_only(world: World) -> None:
    world.subscribe("9", thread="")
    world.subscribe("9", thread="topic")  # the same chat: paced and ordered together
    world.subscribe("5")
    first, second, third = world.card(), world.card(), world.card()
    claims = claim(world, per_chat=2)
    in_nine = [c for c in claims if c.destination.chat == "9"]
    assert len(in_nine) == 2 and len([c for c in claims if c.destination.chat == "5"]) == 2
    assert [c.card_ids[0] for c in in_nine] == [first, first]  # oldest first
    assert claim(world) == []  # both chats are held
    world.outbox.finish([(c, Sent(SendReceipt.of(c.id))) for c in claims])
    again = claim(world, per_chat=10)
    assert sorted(c.card_ids[0] for c in again if c.destination.chat == "9") == [
        second,
        second,
        third,
        third,
    ]


def test_a_lapsed_claim_is_taken_again_and_the_old_token_changes_nothing(world: World) -> None:
    world.subscribe("1")
    world.card()
    (old,) = claim(world)
    world.clock.advance(seconds=61)
    (new,) = claim(world)
    assert new.id == old.id and new.token != old.token and new.attempts == 2
    assert not world.outbox.mark_sent(old, SendReceipt.of("77"))
    assert world.outbox.extend([old.token], LEASE) == set()
    assert world.outbox.extend([new.token], LEASE) == {new.id}
    assert world.outbox.mark_sent(new, SendReceipt.of("78"))
    (row,) = deliveries(world.engine)
    assert (row.status, row.message_ids, row.claimed_until, row.claim_token) == (
        "sent",
        ["78"],
        None,
        None,
    )


def test_sent_messages_lead_back_to_their_card(world: World) -> None:
    world.subscribe("1")
    card = world.card()
    (one,) = claim(world)
    world.outbox.mark_sent(one, SendReceipt((Posted("501"), Posted("502", chat="thread-9"))))
    assert world.outbox.card_for_message("fake", "1", "501") == card
    assert world.outbox.card_for_message("fake", "thread-9", "502") == card
    assert world.outbox.card_for_message("fake", "1", "999") is None
    assert world.outbox.card_for_message("telegram", "1", "501") is None


def test_a_digest_message_maps_to_the_card_the_sender_names_or_none(world: World) -> None:
    (sub,) = world.subscribe("1")
    world.clock.advance(minutes=1)
    a, b = world.card(), world.card()
    with world.engine.begin() as conn:  # the instant deliveries become one digest
        ids = [r.id for r in deliveries(world.engine)]
        conn.execute(update(DeliveryRow).where(DeliveryRow.id == ids[1]).values(status="dropped"))
        conn.execute(update(DeliveryRow).where(DeliveryRow.id == ids[0]).values(kind="digest"))
        conn.execute(
            update(DeliveryItemRow)
            .where(DeliveryItemRow.card_id == b)
            .values(delivery_id=ids[0], position=1)
        )
    (digest,) = claim(world)
    assert digest.kind == "digest" and digest.card_ids == (a, b) and digest.subscription_id == sub
    world.outbox.mark_sent(digest, SendReceipt((Posted("2", card_id=b), Posted("1"))))
    assert world.outbox.card_for_message("fake", "1", "1") is None  # shows several cards
    assert world.outbox.card_for_message("fake", "1", "2") == b
    # /ask after a digest: the newest message shows several cards; its first one stands in
    assert world.outbox.latest_card_in("fake", "1") == a


def test_the_latest_card_of_a_chat_and_of_a_thread(world: World) -> None:
    world.subscribe("1")
    world.subscribe("1", thread="science")
    world.clock.advance(minutes=1)
    assert world.outbox.latest_card_in("fake", "1") is None
    card = world.card()
    chat, topic = sorted(claim(world), key=lambda c: c.destination.thread)
    world.outbox.mark_sent(topic, SendReceipt.of("11"))
    assert world.outbox.latest_card_in("fake", "1", "science") == card
    assert world.outbox.latest_card_in("fake", "1", "business") is None  # another topic's
    world.outbox.mark_sent(chat, SendReceipt.of("12"))
    assert world.outbox.latest_card_in("fake", "1") == card


def test_retry_later_and_release(world: World) -> None:
    world.subscribe("1", "2")
    world.card()
    first, second = claim(world)
    later = world.clock.now() + timedelta(minutes=5)
    world.outbox.retry_later(first, later, "HTTP 502")
    world.outbox.release([second])
    rows = {r.id: r for r in deliveries(world.engine)}
    assert (rows[first.id].due_at, rows[first.id].attempts, rows[first.id].last_error) == (
        later,
        1,
        "HTTP 502",
    )
    assert rows[second.id].attempts == 0 and rows[second.id].claimed_until is None
    (again,) = claim(world)  # the other is not due yet
    assert again.id == second.id
    world.outbox.mark_sent(again, SendReceipt.of("5"))
    world.clock.advance(minutes=6)
    assert [c.id for c in claim(world)] == [first.id]


def test_outcomes_are_written_together_and_only_for_claims_still_held(world: World) -> None:
    world.subscribe("1", "2", "3", "4")
    world.card()
    a, b, c, d = claim(world)
    done = world.outbox.finish(
        [
            (a, Sent(SendReceipt.of("10"))),
            (b, Final("rejected", "message is too long")),
            (c, Retry(world.clock.now() + timedelta(minutes=1), "timeout", refund=True)),
            (replace(d, token="another-claim"), Final("failed", "x")),
        ]
    )
    assert done == {a.id, b.id, c.id}
    statuses = {r.id: (r.status, r.last_error) for r in deliveries(world.engine)}
    assert statuses[b.id] == ("rejected", "message is too long")
    assert statuses[d.id] == ("pending", None)  # not ours: left alone
    assert statuses[c.id] == ("pending", "timeout")
    with world.engine.connect() as conn:
        assert conn.scalar(select(SentMessageRow.message_id)) == "10"
