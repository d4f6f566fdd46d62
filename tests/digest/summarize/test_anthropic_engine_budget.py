"""The Claude engine and the daily budget: every paid reply is counted as it arrives, and no
further request is made for a card once the budget is spent."""

from __future__ import annotations

from digest.models import Usage
from digest.spend import BUDGET_ENGINE
from digest.summarize.anthropic_client import reply_from_message
from tests.support.claude import EngineFactory, ScriptedClaims, make_story
from tests.support.fake_anthropic import FakeAnthropic, card_reply, malformed_reply


class Allowance:
    """A meter that allows ``requests`` more requests and records what it is told."""

    def __init__(self, requests: int) -> None:
        self.left = requests
        self.recorded: list[tuple[Usage, str]] = []

    def allows(self) -> bool:
        return self.left > 0

    def record(self, usage: Usage, *, purpose: str) -> None:
        self.left -= 1
        self.recorded.append((usage, purpose))


async def test_every_reply_is_recorded_including_the_rejected_one(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(malformed_reply(), card_reply(input_tokens=900, output_tokens=300))
    meter = Allowance(requests=10)
    draft = await make_engine(meter=meter).make_card(make_story())
    assert draft.engine == "claude"
    assert len(meter.recorded) == 2 and {p for _, p in meter.recorded} == {"card"}
    assert meter.recorded[1][0].input_tokens == 900
    assert draft.usage is not None and draft.usage.requests == 2


async def test_no_retry_once_the_budget_is_spent(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(malformed_reply())
    meter = Allowance(requests=1)
    draft = await make_engine(meter=meter).make_card(make_story())
    assert len(api.message_requests) == 1  # the retry would have gone over the budget
    assert draft.engine == BUDGET_ENGINE
    assert draft.usage is not None and draft.usage.requests == 1  # the paid attempt shows
    assert len(meter.recorded) == 1


async def test_no_first_request_when_the_budget_is_already_spent(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    draft = await make_engine(meter=Allowance(requests=0)).make_card(make_story())
    assert api.message_requests == []
    assert draft.engine == BUDGET_ENGINE and draft.usage is None


async def test_no_claim_check_regeneration_once_the_budget_is_spent(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply())
    claims = ScriptedClaims(("47 million",))
    draft = await make_engine(meter=Allowance(requests=1), claim_check=claims).make_card(
        make_story()
    )
    assert len(api.message_requests) == 1
    assert draft.engine == "claude"
    assert draft.checked is False and draft.unchecked_terms == ("47 million",)


async def test_a_batch_answer_is_recorded_when_it_is_used(
    api: FakeAnthropic, make_engine: EngineFactory
) -> None:
    api.script(card_reply(input_tokens=1_000, output_tokens=200))
    meter = Allowance(requests=10)
    engine = make_engine(meter=meter)
    # A reply obtained outside the engine (as a batch item is), then handed to it.
    message = await engine.client.messages.create(**engine.card_params(make_story()))
    first = reply_from_message(message, engine.model, batch=True)
    draft = await engine.complete_card(make_story(), first)
    assert draft.engine == "claude"
    assert len(meter.recorded) == 1 and meter.recorded[0][0] == first.usage
    assert draft.usage == first.usage  # the card carries what its batch answer cost
