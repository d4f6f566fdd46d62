"""``python -m bot`` as an operator runs it, for end-to-end tests against the local fakes.

The process starts in a temporary folder (no ``.env`` is read there) with an environment
cleaned of the developer's own settings (``DIGEST_*``, ``DATABASE_URL``, the chat tokens
and endpoints, the model key), so only what a test passes applies. Its stdout and stderr go
to two files the test reads while the process runs; every wait is asynchronous, because the
fake chat servers run in the test's event loop and must keep answering meanwhile.
"""

# The waits take a ``timeout`` argument, as the fakes' waits do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Inherited variables that would change what the bot does (or where it connects).
_OWN_SETTINGS = (
    "DIGEST_",
    "DATABASE_URL",
    "TELEGRAM_",
    "DISCORD_",
    "ANTHROPIC_",
    "SUMMARIZER",
)


def bot_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment for ``python -m bot``: the inherited one without our settings, then
    a quiet worker (no starter feeds, jobs every fraction of a second) and ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_SETTINGS)}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        DIGEST_STARTER_FEEDS="none",  # no network here
        DIGEST_LOG_LEVEL="INFO",
        DIGEST_WORKER_TICK="1",
        DIGEST_SUMMARIZE_INTERVAL="0.5",
        DIGEST_ENQUEUE_INTERVAL="0.5",
        DIGEST_DELIVER_INTERVAL="0.2",
    )
    env.update(settings)
    return env


class BotProcess:
    """One ``python -m bot [args]`` subprocess; ``stop`` or ``kill`` it when done."""

    def __init__(self, folder: Path, env: dict[str, str], *args: str) -> None:
        self.stdout_path = folder / "bot.stdout"
        self.stderr_path = folder / "bot.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *args], cwd=folder, env=env, stdout=out, stderr=err
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    async def wait_for_log(self, text: str, *, count: int = 1, timeout: float = 60.0) -> str:
        """Wait until ``text`` appears ``count`` times on stderr; returns stderr so far.
        Raises ``AssertionError`` (with the log) when the process exits first or on
        timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            seen = self.stderr
            if seen.count(text) >= count:
                return seen
            if not self.running():
                raise AssertionError(
                    f"python -m bot exited ({self.process.returncode}) before logging "
                    f"{text!r}:\n{seen}"
                )
            if loop.time() > deadline:
                raise AssertionError(f"{text!r} not logged within {timeout} s:\n{seen}")
            await asyncio.sleep(0.05)

    async def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as a service manager sends; the exit status. Raises
        ``subprocess.TimeoutExpired`` when the process outlives ``timeout``."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    def kill(self) -> None:
        """Make sure the process is gone (a failed test's cleanup)."""
        if self.running():
            self.process.kill()
            self.process.wait(10)
