"""The worker side's interval jobs on APScheduler 3's ``AsyncIOScheduler``.

Four jobs: poll due feeds, summarize new stories (write cards, which fans them out into
the outbox), enqueue due digests, deliver. Each runs every ``DIGEST_*_INTERVAL`` seconds,
at most one instance at a time, missed runs coalesced into one. Several processes may run
the same jobs at once: the scheduler only says *when* to look; what to do comes from the
database (feed, story and delivery claims, unique constraints), never from the scheduler,
whose job store is not shared between processes.

Shutdown (``Jobs.shutdown``): the delivery worker is told to stop first (it finishes the
sends in flight and gives the rest back), then the scheduler stops, then the work in
flight gets ``DIGEST_SHUTDOWN_GRACE`` seconds before it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeAlias

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from digest.app import App
from digest.config import Settings
from digest.delivery.worker import DeliveryWorker
from digest.errors import DigestError
from digest.poller import summarize_reports

log = logging.getLogger("bot")

JOB_IDS = ("poll", "summarize", "enqueue", "deliver")
Work: TypeAlias = Callable[[], Awaitable[None]]


class _QuietSkips(logging.Filter):
    """A delivery round outlasting its interval is normal (it keeps going while work is
    due), so APScheduler's "skipped: maximum number of running instances" is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


class Jobs:
    """The job functions and the work they have in flight."""

    def __init__(self, settings: Settings, app: App, worker: DeliveryWorker | None) -> None:
        self.settings = settings
        self.app = app
        self.worker = worker
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.in_flight: set[asyncio.Task[None]] = set()

    def start(self) -> AsyncIOScheduler:
        """Add the jobs (each runs once at once, then every interval) and start."""
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("apscheduler.scheduler").addFilter(_QuietSkips())
        intervals = {
            "poll": self.settings.worker_tick,
            "summarize": self.settings.summarize_interval,
            "enqueue": self.settings.enqueue_interval,
            "deliver": self.settings.deliver_interval,
        }
        work: dict[str, Work] = {
            "poll": self.poll,
            "summarize": self.summarize,
            "enqueue": self.enqueue,
            "deliver": self.deliver,
        }
        now = datetime.now(UTC)
        for job_id in JOB_IDS:
            if job_id == "deliver" and self.worker is None:
                continue
            self.scheduler.add_job(
                self._tracked(job_id, work[job_id]),
                IntervalTrigger(seconds=intervals[job_id]),
                id=job_id,
                name=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,  # late is fine: run once, as soon as possible
                next_run_time=now,
            )
        self.scheduler.start()
        return self.scheduler

    # -- the jobs ----------------------------------------------------------------------

    async def poll(self) -> None:
        reports = await self.app.service.poll()
        totals = summarize_reports(reports)
        if totals["feeds"]:
            log.info("poll: %s", totals)

    async def summarize(self) -> None:
        cards = await self.app.service.make_cards()
        if cards:
            log.info("summarize: %d new cards", len(cards))
            self.kick("deliver")

    async def enqueue(self) -> None:
        # Blocking database work; short, and the scheduler's other jobs can wait for it.
        enqueued = await asyncio.to_thread(self.app.service.enqueue_due_digests)
        if enqueued:
            log.info("enqueue: %d digests due", enqueued)
            self.kick("deliver")

    async def deliver(self) -> None:
        if self.worker is not None:
            await self.worker.drain()

    def kick(self, job_id: str) -> None:
        """Run a job now rather than at its next interval (new deliveries are waiting)."""
        job = self.scheduler.get_job(job_id)
        if job is not None and self.scheduler.running:
            job.modify(next_run_time=datetime.now(UTC))

    # -- running and stopping ----------------------------------------------------------

    def _tracked(
        self, name: str, work: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """The function the scheduler runs: the work goes in a task of its own, so that
        the scheduler's shutdown (which cancels running jobs) cannot cut a send in half;
        ``shutdown`` waits for it instead."""

        async def guarded() -> None:
            try:
                await work()
            except DigestError as e:
                log.error("%s failed: %s", name, e)
            except Exception:  # a bug in one run must not stop the job for good
                log.exception("%s failed unexpectedly", name)

        async def job() -> None:
            task = asyncio.create_task(guarded(), name=f"job-{name}")
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})

        return job

    async def shutdown(self, grace: float) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if not self.in_flight:
            return
        _, late = await asyncio.wait(set(self.in_flight), timeout=grace)
        for task in late:
            log.warning("%s still running after %.0f s: cancelled", task.get_name(), grace)
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
