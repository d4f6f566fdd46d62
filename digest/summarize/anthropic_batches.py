"""Cards for many stories through the Message Batches API, at half price.

Called through ``ClaudeEngine.make_cards_batch`` for bulk work (the first poll of many
feeds, with ``DIGEST_USE_BATCHES=true``). What one call does:

1. One batch item per story, ``custom_id`` ``story-{id}``, whose params are built by
   ``ClaudeEngine.card_params``: exactly the first request ``make_card`` would send. More
   than ``MAX_BATCH_REQUESTS`` items, or ``MAX_BATCH_BYTES`` of them, go into further
   batches, run side by side.
2. Create the batch, then ``retrieve`` it every ``poll_interval`` seconds (``asyncio.sleep``)
   until its ``processing_status`` is ``ended``. After ``max_wait`` seconds it is cancelled;
   the results of a cancelled batch are read when it ends within ``CANCEL_POLLS`` more
   polls, and otherwise every item counts as failed.
3. Stream the results and match them to stories by ``custom_id`` (the API promises no
   order). A succeeded item's answer, priced at the batch rate, is the first attempt of the
   normal card path (``ClaudeEngine.complete_card``): the same validation, the same one
   retry (a single request, naming what was wrong), the same claim check with its one
   regeneration (a single request), the same offline fallback and refusal handling.
4. Per-item fallback: an errored, expired or cancelled item, or one missing from the
   results, goes through ``ClaudeEngine.make_card`` (single requests, its own retry and
   offline fallback), at most ``FALLBACK_CONCURRENCY`` at a time. A story whose single path
   raises ``ModelError`` is left out of the result: the caller retries it next round. After
   ``GIVE_UP_AFTER`` such errors in a row the API is taken to be down and the stories still
   waiting for a single request are left out too.

Errors: failing to create or poll the batch (after the SDK's retries, and for polling
``MAX_POLL_FAILURES`` polls in a row) raises ``ModelError``, scrubbed of the API key by
``anthropic_client.model_error``; a batch given up on that way, or by cancellation of the
caller's task, is cancelled on a best-effort basis so unprocessed items are not billed.
With several batches, ``ModelError`` is raised only when every one failed; the stories of
a failed one are left out. Failing to read results is not an error: the unread items take
the per-item fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, TypeVar

import anthropic
from anthropic.types.messages import MessageBatch, MessageBatchResult
from anthropic.types.messages.batch_create_params import Request

from digest.errors import ModelError
from digest.models import CardDraft, Story
from digest.summarize.anthropic_client import LONGEST_WAIT, model_error, reply_from_message

if TYPE_CHECKING:
    from digest.summarize.anthropic_engine import ClaudeEngine

log = logging.getLogger(__name__)

POLL_INTERVAL = 30.0
MAX_WAIT = 24 * 3600.0  # batches end (or expire) within 24 hours
CANCEL_POLLS = 3  # polls after a cancel, waiting for the items already done
MAX_POLL_FAILURES = 3  # failed polls in a row before the batch is given up
# The API takes up to 100,000 requests or 256 MB per batch; stay well inside both.
MAX_BATCH_REQUESTS = 10_000
MAX_BATCH_BYTES = 200 * 1024 * 1024
FALLBACK_CONCURRENCY = 4  # stories finished at once (each may make single requests)
GIVE_UP_AFTER = 3  # ModelErrors in a row on the single-request path
CANCEL_TIMEOUT = 30.0  # the longest a best-effort cancel may take

_T = TypeVar("_T")


def custom_id(story: Story) -> str:
    """The batch item id of ``story``."""
    return f"story-{story.id}"


async def make_cards_batch(
    engine: ClaudeEngine,
    client: anthropic.AsyncAnthropic,
    stories: Sequence[Story],
    *,
    language: str | None = None,
    poll_interval: float = POLL_INTERVAL,
    max_wait: float = MAX_WAIT,
) -> dict[int, CardDraft]:
    """Story id -> card draft for ``stories`` (see the module docstring); a story missing
    from the result is one to retry later. Raises ``ModelError`` when the batch API fails."""
    if poll_interval < 0 or max_wait < 0:
        raise ValueError("poll_interval and max_wait must not be negative")
    by_id: dict[int, Story] = {}
    for story in stories:
        by_id.setdefault(story.id, story)  # one item per story: custom_ids must be unique
    unique = list(by_id.values())
    if not unique:
        return {}
    run = _BatchRun(engine, client, language, poll_interval, max_wait)
    chunks = _chunks([(story, run.request(story)) for story in unique])
    outcomes = await asyncio.gather(*(run.run(chunk) for chunk in chunks), return_exceptions=True)
    drafts: dict[int, CardDraft] = {}
    errors: list[ModelError] = []
    for outcome in outcomes:
        if isinstance(outcome, ModelError):
            errors.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            drafts.update(outcome)
    if errors and len(errors) == len(chunks):
        raise errors[0]
    for error in errors:
        log.warning("a card batch failed; its stories are left for the next round: %s", error)
    return {story.id: drafts[story.id] for story in unique if story.id in drafts}


_Chunk = list[tuple[Story, Request]]


def _chunks(items: _Chunk) -> list[_Chunk]:
    """``items`` cut into batches the API accepts (see ``MAX_BATCH_*``)."""
    chunks: list[_Chunk] = [[]]
    size = 0
    for story, request in items:
        item_size = len(json.dumps(request, ensure_ascii=False).encode())
        if chunks[-1] and (
            len(chunks[-1]) >= MAX_BATCH_REQUESTS or size + item_size > MAX_BATCH_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append((story, request))
        size += item_size
    return chunks


class _BatchRun:
    """What the batches of one ``make_cards_batch`` call share."""

    def __init__(
        self,
        engine: ClaudeEngine,
        client: anthropic.AsyncAnthropic,
        language: str | None,
        poll_interval: float,
        max_wait: float,
    ) -> None:
        self.engine = engine
        self.client = client
        self.language = language
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.slots = asyncio.Semaphore(FALLBACK_CONCURRENCY)
        self.errors_in_a_row = 0

    def request(self, story: Story) -> Request:
        return {
            "custom_id": custom_id(story),
            "params": self.engine.card_params(story, language=self.language),
        }

    async def run(self, chunk: _Chunk) -> dict[int, CardDraft]:
        """Create one batch, wait for it, and finish every story in it."""
        batches = self.client.messages.batches
        batch = await self.api(batches.create(requests=[request for _, request in chunk]))
        log.info("card batch %s created with %d stories", batch.id, len(chunk))
        try:
            ended = await self.wait(batch)
        except (ModelError, asyncio.CancelledError):
            await self.cancel_quietly(batch.id)
            raise
        results = await self.results(ended.id) if ended is not None else {}
        by_story = [(story, results.get(request["custom_id"])) for story, request in chunk]
        succeeded = sum(1 for _, r in by_story if r is not None and r.type == "succeeded")
        log.info(
            "card batch %s: %d of %d items succeeded; the rest go through single requests",
            batch.id,
            succeeded,
            len(chunk),
        )
        drafts = await asyncio.gather(*(self.card(story, result) for story, result in by_story))
        return {story.id: d for (story, _), d in zip(chunk, drafts, strict=True) if d is not None}

    async def api(self, call: Awaitable[_T]) -> _T:
        """One batch API call: SDK errors and waits past ``LONGEST_WAIT`` -> ``ModelError``."""
        try:
            async with asyncio.timeout(LONGEST_WAIT):
                return await call
        except anthropic.APIError as e:
            raise model_error(e, self.client.api_key) from e
        except TimeoutError as e:
            raise ModelError(
                f"the batch API did not answer within {LONGEST_WAIT:.0f} s, retries included"
            ) from e

    async def wait(self, batch: MessageBatch) -> MessageBatch | None:
        """The batch once ended; ``None`` when it did not end in time (it is cancelled)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        failures = 0
        while batch.processing_status != "ended":
            remaining = deadline - loop.time()
            if remaining <= 0:
                return await self.cancel(batch.id)
            await asyncio.sleep(min(self.poll_interval, remaining))
            try:
                batch = await self.api(self.client.messages.batches.retrieve(batch.id))
            except ModelError as e:
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    raise
                log.warning("card batch %s: poll %d failed: %s", batch.id, failures, e)
            else:
                failures = 0
        return batch

    async def cancel(self, batch_id: str) -> MessageBatch | None:
        """Cancel a batch that took too long: the ended batch, to read what finished before
        the cancel, or ``None`` when it does not end within ``CANCEL_POLLS`` polls."""
        log.warning(
            "card batch %s did not end within %.0f s: cancelling it", batch_id, self.max_wait
        )
        batches = self.client.messages.batches
        try:
            batch = await self.api(batches.cancel(batch_id))
            for _ in range(CANCEL_POLLS):
                if batch.processing_status == "ended":
                    return batch
                await asyncio.sleep(self.poll_interval)
                batch = await self.api(batches.retrieve(batch_id))
        except ModelError as e:
            log.warning("card batch %s: cancelling failed: %s", batch_id, e)
            return None
        return batch if batch.processing_status == "ended" else None

    async def cancel_quietly(self, batch_id: str) -> None:
        """Best effort: a batch we no longer wait for should not bill unprocessed items."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_TIMEOUT):
                await self.client.messages.batches.cancel(batch_id)
                log.warning("card batch %s cancelled: its stories are left for later", batch_id)

    async def results(self, batch_id: str) -> dict[str, MessageBatchResult]:
        """Result by ``custom_id``; what cannot be read is left out (and falls back)."""
        found: dict[str, MessageBatchResult] = {}
        try:
            decoder = await self.api(self.client.messages.batches.results(batch_id))
        except ModelError as e:
            log.warning("card batch %s: results unavailable: %s", batch_id, e)
            return found
        try:
            async for line in decoder:
                found[line.custom_id] = line.result
        except Exception as e:  # a broken stream or line: keep what was read
            log.warning(
                "card batch %s: reading results stopped after %d items (%s)",
                batch_id,
                len(found),
                type(e).__name__,
            )
        finally:
            await decoder.close()
        return found

    async def card(self, story: Story, result: MessageBatchResult | None) -> CardDraft | None:
        """The card for ``story`` from its batch result, or through single requests."""
        async with self.slots:
            first = None
            if result is not None and result.type == "succeeded":
                first = reply_from_message(result.message, self.engine.model, batch=True)
            else:
                why: str = "missing" if result is None else result.type
                if result is not None and result.type == "errored":
                    why += f" ({result.error.error.type})"
                if self.errors_in_a_row >= GIVE_UP_AFTER:
                    log.warning("story %s: batch item %s; left for later", story.id, why)
                    return None
                log.info("story %s: batch item %s; making the card alone", story.id, why)
            try:
                draft = await self.engine.complete_card(story, first, language=self.language)
            except ModelError as e:
                self.errors_in_a_row += 1
                log.warning("story %s: no card this round: %s", story.id, e)
                return None
            self.errors_in_a_row = 0
            return draft
