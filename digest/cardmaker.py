"""Writing cards for new stories: which engine, within which budget, exactly once.

Called by ``digest.service.DigestService.make_cards`` (CLI ``digest poll``, the worker).

- Each story is *claimed* right before its card is written, one at a time, for longer than
  the slowest card can take (``CLAIM_LEASE``: every request a card may make, each at its
  longest wait), so two processes never pay for the same story; the card row's unique
  story id settles any race that is left, and a claim that is no longer ours is never
  released (see ``digest.store.cards.StoryClaim``).
- The model engine is used while today's spend (every paid reply since midnight UTC, see
  ``digest.spend``) is under ``DIGEST_DAILY_BUDGET_USD``; past it, new stories get offline
  cards marked ``offline-budget`` until the day turns. The engine itself asks the budget
  again before each retry or regeneration.
- With ``DIGEST_USE_BATCHES`` and a backlog of at least ``BATCH_MIN`` stories, the stories
  go into a Message Batch at half price (``digest.card_batches``); each round first
  collects the batches that have ended, whichever process submitted them.
- A model failure (rate limit, overload, timeout, after the SDK's own retries) leaves the
  story without a card for the next round rather than giving it a worse one; the rest of
  the round waits too, since the API is likely still failing.
- Languages: the card above is the story's *default* card, in ``DIGEST_LANGUAGE``; it goes
  at once to the subscribers who asked for no language (or for that one). Then each round
  writes, one claimed (story, language) at a time, a card in every other language an active
  subscription asked for (``digest.store.language_cards``), within the same budget. When
  such a card cannot be made, that language's subscribers get the default card instead,
  never nothing: at once with the offline engine (it cannot translate), when the budget is
  spent, or when the engine fell back to an extractive card; and, should the model keep
  failing, once the default card is ``TRANSLATION_WAIT`` old.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from digest.card_batches import BATCH_LEASE, CardBatches
from digest.config import Settings
from digest.errors import ModelError
from digest.languages import language_key, language_name
from digest.models import Card, CardDraft, Story
from digest.ports import CardEngine, Clock, SpendMeter
from digest.spend import BUDGET_ENGINE
from digest.store.cards import StoryClaim
from digest.store.language_cards import TRANSLATION_WAIT
from digest.store.repository import Repository

log = logging.getLogger(__name__)

# A card makes at most 3 requests (a retry of invalid output, a claim-check regeneration),
# each given up after anthropic_client.LONGEST_WAIT (300 s) with the SDK's retries; the rest
# is margin. A claim that ran out could be taken by another process, which would pay again.
CLAIM_LEASE = timedelta(minutes=20)
# Message Batches: used for a backlog of at least BATCH_MIN stories.
BATCH_MIN = 10
# How many recent cards "Related" looks among.
RELATED_POOL = 300

RelatedFinder = Callable[[Card, Sequence[Card]], list[int]]


class CardMaker:
    def __init__(
        self,
        *,
        settings: Settings,
        repo: Repository,
        budget: SpendMeter,
        engine: CardEngine,
        offline: CardEngine,
        clock: Clock,
        related: RelatedFinder | None = None,
        batches: CardBatches | None = None,
    ) -> None:
        self._settings = settings
        self._repo = repo
        self._budget = budget
        self._engine = engine
        self._offline = offline
        self._clock = clock
        self._related = related
        self._batches = batches if settings.use_batches else None
        self._recent: list[Card] | None = None

    @property
    def uses_model(self) -> bool:
        return self._engine is not self._offline

    async def make_cards(self, limit: int) -> list[int]:
        """Cards for up to ``limit`` stories that have none; returns the new cards' ids."""
        self._recent = None  # "Related" looks at the cards as they are this round
        made: list[int] = []
        if self._batches is not None:
            made += await self._batches.collect(self.save)
            if await self._submit_batch(limit):
                return made + await self._language_cards(limit, model_up=True)
        model_up = True
        for _ in range(limit):
            claims = self._repo.claim_stories_for_cards(limit=1, lease=CLAIM_LEASE)
            if not claims:
                break
            claim = claims[0]
            try:
                draft = await self._draft(claim.story)
            except ModelError as e:
                log.warning("model unavailable; stories wait for the next round: %s", e)
                self._repo.release_story(claim)
                model_up = False
                break
            except Exception:  # one bad story must not stop the others
                # Its claim is kept until it runs out: released, the story would be the
                # next one claimed, and fail again, in this very loop.
                log.exception("card for story %s failed", claim.story.id)
                continue
            card_id = self.save(claim.story, draft)
            if card_id is not None:
                made.append(card_id)
        return made + await self._language_cards(limit, model_up=model_up)

    async def _language_cards(self, limit: int, *, model_up: bool) -> list[int]:
        """The cards in the subscribers' other languages (see the module docstring), at
        most ``limit`` written; ``model_up`` False after a model failure this round: only
        the default cards that waited long enough are handed out."""
        wanted = self._repo.wanted_languages()
        if not wanted:
            return []
        overdue = self._clock.now() - TRANSLATION_WAIT
        for late in self._repo.claim_language_cards(
            wanted=wanted, limit=limit * len(wanted), lease=CLAIM_LEASE, carded_before=overdue
        ):
            story_id, key = late.story.id, late.lang_key
            log.info("story %s: no card in %r in time; the default one goes", story_id, key)
            self._repo.settle_with_default(late)
        if not model_up:
            return []
        default_key = language_key(self._settings.language)
        made: list[int] = []
        written = 0
        # Read once, claimed one at a time, right before each card is written (a claim
        # must not run out while others are written); the claim decides, not the read.
        for story_id, key in self._repo.language_card_candidates(wanted=wanted):
            if written >= limit:
                break
            claim = self._repo.claim_language_card(story_id, key, lease=CLAIM_LEASE)
            if claim is None:
                continue
            if key == default_key or not self.uses_model:
                self._repo.settle_with_default(claim)  # nothing to write
                continue
            written += 1
            try:
                card_id = await self._language_card(claim)
            except ModelError as e:
                log.warning("model unavailable; language cards wait for a round: %s", e)
                break
            if card_id is not None:
                made.append(card_id)
        return made

    async def _language_card(self, claim: StoryClaim) -> int | None:
        """Write ``claim``'s card in its language: the new card's id; ``None`` when the
        default card went instead (or the card could not be written: its claim runs out,
        then the default card goes). Raises ``ModelError`` (the claim given back) when the
        model failed."""
        if not self._budget.allows():
            self._repo.settle_with_default(claim)
            return None
        language = language_name(claim.lang_key)
        try:
            draft = await self._engine.make_card(claim.story, language=language)
        except ModelError:
            self._repo.release_story(claim)
            raise
        except Exception:  # one bad story must not stop the others
            log.exception("%s card for story %s failed", language, claim.story.id)
            return None
        if draft.language is None:  # the engine fell back to the source's own words
            self._repo.settle_with_default(claim)
            return None
        return self._repo.save_card(claim.story.id, draft, lang_key=claim.lang_key)

    async def _submit_batch(self, limit: int) -> bool:
        """Put a backlog into a Message Batch; whether one was submitted."""
        assert self._batches is not None
        if not self.uses_model or not self._budget.allows():
            return False
        if self._repo.count_stories_without_cards() < BATCH_MIN:
            return False
        claims = self._repo.claim_stories_for_cards(limit=limit, lease=BATCH_LEASE)
        if len(claims) < BATCH_MIN:  # most of the backlog is someone else's already
            for claim in claims:
                self._repo.release_story(claim)
            return False
        try:
            await self._batches.submit(claims, language=self._settings.language)
        except ModelError as e:
            log.warning("card batch not submitted; trying one by one: %s", e)
            return False
        return True

    async def _draft(self, story: Story) -> CardDraft:
        language = self._settings.language
        if not self.uses_model:
            return await self._offline.make_card(story, language=language)
        if not self._budget.allows():
            draft = await self._offline.make_card(story, language=language)
            return dataclasses.replace(draft, engine=BUDGET_ENGINE)
        return await self._engine.make_card(story, language=language)

    def save(self, story: Story, draft: CardDraft) -> int | None:
        """Store ``draft`` as ``story``'s card with its related cards; the new card's id, or
        ``None`` when the story already had one."""
        recent = self._recent_cards() if self._related else []
        related = self._find_related(story, draft, recent)
        card_id = self._repo.save_card(
            story.id, draft, related=related, default_language=self._settings.language
        )
        if card_id is not None and self._related:
            recent.insert(0, self._repo.get_card(card_id))
            del recent[RELATED_POOL:]
        return card_id

    def _recent_cards(self) -> list[Card]:
        if self._recent is None:
            self._recent = self._repo.list_cards(limit=RELATED_POOL)
        return self._recent

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
