"""``python -m bot [--role all|worker|gateway]``: the long-running process.

Reads settings (``DIGEST_ROLE`` is the default role), then runs the role (``bot.runtime``)
until SIGINT/SIGTERM, and exits 0 after a clean shutdown: sends in flight finish, claimed
deliveries not yet sent are given back. Exit 2: a wrong setting, or a gateway with no
platform to run; 1: the database cannot be opened.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.runtime import run
from digest.cli_runner import setup_logging
from digest.config import load_settings
from digest.errors import ConfigError, DigestError

log = logging.getLogger("bot")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role",
        choices=("all", "worker", "gateway"),
        help="all: everything in one process (default, or DIGEST_ROLE); worker: poll,"
        " summarize, enqueue and deliver; gateway: only the chat adapters",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(**({"role": args.role} if args.role else {}))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)

    async def serve() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run(settings, stop)

    try:
        status = asyncio.run(serve())
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except DigestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if status == 0:
        log.info("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
