"""``python -m bot``: the long-running process.

Today it runs the digest worker: poll due feeds and write cards, every
``DIGEST_WORKER_TICK`` seconds, until SIGINT/SIGTERM. The chat adapters (Telegram, Discord)
and the scheduler with process roles plug in here as they land.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from digest.app import open_app
from digest.cli import setup_logging
from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError
from digest.poller import summarize_reports

log = logging.getLogger("bot")


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Poll and write cards until ``stop`` is set; a failed round is logged, not fatal."""
    async with open_app(settings) as app:
        log.info("no chat platform is configured yet; running the digest worker only")
        while not stop.is_set():
            try:
                reports = await app.service.poll()
                cards = await app.service.make_cards()
                totals = summarize_reports(reports)
                if totals["feeds"] or cards:
                    log.info("poll round: %s, %d new cards", totals, len(cards))
            except DigestError as e:
                log.error("poll round failed: %s", e)
            except Exception:  # a bug in one round must not stop the worker for good
                log.exception("poll round failed unexpectedly")
            with contextlib.suppress(TimeoutError):  # the tick passed: poll again
                await asyncio.wait_for(stop.wait(), timeout=settings.worker_tick)


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    try:
        asyncio.run(run())
    except DigestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
