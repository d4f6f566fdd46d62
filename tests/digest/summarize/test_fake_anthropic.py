"""The fake Messages API speaks the wire format the real SDK expects, batches included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx2
import pytest
from anthropic.types import TextBlock
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.messages import (
    MessageBatchCanceledResult,
    MessageBatchErroredResult,
    MessageBatchExpiredResult,
    MessageBatchSucceededResult,
)

from tests.support.fake_anthropic import (
    FakeAnthropic,
    card_data,
    card_reply,
    expired,
    overloaded,
)

PARAMS: MessageCreateParamsNonStreaming = {
    "model": "claude-haiku-5-5",
    "max_tokens": 1_000,
    "messages": [{"role": "user", "content": "Write the card."}],
}


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(batch_polls=2) as server:
        yield server


@pytest.fixture
async def client(api: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(api_key="sk-test-fake", base_url=api.url, max_retries=0)
    yield client
    await client.close()


async def test_a_message_round_trip(api: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    api.script(card_reply(input_tokens=11, output_tokens=22, thinking=True))
    reply = await client.messages.create(**PARAMS)
    assert reply.type == "message" and reply.role == "assistant" and reply.model == PARAMS["model"]
    assert reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (11, 22)
    assert [b.type for b in reply.content] == ["thinking", "text"]
    text = reply.content[1]
    assert isinstance(text, TextBlock) and '"category": "Policy"' in text.text
    (seen,) = api.message_requests
    assert seen.json["messages"] == PARAMS["messages"]
    assert seen.headers["anthropic-version"]


async def test_requests_the_real_api_would_refuse_are_refused(
    api: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        await client.messages.create(**PARAMS, extra_body={"max_tokens": None})
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"a": {"type": "string", "maxLength": 5}},
    }
    with pytest.raises(anthropic.BadRequestError, match=r"additionalProperties|maxLength"):
        await client.messages.create(
            model="claude-haiku-5-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "hi"}],
            output_config={"format": {"type": "json_schema", "schema": schema}},
        )
    async with httpx2.AsyncClient() as raw:
        response = await raw.post(f"{api.url}/v1/messages", json=PARAMS)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


async def test_an_unscripted_request_fails_loudly_and_is_counted(
    api: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.InternalServerError, match="no scripted answer"):
        await client.messages.create(**PARAMS)
    assert api.unexpected == 1


async def test_the_batch_flow(api: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    api.script(card_reply(card_data(category="Science")), overloaded(), expired())
    batch = await client.messages.batches.create(
        requests=[{"custom_id": f"story-{i}", "params": PARAMS} for i in range(3)]
    )
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 3 and batch.results_url is None

    polls = 0
    for polls in range(1, 10):  # noqa: B007 - the count is the point
        batch = await client.messages.batches.retrieve(batch.id)
        if batch.processing_status == "ended":
            break
    assert polls == 2
    counts = batch.request_counts
    assert (counts.succeeded, counts.errored, counts.expired, counts.processing) == (1, 1, 1, 0)
    assert batch.ended_at is not None and batch.results_url is not None

    results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
    assert set(results) == {"story-0", "story-1", "story-2"}
    ok = results["story-0"]
    assert isinstance(ok, MessageBatchSucceededResult)
    assert ok.message.usage.service_tier == "batch"
    assert isinstance(ok.message.content[0], TextBlock)
    assert '"Science"' in ok.message.content[0].text
    failed = results["story-1"]
    assert isinstance(failed, MessageBatchErroredResult)
    assert failed.error.error.type == "overloaded_error"
    assert isinstance(results["story-2"], MessageBatchExpiredResult)

    listed = [b.id async for b in client.messages.batches.list()]
    assert listed == [batch.id]
    posted = [r for r in api.requests if r.path == "/v1/messages/batches" and r.method == "POST"]
    assert posted[0].json["requests"][0]["params"]["model"] == "claude-haiku-5-5"


async def test_a_canceled_batch(api: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    api.script(card_reply(), card_reply())
    batch = await client.messages.batches.create(
        requests=[{"custom_id": f"s{i}", "params": PARAMS} for i in range(2)]
    )
    batch = await client.messages.batches.cancel(batch.id)
    assert batch.processing_status == "ended" and batch.cancel_initiated_at is not None
    assert batch.request_counts.canceled == 2
    results = [r.result async for r in await client.messages.batches.results(batch.id)]
    assert all(isinstance(r, MessageBatchCanceledResult) for r in results)


async def test_batch_requests_are_checked_like_messages(
    api: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="duplicate custom_id"):
        await client.messages.batches.create(requests=[{"custom_id": "same", "params": PARAMS}] * 2)
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.batches.retrieve("msgbatch_nope")


def test_the_replies_are_importable_from_the_server_module() -> None:
    from tests.support import fake_anthropic, fake_anthropic_replies

    for name in fake_anthropic.__all__:
        assert hasattr(fake_anthropic, name), name
    assert fake_anthropic.card_reply is fake_anthropic_replies.card_reply
    assert fake_anthropic.Reply is fake_anthropic_replies.Reply
