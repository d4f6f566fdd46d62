"""Cards through the Message Batches API, with the real SDK talking HTTP to the fake."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import anthropic
import pytest

from digest.errors import ModelError
from digest.models import Story
from digest.summarize import anthropic_batches
from digest.summarize.anthropic_engine import FALLBACK_ENGINE
from digest.summarize.pricing import cost_usd
from tests.support.claude import KEY, EngineFactory, ScriptedClaims, make_story
from tests.support.fake_anthropic import (
    FakeAnthropic,
    bad_request,
    canceled,
    card_data,
    card_reply,
    expired,
    extractive_card,
    malformed_reply,
    message,
    overloaded,
    server_error,
)

MODEL = "claude-haiku-5-5"
FAST = 0.01  # poll interval, seconds


def stories(count: int) -> list[Story]:
    return [dataclasses.replace(make_story(), id=100 + i) for i in range(count)]


def batch_kind(path: str, method: str) -> str:
    """``create``, ``list``, ``retrieve``, ``cancel`` or ``results``."""
    parts = path.split("/")[4:]  # after "/v1/messages/batches"
    if not parts:
        return "create" if method == "POST" else "list"
    return "retrieve" if len(parts) == 1 else parts[1]


def batch_calls(api: FakeAnthropic, kind: str) -> int:
    return sum(1 for r in api.batch_requests if batch_kind(r.path, r.method) == kind)


def created_items(api: FakeAnthropic) -> list[dict[str, Any]]:
    (create,) = [r for r in api.batch_requests if batch_kind(r.path, r.method) == "create"]
    items = create.json["requests"]
    assert isinstance(items, list)
    return items


# -- everything succeeds --------------------------------------------------------------------


async def test_every_story_gets_a_card_from_one_batch_at_half_price(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(*(card_reply(input_tokens=1_500, output_tokens=400) for _ in range(3)))
    batch = stories(3)
    drafts = await make_engine().make_cards_batch(batch, poll_interval=FAST)

    assert sorted(drafts) == [100, 101, 102]
    assert batch_calls(api, "create") == 1 and api.message_requests == []
    assert batch_calls(api, "results") == 1
    single_price = cost_usd(MODEL, 1_500, 400)
    for draft in drafts.values():
        assert draft.engine == "claude" and draft.category == "Policy"
        assert draft.usage is not None and draft.usage.requests == 1
        assert (draft.usage.input_tokens, draft.usage.output_tokens) == (1_500, 400)
        assert draft.usage.cost_usd == pytest.approx(single_price / 2)
        assert draft.usage.cost_usd == pytest.approx(cost_usd(MODEL, 1_500, 400, batch=True))
    assert [item["custom_id"] for item in created_items(api)] == [
        "story-100",
        "story-101",
        "story-102",
    ]


async def test_a_batch_item_is_exactly_the_single_request(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(), card_reply())
    engine = make_engine()
    (story,) = stories(1)
    await engine.make_cards_batch([story], language="German", poll_interval=FAST)
    await engine.make_card(story, language="German")
    (item,) = created_items(api)
    assert item["params"] == api.message_requests[0].json
    assert item["params"]["model"] == MODEL and "tools" not in item["params"]
    assert "in this language: German." in item["params"]["messages"][0]["content"]


async def test_polling_waits_for_the_batch_to_end(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 4
    api.script(card_reply())
    drafts = await make_engine().make_cards_batch(stories(1), poll_interval=FAST)
    assert list(drafts) == [100]
    # 4 polls until "ended", then the one the SDK's results() makes
    assert batch_calls(api, "results") == 1
    assert batch_calls(api, "retrieve") == 5


async def test_results_in_reverse_order_are_matched_by_custom_id(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    batch = stories(4)
    api.script(
        *(
            card_reply(card_data(summary=f"Riverton voted on plan {i}. The barrier was approved."))
            for i in range(4)
        )
    )
    drafts = await make_engine().make_cards_batch(batch, poll_interval=FAST)
    for i, story in enumerate(batch):
        assert drafts[story.id].summary.startswith(f"Riverton voted on plan {i}.")


async def test_duplicate_stories_make_one_item_and_no_stories_make_no_batch(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    engine = make_engine()
    assert await engine.make_cards_batch([], poll_interval=FAST) == {}
    assert api.requests == []

    api.responder = extractive_card
    (story,) = stories(1)
    drafts = await engine.make_cards_batch([story, story], poll_interval=FAST)
    assert list(drafts) == [story.id]
    assert len(created_items(api)) == 1


# -- per-item fallback ---------------------------------------------------------------------


async def test_failed_items_fall_back_to_single_requests_and_still_get_cards(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    batch = stories(5)
    api.script(
        card_reply(input_tokens=1_000, output_tokens=300),  # 100: succeeded
        overloaded(),  # 101: errored
        expired(),  # 102: expired
        canceled(),  # 103: canceled
        malformed_reply(),  # 104: succeeded, but not JSON
    )
    api.script(*(card_reply(input_tokens=1_000, output_tokens=300) for _ in range(4)))
    drafts = await make_engine().make_cards_batch(batch, poll_interval=FAST)

    assert sorted(drafts) == [s.id for s in batch]
    assert all(d.engine == "claude" for d in drafts.values())
    assert len(api.message_requests) == 4  # one each for 101-104
    assert api.pending == 0
    batch_cost = cost_usd(MODEL, 1_000, 300, batch=True)
    single_cost = cost_usd(MODEL, 1_000, 300)
    first = drafts[100].usage
    assert first is not None and first.cost_usd == pytest.approx(batch_cost)
    for story_id in (101, 102, 103):
        usage = drafts[story_id].usage
        assert usage is not None and usage.requests == 1
        assert usage.cost_usd == pytest.approx(single_cost)  # failed items are not billed
    # The invalid answer was the first attempt: the single request is its one retry, with
    # the reason, and both are paid for.
    usage = drafts[104].usage
    assert usage is not None and usage.requests == 2
    assert usage.cost_usd == pytest.approx(cost_usd(MODEL, 1_200, 300, batch=True) + single_cost)
    retries = [r.json["messages"][0]["content"] for r in api.message_requests]
    assert sum("Your previous answer was rejected" in u for u in retries) == 1
    assert any("not valid JSON" in u for u in retries)


async def test_an_item_invalid_twice_gets_the_offline_card(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(malformed_reply(), malformed_reply())
    drafts = await make_engine().make_cards_batch(stories(1), poll_interval=FAST)
    assert drafts[100].engine == FALLBACK_ENGINE
    assert len(api.message_requests) == 1


async def test_a_refused_item_gets_the_offline_card_without_asking_again(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(message("", stop_reason="refusal"))
    drafts = await make_engine().make_cards_batch(stories(1), poll_interval=FAST)
    assert drafts[100].engine == FALLBACK_ENGINE
    assert api.message_requests == []


async def test_the_claim_check_regenerates_a_batch_card_with_a_single_request(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(card_data(summary="Riverton voted 9 to 0. It cost 40 million.")))
    api.script(card_reply())
    claims = ScriptedClaims(("9 to 0",), ())
    drafts = await make_engine(claim_check=claims).make_cards_batch(stories(1), poll_interval=FAST)
    draft = drafts[100]
    assert draft.checked is True and draft.summary.startswith("Riverton's city council")
    assert len(api.message_requests) == 1
    assert '"9 to 0"' in api.message_requests[0].json["messages"][0]["content"]
    assert draft.usage is not None and draft.usage.requests == 2
    assert draft.usage.cost_usd == pytest.approx(
        cost_usd(MODEL, 1_200, 300, batch=True) + cost_usd(MODEL, 1_200, 300)
    )


async def test_a_story_whose_single_request_fails_is_left_for_the_next_round(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(), server_error(), card_reply())
    api.script(bad_request("prompt is too long"))
    drafts = await make_engine().make_cards_batch(stories(3), poll_interval=FAST)
    assert sorted(drafts) == [100, 102]
    assert len(api.message_requests) == 1


async def test_after_repeated_single_request_failures_the_rest_is_left_for_later(
    api: FakeAnthropic, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anthropic_batches, "FALLBACK_CONCURRENCY", 1)  # one at a time
    count = anthropic_batches.GIVE_UP_AFTER + 3
    api.script(*(expired() for _ in range(count)))
    api.script(*(bad_request("down") for _ in range(anthropic_batches.GIVE_UP_AFTER)))
    drafts = await make_engine(model_max_retries=0).make_cards_batch(
        stories(count), poll_interval=FAST
    )
    assert drafts == {}
    assert len(api.message_requests) == anthropic_batches.GIVE_UP_AFTER


async def test_unreadable_results_fall_back_to_single_requests(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(), card_reply())
    api.fail_batch_api("results", bad_request("results are gone"))
    api.script(card_reply(), card_reply())
    drafts = await make_engine(model_max_retries=0).make_cards_batch(stories(2), poll_interval=FAST)
    assert sorted(drafts) == [100, 101]
    assert len(api.message_requests) == 2


# -- waiting too long ------------------------------------------------------------------------


async def test_max_wait_cancels_the_batch_and_its_stories_fall_back(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1_000_000
    api.script(card_reply(), card_reply(), card_reply())  # the batch items, never delivered
    api.script(card_reply(), card_reply(), card_reply())  # the single requests
    drafts = await make_engine().make_cards_batch(stories(3), poll_interval=FAST, max_wait=0.1)

    assert batch_calls(api, "cancel") == 1
    assert sorted(drafts) == [100, 101, 102]
    assert len(api.message_requests) == 3
    for draft in drafts.values():
        assert draft.usage is not None and draft.usage.cost_usd == pytest.approx(
            cost_usd(MODEL, 1_200, 300)
        )


async def test_a_failed_cancel_still_falls_back(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1_000_000
    api.script(card_reply(), card_reply())
    api.fail_batch_api("cancel", bad_request("cannot cancel"))
    drafts = await make_engine(model_max_retries=0).make_cards_batch(
        stories(1), poll_interval=FAST, max_wait=0.05
    )
    assert list(drafts) == [100]
    assert len(api.message_requests) == 1


# -- batch API failures ----------------------------------------------------------------------


async def test_a_529_creating_the_batch_raises_model_error(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.fail_batch_api("create", overloaded(retry_after=0.01), overloaded(retry_after=0.01))
    with pytest.raises(ModelError, match="overloaded") as caught:
        await make_engine().make_cards_batch(stories(2), poll_interval=FAST)
    assert "529" in str(caught.value)
    assert isinstance(caught.value.__cause__, anthropic.APIStatusError)
    assert batch_calls(api, "create") == 2  # one try and the SDK's one retry
    assert api.message_requests == [] and api.pending == 0


async def test_the_api_key_is_scrubbed_from_batch_errors(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.fail_batch_api("create", bad_request(f"invalid x-api-key {KEY}"))
    with pytest.raises(ModelError) as caught:
        await make_engine().make_cards_batch(stories(1), poll_interval=FAST)
    assert "[redacted]" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in str(caught.value.__cause__)


async def test_polling_that_keeps_failing_raises_and_cancels_the_batch(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply())
    api.fail_batch_api(
        "retrieve", *(server_error() for _ in range(anthropic_batches.MAX_POLL_FAILURES))
    )
    with pytest.raises(ModelError, match="server error"):
        await make_engine(model_max_retries=0).make_cards_batch(stories(1), poll_interval=FAST)
    assert batch_calls(api, "cancel") == 1
    assert api.message_requests == []


async def test_a_poll_failure_or_two_is_ridden_out(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply())
    api.fail_batch_api(
        "retrieve", *(server_error() for _ in range(anthropic_batches.MAX_POLL_FAILURES - 1))
    )
    drafts = await make_engine(model_max_retries=0).make_cards_batch(stories(1), poll_interval=FAST)
    assert list(drafts) == [100] and api.message_requests == []


async def test_a_cancelled_caller_cancels_the_batch(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.batch_polls = 1_000_000
    api.script(card_reply())
    task = asyncio.create_task(make_engine().make_cards_batch(stories(1), poll_interval=FAST))
    for _ in range(500):  # until the engine is polling
        if batch_calls(api, "retrieve") >= 2:
            break
        await asyncio.sleep(FAST)
    assert batch_calls(api, "retrieve") >= 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert batch_calls(api, "cancel") == 1


async def test_big_batches_are_split(
    api: FakeAnthropic, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anthropic_batches, "MAX_BATCH_REQUESTS", 2)
    api.responder = extractive_card
    drafts = await make_engine().make_cards_batch(stories(5), poll_interval=FAST)
    assert sorted(drafts) == [100, 101, 102, 103, 104]
    assert batch_calls(api, "create") == 3 and api.message_requests == []


async def test_negative_intervals_are_refused(make_engine: EngineFactory) -> None:
    with pytest.raises(ValueError, match="negative"):
        await make_engine().make_cards_batch(stories(1), poll_interval=-1)
