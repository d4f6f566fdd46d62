"""What a claim hands the delivery worker, and what the worker hands back: the values that
cross between ``digest.delivery.worker`` and ``digest.store.outbox``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.delivery.sender import SendReceipt
from digest.models import Destination


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this worker may send until ``claimed_until`` (lease ``token``).
    ``attempts`` includes this one. ``active``/``paused_reason``: its subscription's state
    now (a paused subscription's claimed delivery is dropped, not sent)."""

    id: int
    token: str
    claimed_until: datetime
    subscription_id: int
    destination: Destination
    kind: str
    slot: datetime | None
    due_at: datetime
    attempts: int
    card_ids: tuple[int, ...]
    timezone: str = "UTC"
    language: str | None = None
    active: bool = True
    paused_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    receipt: SendReceipt


@dataclass(frozen=True, slots=True)
class Retry:
    """Back to pending, due at ``at`` (``None``: unchanged). ``refund``: the attempt did
    not count (never sent, or the platform only asked us to wait)."""

    at: datetime | None
    error: str | None = None
    refund: bool = False


@dataclass(frozen=True, slots=True)
class Final:
    """ "failed" (attempts used up), "rejected" (content refused), "dropped" (destination
    gone, subscription paused, cards removed)."""

    status: str
    error: str


Outcome = Sent | Retry | Final
RELEASE = Retry(at=None, refund=True)  # given back unsent (shutdown, lease in doubt)
