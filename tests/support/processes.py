"""Worker processes for the crash tests: ``tests.support.worker_process`` started with a
clean environment (no developer ``DIGEST_*`` settings, no ``.env``: it runs in a temporary
folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def worker_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        PYTHONPATH=str(ROOT),
        DIGEST_LOG_LEVEL="INFO",
        DIGEST_WORKER_TICK="3600",  # no feeds here: only the deliver job matters
        DIGEST_STARTER_FEEDS="none",
        DIGEST_SUMMARIZE_INTERVAL="3600",
        DIGEST_ENQUEUE_INTERVAL="3600",
        DIGEST_DELIVER_INTERVAL="0.1",
        DIGEST_DELIVERY_LEASE="5",
        DIGEST_SEND_TIMEOUT="2",
    )
    env.update(settings)
    return env


def start_worker(
    folder: Path, database_url: str, platform_url: str, log: Path, **settings: str
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_process", platform_url],
            cwd=folder,
            env=worker_env(database_url, **settings),
            stdout=out,
            stderr=out,
        )


def wait_for_line(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text.encode() in log.read_bytes():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {log}:\n{log.read_text(errors='replace')}")
