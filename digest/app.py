"""The composition root: builds every part of the core from ``Settings``.

Entry points (the ``digest`` CLI, ``python -m bot``) call ``open_app``; tests call it too,
swapping in fakes through its keyword arguments. Nothing else constructs real parts.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from digest.card_batches import CardBatches
from digest.cardmaker import CardMaker
from digest.config import Settings
from digest.ingest.extract import extract_article
from digest.ingest.fetch import HttpFetcher
from digest.ingest.parse import parse_feed
from digest.poller import Poller
from digest.ports import (
    BatchCardEngine,
    CardEngine,
    Clock,
    Fetcher,
    ModelAnswerer,
    SystemClock,
)
from digest.questions import QuestionDesk
from digest.sample_feeds import SampleFetcher
from digest.service import DigestService
from digest.spend import DailyBudget
from digest.store.batches import BatchStore
from digest.store.db import make_engine
from digest.store.ledger import Ledger
from digest.store.migrate import upgrade
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionStore
from digest.summarize.anthropic_answer import ClaudeAnswerer
from digest.summarize.anthropic_client import build_client, model_for
from digest.summarize.anthropic_engine import ClaudeEngine
from digest.summarize.claims import unsupported_terms
from digest.summarize.offline import OfflineEngine
from digest.summarize.related import related_cards


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    service: DigestService
    repo: Repository


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    fetcher: Fetcher | None = None,
    card_engine: CardEngine | None = None,
    model_answerer: ModelAnswerer | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> AsyncIterator[App]:
    """Build the app, migrate the database, and close everything on exit.

    Raises ``StorageError`` when the database cannot be reached or migrated.
    """
    clock = clock or SystemClock()
    db = make_engine(settings.database_url)
    http: HttpFetcher | None = None
    client = None
    try:
        upgrade(db)
        if fetcher is None:
            http = HttpFetcher(settings)
            fetcher = SampleFetcher(http)
        repo = Repository(db, clock)
        poller = Poller(
            settings=settings,
            repo=repo,
            fetcher=fetcher,
            parse=parse_feed,
            extract=extract_article,
            clock=clock,
            rng=rng,
        )
        ledger = Ledger(db)
        budget = DailyBudget(ledger, clock, daily_usd=settings.daily_budget_usd)
        offline = OfflineEngine(settings.categories)
        if card_engine is None and uses_claude(settings):
            client = build_client(settings)  # once, shared by cards and answers
            model = model_for(settings)
            card_engine = ClaudeEngine(
                client,
                model=model,
                categories=settings.categories,
                fallback=offline,
                claim_check=unsupported_terms,
                meter=budget,
            )
            model_answerer = model_answerer or ClaudeAnswerer(client, model=model, meter=budget)
        batches = None
        bulk: object = card_engine  # a card engine that may also take Message Batches
        if settings.use_batches and isinstance(bulk, BatchCardEngine):
            batches = CardBatches(bulk, repo=repo, store=BatchStore(db, clock), clock=clock)
        cards = CardMaker(
            settings=settings,
            repo=repo,
            budget=budget,
            engine=card_engine or offline,
            offline=offline,
            clock=clock,
            related=related_cards,
            batches=batches,
        )
        questions = QuestionDesk(
            settings=settings,
            repo=repo,
            ledger=ledger,
            clock=clock,
            model=model_answerer,
            within_budget=budget.allows,
        )
        service = DigestService(
            repo=repo,
            poller=poller,
            cards=cards,
            questions=questions,
            ledger=ledger,
            fetcher=fetcher,
            parse=parse_feed,
            clock=clock,
            subscriptions=SubscriptionStore(db, clock),
            categories=settings.categories,
            allow_private_networks=settings.allow_private_networks,
        )
        yield App(settings=settings, service=service, repo=repo)
    finally:
        if http is not None:
            await http.aclose()
        if client is not None:
            await client.close()
        db.dispose()


def uses_claude(settings: Settings) -> bool:
    """SUMMARIZER=anthropic, or auto with an API key."""
    if settings.summarizer == "offline":
        return False
    return settings.anthropic_api_key is not None
