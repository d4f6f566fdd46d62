"""What ``python -m bot`` runs, by role, until it is told to stop.

- ``all`` (default): the worker side and the chat gateways, in one process.
- ``worker``: poll feeds, write cards, enqueue digests, deliver; no gateway. Run as many
  as you like against one PostgreSQL: they share the work through the database.
- ``gateway``: only the chat adapters (commands, replies, questions).

Deliveries go out through the platforms whose token is set; a delivery to a platform no
running worker can send to stays pending until one can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from bot.platforms import build_platforms, configured, why_none
from bot.scheduler import Jobs
from digest.app import App, open_app
from digest.config import Settings
from digest.delivery.pacing import Pacer, rates_from_settings
from digest.delivery.policy import WorkerOptions
from digest.delivery.sender import Sender
from digest.delivery.worker import DeliveryWorker
from digest.errors import ConfigError
from digest.ports import SystemClock
from digest.starter import seed_starter_feeds
from digest.store.outbox import Outbox

log = logging.getLogger("bot")


def build_delivery_worker(
    settings: Settings, app: App, senders: Mapping[str, Sender]
) -> DeliveryWorker:
    """The delivery worker over the app's database, sending through ``senders``."""
    return DeliveryWorker(
        outbox=Outbox(app.repo.engine, SystemClock()),
        senders=senders,
        destinations=app.service.subscriptions,
        pacer=Pacer(rates_from_settings(settings)),
        clock=SystemClock(),
        options=WorkerOptions.from_settings(settings),
    )


async def run(
    settings: Settings, stop: asyncio.Event, *, senders: Mapping[str, Sender] | None = None
) -> int:
    """Run ``settings.role`` until ``stop`` is set; returns the exit status.

    ``senders`` replaces the platforms' senders (tests and benchmarks use fakes). Raises
    ``ConfigError`` for a gateway with no platform to run, ``DigestError`` when the
    database cannot be opened.
    """
    role = settings.role
    names = configured(settings)
    if role == "gateway" and not names:
        raise ConfigError(f"{why_none()}: the gateway role has nothing to run")
    if not names and senders is None:
        log.warning(
            "%s: running the digest worker only; deliveries wait until a platform is set up",
            why_none(),
        )
    async with open_app(settings) as app:
        if role in ("all", "worker"):
            seed_starter_feeds(app.service, settings.starter_feeds)
        platforms = build_platforms(settings, app, names)
        jobs = None
        try:
            if role in ("all", "worker"):
                chosen = dict(senders) if senders is not None else {}
                if senders is None:
                    chosen = {p.name: p.sender for p in platforms}
                worker = build_delivery_worker(settings, app, chosen) if chosen else None
                jobs = Jobs(settings, app, worker)
                jobs.start()
                log.info(
                    "running the digest worker (role %s; delivering to %s)",
                    role,
                    ", ".join(sorted(chosen)) or "no platform",
                )
            gateways = []
            if role in ("all", "gateway"):
                gateways = [asyncio.create_task(p.serve(stop), name=p.name) for p in platforms]
                for p in platforms:
                    log.info("starting the %s gateway", p.name)
            status = await _until_stopped(stop, gateways, gateway_only=role == "gateway")
            log.info("stopping")
            if jobs is not None:
                await jobs.shutdown(settings.shutdown_grace)
            if gateways:
                await asyncio.gather(*gateways, return_exceptions=True)
        finally:
            for platform in platforms:
                await platform.aclose()
    return status


async def _until_stopped(
    stop: asyncio.Event, gateways: list[asyncio.Task[None]], *, gateway_only: bool
) -> int:
    """Wait for ``stop``. A gateway that ends on its own (a refused token) is reported; a
    gateway-only process whose gateways have all ended stops with status 1, so a service
    manager sees the failure instead of an idle process."""
    stopping = asyncio.create_task(stop.wait())
    running = set(gateways)
    try:
        while running:
            done, _ = await asyncio.wait(running | {stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                return 0
            for task in done:
                running.discard(task)
                error = None if task.cancelled() else task.exception()
                # The type only: the adapter logged the cause (its text may hold a token).
                why = f" ({type(error).__name__})" if error else ""
                log.error("the %s gateway stopped%s", task.get_name(), why)
        if gateway_only and gateways:
            log.error("no chat gateway is running: exiting")
            return 1
        await stopping
        return 0
    finally:
        stopping.cancel()
