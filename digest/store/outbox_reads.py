"""What the outbox tells readers: the cards of claimed deliveries (the worker), the card
behind a message the bot posted (a reply or a button on it, ``/ask``), and counts per status
(``digest status``, the bench). A mixin of ``digest.store.outbox.Outbox``, split from it for
size; it runs in the outbox's transactions. Raises ``StorageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import cast

from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session

from digest.models import Card
from digest.store.convert import load_cards
from digest.store.tables import (
    CardRow,
    DeliveryItemRow,
    DeliveryRow,
    SentMessageRow,
    SubscriptionRow,
)

_D = cast(Table, DeliveryRow.__table__)
_SUBS = cast(Table, SubscriptionRow.__table__)
_ITEMS = cast(Table, DeliveryItemRow.__table__)
_SENT = cast(Table, SentMessageRow.__table__)
CHUNK = 500  # ids per IN (...) list, under SQLite's bound-parameter limit


class OutboxReads:
    # A transaction, as the class this is mixed into (Outbox) opens them.
    _session: Callable[[], AbstractContextManager[Session]]

    def cards(self, ids: Iterable[int]) -> dict[int, Card]:
        """Cards by id; removed ones are left out."""
        wanted = sorted(set(ids))
        found: dict[int, Card] = {}
        with self._session() as s:
            for start in range(0, len(wanted), CHUNK):
                part = wanted[start : start + CHUNK]
                for card in load_cards(s, select(CardRow).where(CardRow.id.in_(part))):
                    found[card.id] = card
        return found

    def card_for_message(self, platform: str, chat: str, message_id: str) -> int | None:
        """The card a posted message shows: how a reply (or a button) on it finds its card.
        ``None`` for a message the bot did not post, or one showing several cards."""
        with self._session() as s:
            return s.scalar(
                select(_SENT.c.card_id).where(
                    _SENT.c.platform == platform,
                    _SENT.c.chat == str(chat),
                    _SENT.c.message_id == str(message_id),
                )
            )

    def latest_card_in(self, platform: str, chat: str, thread: str = "") -> int | None:
        """The card of the newest message the bot posted in ``chat`` (``/ask`` without a
        reply asks about it): a card message's card, a digest's first card. With ``thread``
        only messages delivered to that thread count (a Discord thread posts as a chat of
        its own, a Telegram forum topic inside its chat). ``None`` when there is none."""
        first_item = (
            select(_ITEMS.c.card_id)
            .where(_ITEMS.c.delivery_id == _SENT.c.delivery_id)
            .order_by(_ITEMS.c.position)
            .limit(1)
            .scalar_subquery()
        )
        query = select(func.coalesce(_SENT.c.card_id, first_item)).where(
            _SENT.c.platform == platform,
            _SENT.c.chat.in_([str(chat), thread] if thread else [str(chat)]),
            or_(_SENT.c.card_id.is_not(None), _SENT.c.delivery_id.is_not(None)),
        )
        if thread:
            query = (
                query.join(_D, _D.c.id == _SENT.c.delivery_id)
                .join(_SUBS, _SUBS.c.id == _D.c.subscription_id)
                .where(_SUBS.c.thread == thread)
            )
        with self._session() as s:
            for (card_id,) in s.execute(query.order_by(_SENT.c.id.desc()).limit(5)):
                if card_id is not None:
                    return int(card_id)
        return None

    def status_counts(self) -> dict[str, int]:
        """Deliveries per status (the bench, tests and operators' checks)."""
        with self._session() as s:
            rows = s.execute(select(_D.c.status, func.count()).group_by(_D.c.status)).all()
        return {status: int(n) for status, n in rows}
