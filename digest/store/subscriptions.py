"""Subscriptions in the database: adding, changing, pausing and moving them, and what the
delivery side needs to know about them.

Called by ``digest.service`` (the facade) and by the delivery worker
(``pause_for_destination`` when a destination is gone, ``subscription_for_delivery`` and
``subscriptions_by_id`` to address a delivery). The fan-out of a new card lives in
``digest.store.fanout``, the digest enqueue in ``digest.store.digests`` (run by
``enqueue_due_digests`` here).

Values crossing out are ``digest.models.Subscription``. Raises ``NotFound``,
``DuplicateSubscription`` and ``StorageError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, Row, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import DuplicateSubscription, NotFound, StorageError
from digest.models import Destination, Subscription, SubscriptionSpec
from digest.ports import Clock
from digest.store.db import transaction
from digest.store.digests import enqueue_digests
from digest.store.tables import DeliveryRow, SubscriptionRow

_SUBS = cast(Table, SubscriptionRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)

SubscriptionRef = int | Destination  # an id, or the destination it sends to


def to_subscription(row: SubscriptionRow | Row[Any]) -> Subscription:
    """From an ORM row or a Core row of the subscriptions table."""
    return Subscription(
        id=row.id,
        spec=SubscriptionSpec(
            destination=Destination(row.platform, row.destination, row.thread),
            label=row.label,
            categories=tuple(row.categories or ()),
            include_keywords=tuple(row.include_keywords or ()),
            exclude_keywords=tuple(row.exclude_keywords or ()),
            mode=row.mode,
            schedule=row.schedule,
            timezone=row.timezone,
            max_cards=row.max_cards,
            language=row.language,
            quiet_start=row.quiet_start,
            quiet_end=row.quiet_end,
        ),
        active=row.active,
        paused_reason=row.paused_reason,
        last_slot=row.last_slot,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _spec_values(spec: SubscriptionSpec) -> dict[str, Any]:
    """Column values of a spec, destination included."""
    return {
        "platform": spec.destination.platform,
        "destination": spec.destination.chat,
        "thread": spec.destination.thread,
        "label": spec.label,
        "categories": list(spec.categories),
        "include_keywords": list(spec.include_keywords),
        "exclude_keywords": list(spec.exclude_keywords),
        "mode": spec.mode,
        "schedule": spec.schedule,
        "timezone": spec.timezone,
        "max_cards": spec.max_cards,
        "language": spec.language,
        "quiet_start": spec.quiet_start,
        "quiet_end": spec.quiet_end,
    }


def _at(destination: Destination) -> ColumnElement[bool]:
    return (
        (_SUBS.c.platform == destination.platform)
        & (_SUBS.c.destination == destination.chat)
        & (_SUBS.c.thread == destination.thread)
    )


def _describe(destination: Destination) -> str:
    thread = f" thread {destination.thread}" if destination.thread else ""
    return f"{destination.platform} chat {destination.chat}{thread}"


class SubscriptionStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self._sessions)

    # -- managing ------------------------------------------------------------------------

    def add(self, spec: SubscriptionSpec) -> Subscription:
        """Store a new, active subscription. Raises ``DuplicateSubscription`` when its
        destination has one (the unique constraint decides, whatever runs at once)."""
        now = self._clock.now()
        values = {**_spec_values(spec), "active": True, "created_at": now, "updated_at": now}
        try:
            with self._session() as s:
                row = s.execute(insert(_SUBS).values(values).returning(*_SUBS.c)).one()
                return to_subscription(row)
        except StorageError as e:
            if not isinstance(e.__cause__, IntegrityError):
                raise
        existing = self.get(spec.destination)
        raise DuplicateSubscription(
            f"{_describe(spec.destination)} already has subscription {existing.id};"
            f" change it with `digest subs update {existing.id}`"
        )

    def get(self, ref: SubscriptionRef) -> Subscription:
        """Raises ``NotFound``."""
        with self._session() as s:
            return to_subscription(_row(s, ref))

    def list_subscriptions(
        self, *, platform: str | None = None, chat: str | None = None
    ) -> list[Subscription]:
        """Every subscription (of one platform, of one chat), oldest first."""
        query = select(_SUBS)
        if platform is not None:
            query = query.where(_SUBS.c.platform == platform)
        if chat is not None:
            query = query.where(_SUBS.c.destination == chat)
        with self._session() as s:
            return [to_subscription(r) for r in s.execute(query.order_by(_SUBS.c.id))]

    def update(self, subscription_id: int, spec: SubscriptionSpec) -> Subscription:
        """Replace a subscription's settings (not its destination: see ``move``). Switching
        to digest mode starts the schedule now: the first digest collects cards from now
        on, not the day's cards already sent instantly. Raises ``NotFound``."""
        now = self._clock.now()
        values = _spec_values(spec)
        for key in ("platform", "destination", "thread"):
            del values[key]
        with self._session() as s:
            current = to_subscription(_row(s, subscription_id))
            if spec.mode == "digest" and current.mode != "digest":
                values["last_slot"] = now
            row = s.execute(
                update(_SUBS)
                .where(_SUBS.c.id == subscription_id)
                .values(**values, updated_at=now)
                .returning(*_SUBS.c)
            ).one()
            return to_subscription(row)

    def remove(self, ref: SubscriptionRef) -> Subscription:
        """Delete a subscription with its deliveries (sent or not). Raises ``NotFound``."""
        with self._session() as s:
            row = _row(s, ref)
            gone = to_subscription(row)
            s.execute(delete(_SUBS).where(_SUBS.c.id == gone.id))
            return gone

    def pause(self, ref: SubscriptionRef, reason: str) -> Subscription:
        """Stop sending there: no new deliveries, and its pending ones are dropped (those a
        worker is sending right now are left to it). Raises ``NotFound``."""
        now = self._clock.now()
        with self._session() as s:
            sub_id = _row(s, ref).id
            row = s.execute(
                update(_SUBS)
                .where(_SUBS.c.id == sub_id)
                .values(active=False, paused_reason=reason, updated_at=now)
                .returning(*_SUBS.c)
            ).one()
            _drop_pending(s, [sub_id], reason, now)
            return to_subscription(row)

    def resume(self, ref: SubscriptionRef) -> Subscription:
        """Send again. A digest schedule restarts now: a pause is a pause, its cards are
        not collected into the next digest. Raises ``NotFound``."""
        now = self._clock.now()
        with self._session() as s:
            current = to_subscription(_row(s, ref))
            values: dict[str, Any] = {"active": True, "paused_reason": None, "updated_at": now}
            if current.mode == "digest" and not current.active:
                values["last_slot"] = max(current.last_slot or now, now)
            row = s.execute(
                update(_SUBS).where(_SUBS.c.id == current.id).values(values).returning(*_SUBS.c)
            ).one()
            return to_subscription(row)

    def move(self, platform: str, old_chat: str, new_chat: str) -> list[Subscription]:
        """Every subscription of ``old_chat`` (all its threads) now sends to ``new_chat``:
        a Telegram group that became a supergroup has a new chat id. Pending deliveries
        follow. Where ``new_chat`` already has a subscription for the same thread, that one
        is kept and the old one is removed. Returns the subscriptions now at ``new_chat``
        (of those that were at ``old_chat``); [] when there were none."""
        now = self._clock.now()
        moved = []
        with self._session() as s:
            rows = s.execute(
                select(_SUBS)
                .where(_SUBS.c.platform == platform, _SUBS.c.destination == old_chat)
                .order_by(_SUBS.c.id)
            ).all()
            for row in rows:
                target = Destination(platform, new_chat, row.thread)
                existing = s.execute(select(_SUBS).where(_at(target))).first()
                if existing is not None:
                    s.execute(delete(_SUBS).where(_SUBS.c.id == row.id))
                    moved.append(to_subscription(existing))
                    continue
                updated = s.execute(
                    update(_SUBS)
                    .where(_SUBS.c.id == row.id)
                    .values(destination=new_chat, updated_at=now)
                    .returning(*_SUBS.c)
                ).one()
                moved.append(to_subscription(updated))
        return moved

    # -- for the delivery worker ------------------------------------------------------------

    def pause_for_destination(
        self, platform: str, destination: str, thread: str | None, reason: str
    ) -> list[Subscription]:
        """The destination is gone (bot blocked or kicked, chat or channel not found): pause
        its subscriptions with ``reason`` and mark their pending deliveries "dropped" (with
        ``reason`` as ``last_error``). ``thread`` ``None`` means every thread of the chat
        (the chat itself is gone); a thread id, or "" for no thread, means only that one.

        Deliveries claimed by a worker right now are left to that worker (the caller marks
        its own). Returns the paused subscriptions; [] when there were none. Idempotent."""
        now = self._clock.now()
        where = (_SUBS.c.platform == platform) & (_SUBS.c.destination == destination)
        if thread is not None:
            where = where & (_SUBS.c.thread == thread)
        with self._session() as s:
            rows = s.execute(
                update(_SUBS)
                .where(where)
                .values(active=False, paused_reason=reason, updated_at=now)
                .returning(*_SUBS.c)
            ).all()
            _drop_pending(s, [r.id for r in rows], reason, now)
        return sorted((to_subscription(r) for r in rows), key=lambda sub: sub.id)

    def subscription_for_delivery(self, delivery_id: int) -> Subscription:
        """The subscription a delivery goes to. Raises ``NotFound`` (no such delivery, or
        its subscription was removed together with it)."""
        with self._session() as s:
            row = s.execute(
                select(_SUBS)
                .join(_DELIVERIES, _DELIVERIES.c.subscription_id == _SUBS.c.id)
                .where(_DELIVERIES.c.id == delivery_id)
            ).first()
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return to_subscription(row)

    def subscriptions_by_id(self, ids: Sequence[int]) -> dict[int, Subscription]:
        """Subscriptions by id, for a batch of claimed deliveries; missing ids are left out."""
        found: dict[int, Subscription] = {}
        wanted = sorted(set(ids))
        with self._session() as s:
            for start in range(0, len(wanted), 500):  # under SQLite's bound-parameter limit
                part = wanted[start : start + 500]
                for row in s.execute(select(_SUBS).where(_SUBS.c.id.in_(part))):
                    found[row.id] = to_subscription(row)
        return found

    # -- digests --------------------------------------------------------------------------

    def enqueue_due_digests(self, now: datetime | None = None) -> int:
        """Enqueue the due digest of every active digest subscription (see
        ``digest.store.digests.enqueue_digests``). Returns how many digests were enqueued."""
        return enqueue_digests(self._sessions, now or self._clock.now())


def _row(s: Session, ref: SubscriptionRef) -> Row[Any]:
    if isinstance(ref, Destination):
        row = s.execute(select(_SUBS).where(_at(ref))).first()
        missing = f"no subscription for {_describe(ref)}"
    else:
        row = s.execute(select(_SUBS).where(_SUBS.c.id == ref)).first()
        missing = f"no subscription {ref}; `digest subs list` shows them"
    if row is None:
        raise NotFound(missing)
    return row


def _drop_pending(s: Session, sub_ids: Sequence[int], reason: str, now: datetime) -> None:
    if not sub_ids:
        return
    unclaimed = (_DELIVERIES.c.claimed_until.is_(None)) | (_DELIVERIES.c.claimed_until <= now)
    s.execute(
        update(_DELIVERIES)
        .where(
            _DELIVERIES.c.subscription_id.in_(list(sub_ids)),
            _DELIVERIES.c.status == "pending",
            unclaimed,
        )
        .values(status="dropped", last_error=reason)
    )
