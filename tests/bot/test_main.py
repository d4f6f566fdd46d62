"""`python -m bot`: the worker loop, clean shutdown on SIGTERM, and bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.__main__ import run_worker
from digest.app import open_app
from digest.config import Settings
from digest.sample_feeds import sample_feed_urls

ROOT = Path(__file__).resolve().parents[2]


async def test_the_worker_polls_due_feeds_and_writes_cards(settings: Settings) -> None:
    async with open_app(settings) as app:
        for url in sample_feed_urls():
            app.service.add_feed_unchecked(url)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(settings.model_copy(update={"worker_tick": 0.05}), stop)
    )
    async with open_app(settings) as app:
        for _ in range(200):
            if app.repo.counts()["cards"]:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(worker, timeout=10)
        counts = app.repo.counts()
    assert counts["feeds"] == len(sample_feed_urls())
    assert counts["cards"] == counts["stories"] > 0


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "DATABASE_URL"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", DIGEST_WORKER_TICK="0.2", **extra)
    return env


def test_sigterm_stops_the_process_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while "running the digest worker" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=30)[1]
    assert process.returncode == 0, seen + rest
    assert "stopped" in rest
    assert "Traceback" not in seen + rest


def test_a_wrong_setting_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=_env(tmp_path, DIGEST_FETCH_MAX_BYTES="lots"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: setting DIGEST_FETCH_MAX_BYTES: Input should be a valid integer,"
        " unable to parse string as an integer (got 'lots')"
    )
