"""The Message Batches API, stateless: create batches of card requests, ask how they are
doing, cancel them, read their results. Nothing here waits, sleeps or remembers.

Called by ``digest.card_batches.CardBatches``, which keeps each batch in the database and
comes back every round of the card maker (so a batch outlives the process that made it):

* ``submit(engine, stories, language=...)`` creates the batches: one item per story,
  ``custom_id`` ``story-{id}``, whose params are ``engine.card_params(story, language=...)``,
  exactly the first request a single card would send. More than ``MAX_BATCH_REQUESTS``
  items, or ``MAX_BATCH_BYTES`` of them, go into further batches. ``on_created`` is called
  with each batch as soon as it exists, so the caller can store it before the next one is
  created; when it raises, that batch is cancelled (best effort) and the error re-raised.
* ``status(client, batch_id)``: ``"in_progress"``, ``"canceling"`` or ``"ended"``.
* ``cancel(client, batch_id)``: asks the API to cancel; items already processed keep (and
  bill) their results, which ``results`` reads once the batch has ended.
* ``results(client, batch_id, model)``: story id -> the ``Reply`` of a succeeded item
  (priced at the batch rate), or the type of a failed one (``"errored"``, ``"canceled"``,
  ``"expired"``). Items missing from the results are absent; so are items after a broken
  stream (what was read is kept).

Errors: every call is one API request (``results``: two, then the stream), given up after
``anthropic_client.LONGEST_WAIT`` with the SDK's retries; failures raise ``ModelError``,
scrubbed of the API key by ``anthropic_client.model_error``. ``submit`` raises only when
its first batch could not be created: with later ones failing, it returns the batches it
made and the caller treats the other stories as not submitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import anthropic
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.messages.batch_create_params import Request

from digest.errors import ModelError
from digest.models import Story
from digest.summarize.anthropic_client import LONGEST_WAIT, Reply, model_error, reply_from_message

if TYPE_CHECKING:
    from digest.ports import BatchCardEngine

log = logging.getLogger(__name__)

# For digest.ports, which may not import the SDK itself (see tests/test_layers.py).
Client: TypeAlias = anthropic.AsyncAnthropic
CardParams: TypeAlias = MessageCreateParamsNonStreaming

# The API takes up to 100,000 requests or 256 MB per batch; stay well inside both.
MAX_BATCH_REQUESTS = 10_000
MAX_BATCH_BYTES = 200 * 1024 * 1024
CANCEL_TIMEOUT = 30.0  # the longest a best-effort cancel may take
_ID_PREFIX = "story-"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Submitted:
    """A batch that exists at the API, and the stories it asks cards for."""

    batch_id: str
    story_ids: tuple[int, ...]


def custom_id(story_id: int) -> str:
    """The batch item id of a story."""
    return f"{_ID_PREFIX}{story_id}"


def story_id_of(item_id: str) -> int | None:
    """The story of a batch item id; ``None`` for an id this module did not make."""
    number = item_id.removeprefix(_ID_PREFIX)
    if number == item_id or not number.isdigit():
        return None
    return int(number)


async def submit(
    engine: BatchCardEngine,
    stories: Sequence[Story],
    *,
    language: str | None,
    on_created: Callable[[Submitted], None] | None = None,
) -> list[Submitted]:
    """Create the batches for ``stories`` (one item per story id) through ``engine.client``;
    see the module docstring. Raises ``ModelError`` when no batch could be created, and
    whatever ``on_created`` raises."""
    unique: dict[int, Story] = {}
    for story in stories:
        unique.setdefault(story.id, story)  # custom_ids must be unique within a batch
    items = [(story.id, _request(engine, story, language)) for story in unique.values()]
    made: list[Submitted] = []
    for chunk in _chunks(items):
        try:
            batch = await _call(
                engine.client, engine.client.messages.batches.create(requests=[r for _, r in chunk])
            )
        except ModelError as e:
            if not made:
                raise
            log.warning(
                "card batch of %d stories not created (%d batches were): %s",
                len(chunk),
                len(made),
                e,
            )
            break
        submitted = Submitted(batch.id, tuple(story_id for story_id, _ in chunk))
        log.info("card batch %s created with %d stories", batch.id, len(chunk))
        if on_created is not None:
            try:
                on_created(submitted)
            except BaseException:
                # Nobody will ever collect it: stop what is not processed yet from billing.
                await cancel_quietly(engine.client, batch.id)
                raise
        made.append(submitted)
    return made


def _request(engine: BatchCardEngine, story: Story, language: str | None) -> Request:
    return {
        "custom_id": custom_id(story.id),
        "params": engine.card_params(story, language=language),
    }


def _chunks(
    items: list[tuple[int, Request]],
) -> list[list[tuple[int, Request]]]:
    """``items`` cut into batches the API accepts (see ``MAX_BATCH_*``)."""
    chunks: list[list[tuple[int, Request]]] = [[]]
    size = 0
    for story_id, request in items:
        item_size = len(json.dumps(request, ensure_ascii=False).encode())
        if chunks[-1] and (
            len(chunks[-1]) >= MAX_BATCH_REQUESTS or size + item_size > MAX_BATCH_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append((story_id, request))
        size += item_size
    return [chunk for chunk in chunks if chunk]


async def status(client: Client, batch_id: str) -> str:
    """The batch's ``processing_status``: ``"in_progress"``, ``"canceling"`` or ``"ended"``.
    Raises ``ModelError``."""
    batch = await _call(client, client.messages.batches.retrieve(batch_id))
    return batch.processing_status


async def cancel(client: Client, batch_id: str) -> str:
    """Ask the API to cancel the batch; its ``processing_status`` afterwards (``"ended"``
    when nothing was left running). Raises ``ModelError``."""
    batch = await _call(client, client.messages.batches.cancel(batch_id))
    return batch.processing_status


async def cancel_quietly(client: Client, batch_id: str) -> None:
    """``cancel`` on a best-effort basis, within ``CANCEL_TIMEOUT``: for a batch nobody will
    collect, so that its unprocessed items are not billed."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CANCEL_TIMEOUT):
            await client.messages.batches.cancel(batch_id)
            log.warning("card batch %s cancelled: nobody could collect it", batch_id)


