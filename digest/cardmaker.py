"""Writing cards for new stories: which engine, within which budget, exactly once.

Called by ``digest.service.DigestService.make_cards`` (CLI ``digest poll``, the worker).

- Each story is *claimed* before its card is written, so two processes never pay for the
  same story; the card row's unique story id settles any race that is left.
- The model engine is used while today's spend (cards and answers since midnight UTC) is
  under ``DIGEST_DAILY_BUDGET_USD``; past it, new stories get offline cards marked
  ``offline-budget`` until the day turns.
- A model failure (rate limit, overload, timeout, after the SDK's own retries) leaves the
  story without a card for the next round rather than giving it a worse one; the rest of
  the round waits too, since the API is likely still failing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta

from digest.config import Settings
from digest.errors import ModelError
from digest.models import Card, CardDraft, Story
from digest.ports import BatchCardEngine, CardEngine, Clock
from digest.store.ledger import Ledger
from digest.store.repository import Repository

log = logging.getLogger(__name__)

BUDGET_ENGINE = "offline-budget"
# Long enough for a model request with its retries; a crashed process's claim runs out.
CLAIM_LEASE = timedelta(minutes=10)
# Message Batches: used for a backlog of at least BATCH_MIN stories when DIGEST_USE_BATCHES
# is on; a batch is given up after BATCH_MAX_WAIT, and its stories stay claimed meanwhile.
BATCH_MIN = 10
BATCH_MAX_WAIT = 2 * 3600.0
BATCH_LEASE = timedelta(seconds=BATCH_MAX_WAIT + 1800)
# How many recent cards "Related" looks among.
RELATED_POOL = 300

RelatedFinder = Callable[[Card, Sequence[Card]], list[int]]


class CardMaker:
    def __init__(
        self,
        *,
        settings: Settings,
        repo: Repository,
        ledger: Ledger,
        engine: CardEngine,
        offline: CardEngine,
        clock: Clock,
        related: RelatedFinder | None = None,
    ) -> None:
        self._settings = settings
        self._repo = repo
        self._ledger = ledger
        self._engine = engine
        self._offline = offline
        self._clock = clock
        self._related = related

    @property
    def uses_model(self) -> bool:
        return self._engine is not self._offline

    async def make_cards(self, limit: int) -> list[int]:
        """Cards for up to ``limit`` stories that have none; returns the new cards' ids."""
        batching = self._batching()
        lease = BATCH_LEASE if batching else CLAIM_LEASE
        stories = self._repo.claim_stories_for_cards(limit=limit, lease=lease)
        made: list[int] = []
        recent = self._recent_cards() if self._related and stories else []
        batched: dict[int, CardDraft] = {}
        if batching and len(stories) >= BATCH_MIN and self.within_budget():
            batched = await self._batch(stories)
        for index, story in enumerate(stories):
            try:
                draft = batched.get(story.id) or await self._draft(story)
            except ModelError as e:
                log.warning(
                    "model unavailable, %d stories wait for the next round: %s",
                    len(stories) - index,
                    e,
                )
                for waiting in stories[index:]:
                    self._repo.release_story(waiting.id)
                break
            except Exception:  # one bad story must not stop the others
                log.exception("card for story %s failed", story.id)
                self._repo.release_story(story.id)
                continue
            related = self._find_related(story, draft, recent)
            card_id = self._repo.save_card(story.id, draft, related=related)
            if card_id is not None:
                made.append(card_id)
                if self._related:
                    recent.insert(0, self._repo.get_card(card_id))
                    del recent[RELATED_POOL:]
        return made

    def _batching(self) -> bool:
        return self._settings.use_batches and isinstance(self._engine, BatchCardEngine)

    async def _batch(self, stories: list[Story]) -> dict[int, CardDraft]:
        """Drafts from one Message Batch (half price); stories it could not do are left out
        and take the single-request path below."""
        assert isinstance(self._engine, BatchCardEngine)
        try:
            drafts = await self._engine.make_cards_batch(
                stories,
                language=self._settings.language,
                poll_interval=self._settings.batch_poll_interval,
                max_wait=BATCH_MAX_WAIT,
            )
        except ModelError as e:
            log.warning("batch of %d stories failed, trying one by one: %s", len(stories), e)
            return {}
        return drafts

    async def _draft(self, story: Story) -> CardDraft:
        language = self._settings.language
        if not self.uses_model:
            return await self._offline.make_card(story, language=language)
        if not self.within_budget():
            draft = await self._offline.make_card(story, language=language)
            return dataclasses.replace(draft, engine=BUDGET_ENGINE)
        return await self._engine.make_card(story, language=language)

    def within_budget(self) -> bool:
        """Whether today's model spend is still under the daily budget."""
        return self.spent_today() < self._settings.daily_budget_usd

    def spent_today(self) -> float:
        midnight = (
            self._clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        return self._ledger.cost_since(midnight)

    def _recent_cards(self) -> list[Card]:
        return self._repo.list_cards(limit=RELATED_POOL)

    def _find_related(self, story: Story, draft: CardDraft, recent: list[Card]) -> list[int]:
        if self._related is None or not recent:
            return []
        lead = story.lead
        probe = Card(
            id=0,
            story_id=story.id,
            title=story.title,
            url=lead.url,
            source=lead.source_name,
            published_at=lead.published_at,
            category=draft.category,
            summary=draft.summary,
            takeaways=draft.takeaways,
            why_it_matters=draft.why_it_matters,
            faq=draft.faq,
            engine=draft.engine,
            created_at=self._clock.now(),
        )
        return self._related(probe, recent)[:3]
