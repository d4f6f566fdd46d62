"""The Message Batches API calls, stateless, with the real SDK talking HTTP to the fake."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import anthropic
import pytest
from anthropic.types.messages import MessageBatchIndividualResponse

from digest.errors import ModelError
from digest.models import Story
from digest.ports import BatchCardEngine
from digest.summarize import anthropic_batches
from digest.summarize.anthropic_batches import Submitted, cancel, results, status, submit
from digest.summarize.anthropic_client import Reply
from digest.summarize.pricing import cost_usd
from tests.support.card_batches import batch_calls, batch_kind
from tests.support.claude import KEY, EngineFactory, make_story
from tests.support.fake_anthropic import (
    FakeAnthropic,
    bad_request,
    canceled,
    card_reply,
    expired,
    extractive_card,
    overloaded,
    server_error,
)

MODEL = "claude-haiku-5-5"


def stories(count: int) -> list[Story]:
    return [dataclasses.replace(make_story(), id=100 + i) for i in range(count)]


def created_items(api: FakeAnthropic) -> list[list[dict[str, Any]]]:
    """The items of every batch created, in order."""
    return [
        r.json["requests"]
        for r in api.batch_requests
        if batch_kind(r.method, r.path) == "create" and r.json is not None
    ]


# -- submit --------------------------------------------------------------------------------


async def test_submit_creates_one_batch_and_returns_without_waiting(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(), card_reply(), card_reply())
    engine = make_engine()
    assert isinstance(engine, BatchCardEngine)
    made = await submit(engine, stories(3), language=None)

    assert len(made) == 1 and made[0].story_ids == (100, 101, 102)
    assert made[0].batch_id.startswith("msgbatch_")
    assert [r.method for r in api.requests] == ["POST"]  # no polling: the caller comes back
    (items,) = created_items(api)
    assert [item["custom_id"] for item in items] == ["story-100", "story-101", "story-102"]


async def test_a_batch_item_is_exactly_the_single_request(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(), card_reply())
    engine = make_engine()
    (story,) = stories(1)
    await submit(engine, [story], language="German")
    await engine.make_card(story, language="German")
    ((item,),) = created_items(api)
    assert item["params"] == api.message_requests[0].json
    assert item["params"]["model"] == MODEL and "tools" not in item["params"]
    assert "in this language: German." in item["params"]["messages"][0]["content"]


async def test_duplicate_stories_make_one_item_and_no_stories_make_no_batch(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    engine = make_engine()
    assert await submit(engine, [], language=None) == []
    assert api.requests == []

    api.responder = extractive_card
    (story,) = stories(1)
    made = await submit(engine, [story, story], language=None)
    assert [m.story_ids for m in made] == [(story.id,)]
    assert len(created_items(api)[0]) == 1


async def test_big_backlogs_are_split_and_each_batch_is_reported_before_the_next(
    api: FakeAnthropic, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anthropic_batches, "MAX_BATCH_REQUESTS", 2)
    api.responder = extractive_card
    seen: list[tuple[Submitted, int]] = []

    made = await submit(
        make_engine(),
        stories(5),
        language=None,
        on_created=lambda batch: seen.append((batch, batch_calls(api, "create"))),
    )
    assert [m.story_ids for m in made] == [(100, 101), (102, 103), (104,)]
    assert [batch for batch, _ in seen] == made
    assert [creates for _, creates in seen] == [1, 2, 3]  # stored before the next is made


async def test_a_529_creating_the_batch_raises_model_error(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.fail_batch_api("create", overloaded(retry_after=0.01), overloaded(retry_after=0.01))
    with pytest.raises(ModelError, match="overloaded") as caught:
        await submit(make_engine(), stories(2), language=None)
    assert "529" in str(caught.value)
    assert isinstance(caught.value.__cause__, anthropic.APIStatusError)
    assert batch_calls(api, "create") == 2  # one try and the SDK's one retry


async def test_the_api_key_is_scrubbed_from_batch_errors(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.fail_batch_api("create", bad_request(f"invalid x-api-key {KEY}"))
    with pytest.raises(ModelError) as caught:
        await submit(make_engine(), stories(1), language=None)
    assert "[redacted]" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in str(caught.value.__cause__)


async def test_when_a_later_batch_fails_the_ones_made_are_returned(
    api: FakeAnthropic, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anthropic_batches, "MAX_BATCH_REQUESTS", 2)
    api.responder = extractive_card

    def fail_the_next(batch: Submitted) -> None:
        api.fail_batch_api("create", bad_request("too many batches"))

    made = await submit(make_engine(), stories(5), language=None, on_created=fail_the_next)
    assert [m.story_ids for m in made] == [(100, 101)]
    assert batch_calls(api, "create") == 2


async def test_a_batch_its_caller_cannot_keep_is_cancelled(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1_000
    api.script(card_reply(), card_reply())

    def cannot_store(batch: Submitted) -> None:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        await submit(make_engine(), stories(2), language=None, on_created=cannot_store)
    assert batch_calls(api, "cancel") == 1


# -- status, cancel, results ---------------------------------------------------------------


async def test_status_follows_the_batch_until_it_ends(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply())
    engine = make_engine()
    (batch,) = await submit(engine, stories(1), language=None)
    assert await status(engine.client, batch.batch_id) == "in_progress"
    assert await status(engine.client, batch.batch_id) == "ended"  # batch_polls=2
    assert batch_calls(api, "retrieve") == 2 and batch_calls(api, "results") == 0


async def test_results_by_story_id_priced_at_the_batch_rate(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 0
    api.script(
        card_reply(input_tokens=1_500, output_tokens=400),  # 100: succeeded
        overloaded(),  # 101: errored
        expired(),  # 102
        canceled(),  # 103
    )
    engine = make_engine()
    (batch,) = await submit(engine, stories(4), language=None)
    found = await results(engine.client, batch.batch_id, engine.model)

    assert set(found) == {100, 101, 102, 103}  # the fake streams them in reverse order
    reply = found[100]
    assert isinstance(reply, Reply) and reply.text.startswith("{")
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (1_500, 400)
    assert reply.usage.cost_usd == pytest.approx(cost_usd(MODEL, 1_500, 400) / 2)
    assert (found[101], found[102], found[103]) == ("errored", "expired", "canceled")
    assert api.message_requests == []


async def test_results_of_a_batch_still_running_raise_model_error(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1_000
    api.script(card_reply())
    engine = make_engine()
    (batch,) = await submit(engine, stories(1), language=None)
    with pytest.raises(ModelError, match="could not be used"):
        await results(engine.client, batch.batch_id, engine.model)


async def test_cancel_keeps_what_was_processed_before_it(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1_000
    api.cancel_polls, api.cancel_keeps = 1, 1
    api.script(card_reply(), card_reply())
    engine = make_engine()
    (batch,) = await submit(engine, stories(2), language=None)
    assert await cancel(engine.client, batch.batch_id) == "canceling"
    assert await status(engine.client, batch.batch_id) == "ended"
    found = await results(engine.client, batch.batch_id, engine.model)
    assert isinstance(found[100], Reply) and found[101] == "canceled"


async def test_batch_api_failures_raise_model_error(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1
    api.script(card_reply())
    engine = make_engine(model_max_retries=0)
    (batch,) = await submit(engine, stories(1), language=None)
    api.fail_batch_api("retrieve", server_error())
    api.fail_batch_api("cancel", bad_request("cannot cancel"))
    with pytest.raises(ModelError, match="server error"):
        await status(engine.client, batch.batch_id)
    with pytest.raises(ModelError, match="cannot cancel"):
        await cancel(engine.client, batch.batch_id)
    api.fail_batch_api("results", bad_request("results are gone"))
    assert await status(engine.client, batch.batch_id) == "ended"
    with pytest.raises(ModelError, match="results are gone"):
        await results(engine.client, batch.batch_id, engine.model)


async def test_a_broken_results_stream_keeps_what_was_read() -> None:
    read = [
        _line("story-7", {"type": "expired"}),
        _line("someone-else", {"type": "expired"}),  # not ours: skipped
        _line("story-8", {"type": "errored", "error": _error_body()}),
    ]
    stream = _BrokenStream(read)

    async def open_results(batch_id: str) -> _BrokenStream:
        return stream

    client: Any = SimpleNamespace(
        api_key=KEY, messages=SimpleNamespace(batches=SimpleNamespace(results=open_results))
    )
    found = await results(client, "msgbatch_x", MODEL)
    assert found == {7: "expired", 8: "errored"}
    assert stream.closed


def test_custom_ids_name_stories() -> None:
    assert anthropic_batches.custom_id(12) == "story-12"
    assert anthropic_batches.story_id_of("story-12") == 12
    assert anthropic_batches.story_id_of("story-") is None
    assert anthropic_batches.story_id_of("story-x1") is None
    assert anthropic_batches.story_id_of("card-12") is None


def _line(custom_id: str, result: dict[str, Any]) -> MessageBatchIndividualResponse:
    return MessageBatchIndividualResponse.model_validate({"custom_id": custom_id, "result": result})


def _error_body() -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_1",
    }


class _BrokenStream:
    """The results decoder of a connection that drops after a few lines."""

    def __init__(self, lines: list[MessageBatchIndividualResponse]) -> None:
        self.lines = lines
        self.closed = False

    async def _items(self) -> AsyncIterator[MessageBatchIndividualResponse]:
        for line in self.lines:
            yield line
        raise ConnectionResetError("connection dropped")

    def __aiter__(self) -> AsyncIterator[MessageBatchIndividualResponse]:
        return self._items()

    async def close(self) -> None:
        self.closed = True