async def results(client: Client, batch_id: str, model: str) -> dict[int, Reply | str]:
    """Story id -> the ``Reply`` of a succeeded item (batch price for ``model``), or the
    result type of any other item. Raises ``ModelError`` when the results cannot be opened
    (the batch has not ended, is unknown, the API fails); a stream that breaks, or takes
    longer than ``LONGEST_WAIT``, keeps what was read."""
    decoder = await _call(client, client.messages.batches.results(batch_id))
    found: dict[int, Reply | str] = {}
    try:
        async with asyncio.timeout(LONGEST_WAIT):
            async for line in decoder:
                story_id = story_id_of(line.custom_id)
                if story_id is None:
                    log.warning("card batch %s: unknown item %r skipped", batch_id, line.custom_id)
                    continue
                result = line.result
                if result.type == "succeeded":
                    found[story_id] = reply_from_message(result.message, model, batch=True)
                else:
                    if result.type == "errored":
                        log.info(
                            "card batch %s: story %s errored (%s)",
                            batch_id,
                            story_id,
                            result.error.error.type,
                        )
                    found[story_id] = result.type
    except Exception as e:  # a broken stream or line, or a stalled one: keep what was read
        log.warning(
            "card batch %s: reading results stopped after %d items (%s)",
            batch_id,
            len(found),
            type(e).__name__,
        )
    finally:
        with contextlib.suppress(Exception):
            await decoder.close()
    return found


async def _call(client: Client, call: Awaitable[_T]) -> _T:
    """One batch API call: SDK errors and waits past ``LONGEST_WAIT`` -> ``ModelError``."""
    try:
        async with asyncio.timeout(LONGEST_WAIT):
            return await call
    except anthropic.APIError as e:
        raise model_error(e, client.api_key) from e
    except anthropic.AnthropicError as e:  # e.g. results of a batch with no results_url yet
        raise ModelError(f"the batch API could not be used: {type(e).__name__}") from e
    except TimeoutError as e:
        raise ModelError(
            f"the batch API did not answer within {LONGEST_WAIT:.0f} s, retries included"
        ) from e
