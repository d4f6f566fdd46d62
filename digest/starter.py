"""The starter feeds: what a fresh install follows, so a bot with a token delivers real
news at once.

``DIGEST_STARTER_FEEDS`` says where they come from: "builtin" (``digest/starter_feeds.opml``,
shipped with the package), a path to an OPML file of your own, or "none". They are imported
only while the database has no feed at all: an operator who removes them all and wants none
sets "none"; any later change goes through ``digest feeds``.

Called by ``python -m bot`` (``bot.runtime``) at start. Raises ``ConfigError`` for a file
that cannot be read or is not OPML (a setting is wrong: say so, don't run on nothing).
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from digest.errors import ConfigError, OpmlError
from digest.service import DigestService, ImportResult

log = logging.getLogger("digest")

BUILTIN = "builtin"
NONE = "none"


def starter_opml(setting: str) -> bytes | None:
    """The OPML the setting names; ``None`` for "none". Raises ``ConfigError``."""
    choice = setting.strip()
    if choice.lower() == NONE:
        return None
    if choice.lower() == BUILTIN:
        return (resources.files("digest") / "starter_feeds.opml").read_bytes()
    try:
        return Path(choice).expanduser().read_bytes()
    except OSError as e:
        raise ConfigError(
            f"DIGEST_STARTER_FEEDS: cannot read {choice!r} ({e.strerror or e});"
            ' give an OPML file, "builtin" or "none"'
        ) from None


def seed_starter_feeds(service: DigestService, setting: str) -> ImportResult | None:
    """Import the starter feeds when there is no feed yet; ``None`` when nothing was done.
    Two processes starting at once both import: duplicates are skipped, none is doubled."""
    if service.list_feeds():
        return None
    data = starter_opml(setting)
    if data is None:
        return None
    try:
        result = service.import_opml(data)
    except OpmlError as e:
        raise ConfigError(f"DIGEST_STARTER_FEEDS: {e}") from None
    log.info(
        "no feeds yet: added %d starter feeds (%s); see them with `digest feeds list`",
        len(result.added),
        setting,
    )
    for url, why in result.invalid:
        log.warning("starter feed %s skipped: %s", url, why)
    return result
