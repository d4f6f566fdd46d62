"""The roster of delivery workers: which workers send to each platform right now.

Several worker processes sharing one bot (``--role worker`` on one PostgreSQL) must stay
under the platform's overall rate together (Telegram: 30 messages/s per bot). Each drain
that has deliveries to send checks in here every few seconds, for a short while
(``alive_until``), and learns how many workers send to each of its platforms; it paces at
the overall rate divided by that number (``digest.delivery.pacing.Pacer.share``). A
worker that stops checks out; one that dies drops off the roster when its time runs out.
Idle workers are not on it, so a lone busy worker keeps the whole rate.

Called by ``digest.delivery.run``. Raises ``StorageError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import cast

from sqlalchemy import Engine, Table, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from digest.ports import Clock
from digest.store.db import transaction
from digest.store.tables import DeliveryWorkerRow

_W = cast(Table, DeliveryWorkerRow.__table__)


class DeliveryRoster:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self._sessions)

    def check_in(self, worker: str, platforms: Iterable[str], ttl: timedelta) -> dict[str, int]:
        """``worker`` sends to ``platforms`` for ``ttl`` more; returns how many workers send
        to each of them now, this one included."""
        names = sorted(set(platforms))
        if not names:
            return {}
        now = self._clock.now()
        insert = (postgresql.insert if self._postgres else sqlite.insert)(_W)
        upsert = insert.values(
            [{"worker": worker, "platform": p, "alive_until": now + ttl} for p in names]
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[_W.c.worker, _W.c.platform],
            set_={"alive_until": upsert.excluded.alive_until},
        )
        dead = select(_W.c.worker, _W.c.platform).where(_W.c.alive_until <= now)
        if self._postgres:  # two workers clearing the dead at once never wait for each other
            dead = dead.with_for_update(skip_locked=True)
        with self._session() as s:
            s.execute(delete(_W).where(tuple_(_W.c.worker, _W.c.platform).in_(dead)))
            s.execute(upsert)
            rows = s.execute(
                select(_W.c.platform, func.count())
                .where(_W.c.platform.in_(names), _W.c.alive_until > now)
                .group_by(_W.c.platform)
            ).all()
        counts = {platform: int(n) for platform, n in rows}
        return {p: max(1, counts.get(p, 0)) for p in names}

    def check_out(self, worker: str) -> None:
        """``worker`` sends nothing more for now: the others may take its share."""
        with self._session() as s:
            s.execute(delete(_W).where(_W.c.worker == worker))
