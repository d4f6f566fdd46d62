"""How often one person's button taps may make the bot post (``handlers_buttons``).

Every card button answers with a new message in the chat. Without a limit one person
tapping (or a script sending callback queries) could make the bot post without end, so in
groups and private chats:

- the same button (card, action, FAQ question) answers the same person at most once per
  ``SAME_BUTTON_EVERY`` seconds (the answer is still right above);
- one person gets at most ``TAPS_PER_MINUTE`` posted answers per minute.

A refused tap gets a short alert instead. In channels the bot never posts for a tap
(``handlers_buttons`` answers there with an alert only), so no limit is needed there.

State is in memory and bounded: a restart forgets it, which at worst allows one more burst.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import TypeVar

SAME_BUTTON_EVERY = 30.0  # seconds
TAPS_PER_MINUTE = 10
_WINDOW = 60.0
_REMEMBERED = 10_000  # people and buttons kept (oldest forgotten first)

SAME_BUTTON = "Already answered above; try again in a little while."
TOO_MANY = "Too many taps; wait a minute and try again."

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ButtonLimits:
    """Decides whether a tap may post. Used by ``CardButtons.on_tap`` only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buttons: OrderedDict[Hashable, float] = OrderedDict()  # (user, button) -> when
        self._users: OrderedDict[int, deque[float]] = OrderedDict()  # user -> recent answers

    def refusal(self, user_id: int, button: Hashable) -> str | None:
        """None when ``user_id`` may get an answer to ``button`` now (the answer is then
        counted); else the alert text saying why not."""
        now = self._clock()
        key = (user_id, button)
        last = self._buttons.get(key)
        if last is not None and now - last < SAME_BUTTON_EVERY:
            return SAME_BUTTON
        recent = self._users.get(user_id) or deque()
        while recent and now - recent[0] >= _WINDOW:
            recent.popleft()
        if len(recent) >= TAPS_PER_MINUTE:
            return TOO_MANY
        recent.append(now)
        _remember(self._users, user_id, recent)
        _remember(self._buttons, key, now)
        return None


def _remember(table: OrderedDict[K, V], key: K, value: V) -> None:
    """Store ``value`` as the newest entry, forgetting the oldest beyond ``_REMEMBERED``."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > _REMEMBERED:
        table.popitem(last=False)
