"""``python -m bot --role worker`` with the fake platform's sender plugged in: a real worker
process for the crash tests and the crash benchmark (kill -9, SIGTERM, restarts).

    DATABASE_URL=... python -m tests.support.worker_process http://127.0.0.1:PORT [PLATFORM]

Settings come from the environment as for ``python -m bot``; deliveries to ``PLATFORM``
(default "telegram", so ``DIGEST_TELEGRAM_*`` pace them) go to the fake platform at the URL.
It prints "ready" on stderr once the scheduler runs, and exits 0 after SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.runtime import run
from digest.cli_runner import setup_logging
from digest.config import load_settings
from tests.support.fake_platform import HttpSender


async def _main(url: str, platform: str) -> int:
    settings = load_settings(role="worker")
    setup_logging(settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sender = HttpSender(url, platform=platform)
    try:
        return await run(settings, stop, senders={platform: sender})
    finally:
        await sender.aclose()
        logging.getLogger("bot").info("stopped")


def main() -> int:
    url = sys.argv[1]
    platform = sys.argv[2] if len(sys.argv) > 2 else "telegram"
    return asyncio.run(_main(url, platform))


if __name__ == "__main__":
    sys.exit(main())
