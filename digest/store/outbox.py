"""The outbox, as the delivery worker sees it: claiming due deliveries, recording what
became of them; reading it (the card behind a message the bot posted, counts) is
``digest.store.outbox_reads``, a mixin of ``Outbox``.

Called by ``digest.delivery.worker`` (everything) and by the chat adapters
(``card_for_message``). Rows are filled by ``digest.store.fanout``. Raises ``StorageError``.

A claim is a lease: ``claimed_until`` (a time) and ``claim_token`` (fresh for each claim).
Every write that ends or moves a claim names the token, so a worker whose lease ran out
and whose delivery was claimed again by another worker cannot overwrite the other's
outcome. ``attempts`` is counted at the claim: a worker that dies while sending still
used an attempt, so a message that kills workers cannot be retried forever; a claim given
back unsent (``Retry(refund=True)``) returns its attempt.

Per destination, one worker at a time: a claim skips every chat for which some worker
holds a live claim, and takes at most ``per_chat`` deliveries of one chat. So one process
paces a chat and posts its messages in order. On PostgreSQL the claims of all workers are
serialised by a transaction-level advisory lock (they are short), and ``FOR UPDATE SKIP
LOCKED`` steps over rows other transactions are writing; on SQLite the claim is one
``UPDATE ... RETURNING`` statement, which holds the write lock from its first read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Engine,
    Integer,
    Table,
    Text,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from digest.delivery.claims import RELEASE, ClaimedDelivery, Final, Outcome, Retry, Sent
from digest.delivery.sender import SendReceipt
from digest.models import Destination
from digest.ports import Clock
from digest.store.db import transaction
from digest.store.outbox_reads import CHUNK as _CHUNK
from digest.store.outbox_reads import OutboxReads
from digest.store.tables import (
    CardRow,
    DeliveryItemRow,
    DeliveryRow,
    SentMessageRow,
    SubscriptionRow,
    UTCDateTime,
)

_D = cast(Table, DeliveryRow.__table__)
_SUBS = cast(Table, SubscriptionRow.__table__)
_ITEMS = cast(Table, DeliveryItemRow.__table__)
_SENT = cast(Table, SentMessageRow.__table__)
_CARDS = cast(Table, CardRow.__table__)

# Any constant, the same in every process (repository.py's story lock uses another).
_CLAIM_LOCK_KEY = 7_419_305_120
# A claim looks at this many times ``limit`` of the oldest due rows, then keeps at most
# ``per_chat`` per chat among them: cheap on a backlog of millions, and a chat with a
# huge backlog cannot fill a claim (its later rows wait for its lane to finish).
_WINDOW = 4


class Outbox(OutboxReads):
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._postgres = engine.dialect.name == "postgresql"

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self._sessions)

    # -- claiming ------------------------------------------------------------------------

    def claim(
        self, *, platforms: Iterable[str], limit: int, per_chat: int, lease: timedelta
    ) -> list[ClaimedDelivery]:
        """Claim up to ``limit`` due deliveries to ``platforms`` for ``lease``, oldest
        first: pending, ``due_at`` passed, unclaimed or with a lapsed claim, at most
        ``per_chat`` per chat, none of a chat another claim holds. Counts an attempt."""
        names = sorted(set(platforms))
        if not names or limit <= 0:
            return []
        now = self._clock.now()
        until = now + lease
        token = str(uuid.uuid4())
        free = or_(_D.c.claimed_until.is_(None), _D.c.claimed_until <= now)
        chosen = self._choose(now, names, limit, per_chat, free)
        claim = (
            update(_D)
            .values(claimed_until=until, claim_token=token, attempts=_D.c.attempts + 1)
            .where(_D.c.status == "pending", free)
            .returning(_D.c.id)
        )
        if self._postgres:  # rows other transactions are writing are stepped over
            locked = select(_D.c.id).where(_D.c.id.in_(chosen)).with_for_update(skip_locked=True)
            claim = claim.where(_D.c.id.in_(locked))
        else:
            claim = claim.where(_D.c.id.in_(chosen))
        with self._session() as s:
            if self._postgres:
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK_KEY})
                # Read due rows in index order and stop at the window. On the statistics of
                # a table a fan-out just filled, the planner picks a bitmap scan instead,
                # which reads every pending row for each claim (4x slower at 10,000).
                s.execute(text("SET LOCAL enable_bitmapscan = off"))
            claimed = list(s.scalars(claim))
            return self._load_claims(s, claimed, token)

    def _choose(
        self, now: datetime, platforms: list[str], limit: int, per_chat: int, free: Any
    ) -> Any:
        """The ids to claim, as a subquery.

        Shaped so that no plan can go wrong, even on the statistics of a table that a
        fan-out just filled: the oldest due rows are read in index order (``ix_deliveries_due``)
        until ``limit * _WINDOW`` pass the per-row checks (a primary-key lookup of the
        platform; not a held chat), and only those few are joined and ranked.
        """
        d2, s2, s3 = _D.alias("d2"), _SUBS.alias("s2"), _SUBS.alias("s3")
        held_chats = (  # chats with a live claim: few rows (workers x batch)
            select(s2.c.platform, s2.c.destination)
            .join(d2, d2.c.subscription_id == s2.c.id)
            .where(d2.c.status == "pending", d2.c.claimed_until > now)
        )
        held = select(s3.c.id).where(tuple_(s3.c.platform, s3.c.destination).in_(held_chats))
        platform = (
            select(_SUBS.c.platform).where(_SUBS.c.id == _D.c.subscription_id).scalar_subquery()
        )
        window = (
            select(_D.c.id, _D.c.due_at, _D.c.subscription_id)
            .where(
                _D.c.status == "pending",
                _D.c.due_at <= now,
                free,
                platform.in_(platforms),
                _D.c.subscription_id.not_in(held),
            )
            # due_at alone: the index's own order, so the scan stops after the window.
            .order_by(_D.c.due_at)
            .limit(limit * _WINDOW)
            .subquery()
        )
        rank = (
            func.row_number()
            .over(
                partition_by=(_SUBS.c.platform, _SUBS.c.destination),
                order_by=(window.c.due_at, window.c.id),
            )
            .label("rank")
        )
        ranked = (
            select(window.c.id, window.c.due_at, rank)
            .join(_SUBS, _SUBS.c.id == window.c.subscription_id)
            .subquery()
        )
        return (
            select(ranked.c.id)
            .where(ranked.c.rank <= per_chat)
            .order_by(ranked.c.due_at, ranked.c.id)
            .limit(limit)
        )

    def _load_claims(self, s: Session, ids: list[int], token: str) -> list[ClaimedDelivery]:
        """The claimed rows with their destination and cards, in one query."""
        if not ids:
            return []
        rows = s.execute(
            select(_D, _SUBS.c.platform, _SUBS.c.destination, _SUBS.c.thread)
            .add_columns(_SUBS.c.timezone, _SUBS.c.language, _SUBS.c.active)
            .add_columns(_SUBS.c.paused_reason, _ITEMS.c.card_id.label("card_id"))
            .join(_SUBS, _SUBS.c.id == _D.c.subscription_id)
            .outerjoin(_ITEMS, _ITEMS.c.delivery_id == _D.c.id)
            .where(_D.c.id.in_(ids))
            .order_by(_D.c.due_at, _D.c.id, _ITEMS.c.position, _ITEMS.c.card_id)
        ).all()
        cards: dict[int, list[int]] = {}
        first: dict[int, Any] = {}
        for r in rows:
            first.setdefault(r.id, r)
            if r.card_id is not None:
                cards.setdefault(r.id, []).append(r.card_id)
        return [
            ClaimedDelivery(
                id=r.id,
                token=token,
                claimed_until=r.claimed_until,
                subscription_id=r.subscription_id,
                destination=Destination(r.platform, r.destination, r.thread),
                kind=r.kind,
                slot=r.slot,
                due_at=r.due_at,
                attempts=r.attempts,
                card_ids=tuple(cards.get(r.id, ())),
                timezone=r.timezone,
                language=r.language,
                active=r.active,
                paused_reason=r.paused_reason,
            )
            for r in first.values()
        ]

    def extend(self, tokens: Iterable[str], lease: timedelta) -> set[int]:
        """Push the claims of ``tokens`` out to now + ``lease``; returns the ids still held
        (a delivery claimed again by another worker after our lease lapsed is not)."""
        wanted = sorted(set(tokens))
        if not wanted:
            return set()
        until = self._clock.now() + lease
        with self._session() as s:
            return set(
                s.scalars(
                    update(_D)
                    .where(_D.c.claim_token.in_(wanted), _D.c.status == "pending")
                    .values(claimed_until=until)
                    .returning(_D.c.id)
                )
            )

    # -- outcomes ------------------------------------------------------------------------

    def finish(self, results: Sequence[tuple[ClaimedDelivery, Outcome]]) -> set[int]:
        """Record outcomes in one transaction (the worker's group commit). Each applies only
        while the claim is still ours (same token, still pending); returns the ids that
        were. Every message a send produced goes to ``sent_messages``, whatever became of
        the claim: the message exists, and a reply to it must find its card."""
        if not results:
            return set()
        now = self._clock.now()
        posted = [
            row
            for claim, outcome in results
            if isinstance(outcome, Sent)
            for row in _posted_rows(claim, outcome.receipt, now)
        ]
        with self._session() as s:
            ours = self._still_ours(s, [claim for claim, _ in results])
            mine = [(c, o) for c, o in results if c.id in ours]
            for statement, rows in _updates(mine, now):
                if rows:
                    s.execute(statement, rows)  # executemany: one round trip per shape
            if posted:
                alive = self._existing(s, _CARDS, {r["card_id"] for r in posted if r["card_id"]})
                kept = self._existing(s, _D, {r["delivery_id"] for r in posted})
                for row in posted:
                    if row["card_id"] not in alive:  # its card was removed meanwhile
                        row["card_id"] = None
                    if row["delivery_id"] not in kept:  # unsubscribed while it was sent
                        row["delivery_id"] = None
                insert = postgresql.insert if self._postgres else sqlite.insert
                s.execute(insert(_SENT).on_conflict_do_nothing(), posted)
        return ours

    def _still_ours(self, s: Session, claims: list[ClaimedDelivery]) -> set[int]:
        """The ids whose claim is still the given one. On PostgreSQL the rows are locked
        until the transaction ends; on SQLite the updates re-check the token themselves
        (so this answer can only be wrong for a log line, never for the data)."""
        tokens = {c.id: c.token for c in claims}
        ours: set[int] = set()
        wanted = sorted(tokens)
        for start in range(0, len(wanted), _CHUNK):
            query = select(_D.c.id, _D.c.claim_token).where(
                _D.c.id.in_(wanted[start : start + _CHUNK]), _D.c.status == "pending"
            )
            if self._postgres:
                query = query.with_for_update()
            ours.update(i for i, token in s.execute(query) if token == tokens[i])
        return ours

    def _existing(self, s: Session, table: Table, ids: set[int]) -> set[int]:
        """Which of ``ids`` still have a row in ``table``."""
        found: set[int] = set()
        wanted = sorted(ids)
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            found.update(s.scalars(select(table.c.id).where(table.c.id.in_(part))))
        return found

    def mark_sent(self, claim: ClaimedDelivery, receipt: SendReceipt) -> bool:
        return claim.id in self.finish([(claim, Sent(receipt))])

    def retry_later(
        self, claim: ClaimedDelivery, at: datetime, error: str, *, refund: bool = False
    ) -> bool:
        return claim.id in self.finish([(claim, Retry(at, error, refund))])

    def reject(self, claim: ClaimedDelivery, reason: str) -> bool:
        return claim.id in self.finish([(claim, Final("rejected", reason))])

    def drop(self, claim: ClaimedDelivery, reason: str) -> bool:
        return claim.id in self.finish([(claim, Final("dropped", reason))])

    def fail(self, claim: ClaimedDelivery, reason: str) -> bool:
        return claim.id in self.finish([(claim, Final("failed", reason))])

    def release(self, claims: Sequence[ClaimedDelivery]) -> set[int]:
        """Give claimed, unsent deliveries back (their attempt refunded): a worker that
        stops releases what it did not send, so others need not wait for the lease."""
        return self.finish([(c, RELEASE) for c in claims])


def _posted_rows(
    claim: ClaimedDelivery, receipt: SendReceipt, now: datetime
) -> list[dict[str, Any]]:
    single = claim.card_ids[0] if claim.kind == "card" and claim.card_ids else None
    return [
        {
            "platform": claim.destination.platform,
            "chat": m.chat or claim.destination.chat,
            "message_id": m.message_id,
            "card_id": m.card_id if m.card_id is not None else single,
            "delivery_id": claim.id,
            "created_at": now,
        }
        for m in receipt.messages
    ]


_OURS = (
    _D.c.id == bindparam("b_id"),
    _D.c.claim_token == bindparam("b_token"),
    _D.c.status == "pending",
)
_ENDED = {"claimed_until": None, "claim_token": None}
_SENT_UPDATE = (
    update(_D)
    .where(*_OURS)
    .values(status="sent", sent_at=bindparam("b_now"), message_ids=bindparam("b_ids"), **_ENDED)
)
_FINAL_UPDATE = (
    update(_D)
    .where(*_OURS)
    .values(status=bindparam("b_status"), last_error=bindparam("b_error"), **_ENDED)
)
_RETRY_UPDATE = (
    update(_D)
    .where(*_OURS)
    .values(
        due_at=func.coalesce(bindparam("b_at", type_=UTCDateTime), _D.c.due_at),
        last_error=func.coalesce(bindparam("b_error", type_=Text), _D.c.last_error),
        attempts=_D.c.attempts - bindparam("b_refund", type_=Integer),
        **_ENDED,
    )
)


def _updates(
    results: Sequence[tuple[ClaimedDelivery, Outcome]], now: datetime
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The outcome updates, grouped by statement shape, as executemany parameters."""
    sent: list[dict[str, Any]] = []
    final: list[dict[str, Any]] = []
    retry: list[dict[str, Any]] = []
    for claim, outcome in results:
        key = {"b_id": claim.id, "b_token": claim.token}
        if isinstance(outcome, Sent):
            ids = [m.message_id for m in outcome.receipt.messages]
            sent.append({**key, "b_now": now, "b_ids": ids})
        elif isinstance(outcome, Final):
            final.append({**key, "b_status": outcome.status, "b_error": outcome.error[:2000]})
        else:
            error = outcome.error[:2000] if outcome.error is not None else None
            refund = 1 if outcome.refund else 0
            retry.append({**key, "b_at": outcome.at, "b_error": error, "b_refund": refund})
    return [(_SENT_UPDATE, sent), (_FINAL_UPDATE, final), (_RETRY_UPDATE, retry)]
