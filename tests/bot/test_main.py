"""`python -m bot`: roles, the scheduler's jobs, clean shutdown on SIGTERM, bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bot.__main__ import parse_args
from bot.runtime import build_delivery_worker, run
from bot.scheduler import JOB_IDS, Jobs
from digest.app import open_app
from digest.config import Settings
from digest.errors import ConfigError
from digest.ports import SystemClock
from digest.sample_feeds import sample_feed_urls
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.repository import Repository
from tests.support.deliveries import add_subscriptions, deliveries, make_card
from tests.support.fake_platform import FakePlatform
from tests.support.fake_sender import FakeSender
from tests.support.processes import start_worker, wait_for_line

ROOT = Path(__file__).resolve().parents[2]


def quick(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(
        update={
            "worker_tick": 0.05,
            "summarize_interval": 0.05,
            "enqueue_interval": 0.05,
            "deliver_interval": 0.05,
            **changes,
        }
    )


async def wait_until(condition, within: float = 20) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_the_worker_role_polls_summarizes_and_delivers(settings: Settings) -> None:
    async with open_app(settings) as app:
        for url in sample_feed_urls():
            app.service.add_feed_unchecked(url)
        add_subscriptions(app.repo.engine, ["42"])
    sender = FakeSender()
    stop = asyncio.Event()
    running = asyncio.create_task(
        run(quick(settings, role="worker"), stop, senders={"fake": sender})
    )
    async with open_app(settings) as app:
        await wait_until(lambda: app.repo.counts()["cards"] > 0 and sender.sent)
        stop.set()
        assert await asyncio.wait_for(running, timeout=20) == 0
        counts = app.repo.counts()
    assert counts["cards"] == counts["stories"] > 0
    assert {m.destination.chat for m in sender.sent} == {"42"}  # new cards reached the chat


async def test_the_jobs_run_one_at_a_time_and_coalesce(settings: Settings) -> None:
    async with open_app(settings) as app:
        jobs = Jobs(settings, app, build_delivery_worker(settings, app, {"fake": FakeSender()}))
        scheduler = jobs.start()
        try:
            found = {job.id: job for job in scheduler.get_jobs()}
            assert set(found) == set(JOB_IDS)
            for job in found.values():
                assert job.max_instances == 1 and job.coalesce and job.misfire_grace_time is None
                assert isinstance(job.trigger, IntervalTrigger)
            assert found["deliver"].trigger.interval.total_seconds() == settings.deliver_interval
            assert found["poll"].trigger.interval.total_seconds() == settings.worker_tick
        finally:
            await jobs.shutdown(grace=1)


async def test_shutdown_waits_for_the_send_in_flight_and_gives_back_the_rest(
    settings: Settings,
) -> None:
    async with open_app(settings) as app:
        add_subscriptions(app.repo.engine, [str(n) for n in range(6)])
        make_card(app.repo)
        sender = FakeSender()
        sender.hold()
        worker = build_delivery_worker(settings, app, {"fake": sender})
        jobs = Jobs(quick(settings), app, worker)
        jobs.start()
        await wait_until(lambda: sender.in_flight > 0)
        shutting = asyncio.create_task(jobs.shutdown(grace=5))
        await asyncio.sleep(0.1)
        sender.release()
        await asyncio.wait_for(shutting, 10)
        rows = deliveries(app.repo.engine)
    assert sender.sent  # the send in flight at shutdown went out
    assert sorted({r.status for r in rows}) == ["pending", "sent"]
    assert all(r.claim_token is None for r in rows)
    assert len([r for r in rows if r.status == "sent"]) == len(sender.sent)


def test_the_role_comes_from_the_command_line_or_the_settings() -> None:
    assert parse_args(["--role", "worker"]).role == "worker"
    assert parse_args([]).role is None
    with pytest.raises(SystemExit):
        parse_args(["--role", "everything"])


async def test_a_gateway_with_no_platform_says_so(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="no chat platform token is set"):
        await run(settings.model_copy(update={"role": "gateway"}), asyncio.Event())


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DIGEST_", "DATABASE_URL", "TELEGRAM_", "DISCORD_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        DIGEST_WORKER_TICK="0.2",
        DIGEST_STARTER_FEEDS="none",  # no network here
        **extra,
    )
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
    assert "no chat platform token is set (TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN)" in seen
    assert "stopped" in rest
    assert "Traceback" not in seen + rest


def test_a_gateway_process_with_no_token_exits_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--role", "gateway"],
        cwd=tmp_path,
        env=_env(tmp_path, TELEGRAM_BOT_TOKEN="  "),  # blank is unset
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: no chat platform token is set (TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN):"
        " the gateway role has nothing to run"
    )


def test_sigterm_lets_a_worker_finish_its_send_and_release_its_claims(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"

    async def scenario() -> None:
        engine = make_engine(url)
        upgrade(engine)
        add_subscriptions(engine, [str(n) for n in range(20)], platform="telegram")
        make_card(Repository(engine, SystemClock()))
        async with FakePlatform(latency=1.0) as platform:  # every send takes a second
            log = tmp_path / "worker.log"
            worker = start_worker(tmp_path, url, platform.url, log, DIGEST_DELIVERY_CONCURRENCY="3")
            try:
                await wait_until(lambda: platform.attempts >= 3, within=60)
                worker.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(worker.wait, 30) == 0
            finally:
                worker.kill()
            wait_for_line(log, "stopped")
            rows = deliveries(engine)
            accepted = len(platform.accepted)
        engine.dispose()
        assert accepted >= 3  # the sends in flight finished...
        assert len([r for r in rows if r.status == "sent"]) == accepted  # ...and were recorded
        assert all(r.claim_token is None and r.claimed_until is None for r in rows)
        assert all(r.attempts == 0 for r in rows if r.status == "pending")  # given back

    asyncio.run(scenario())


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
