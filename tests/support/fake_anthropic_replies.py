"""Scripted answers for ``tests.support.fake_anthropic``: API replies and what a model says.

``FakeAnthropic.script`` takes these; ``tests.support.fake_anthropic`` re-exports every
public name, so tests import them from there. Replies: a message (``message``,
``json_message``), an API error (``rate_limited`` 429 with ``retry-after``, ``overloaded``
529, ``bad_request`` 400, ``server_error`` 500), any of them late (``slow``), and, for batch
items only, ``expired()`` and ``canceled()``. For the card engine's tests: ``SAMPLE_ARTICLE``
and answers about it, ``card_reply`` (valid), ``malformed_reply``, ``truncated_reply``
(``stop_reason`` ``max_tokens``), ``schema_violating_reply`` (2 takeaways, a category outside
the taxonomy) and ``extractive_card`` (a responder that answers any request from the story).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from digest.summarize.sentences import split_sentences

# -- scripted answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``status`` 200 is a message; anything else an API error."""

    status: int = 200
    text: str = ""
    stop_reason: str = "end_turn"
    input_tokens: int = 1_200
    output_tokens: int = 300
    thinking: bool = False  # put a thinking block before the text, as newer models do
    error_type: str = ""
    error_message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    batch_outcome: str | None = None  # "expired" / "canceled" (batch items only)


def message(text: str, **kwargs: Any) -> Reply:
    """A message whose one text block is ``text``."""
    return Reply(text=text, **kwargs)


def json_message(data: object, **kwargs: Any) -> Reply:
    """A message whose text is ``data`` as JSON (what structured outputs return)."""
    return Reply(text=json.dumps(data, ensure_ascii=False), **kwargs)


def api_error(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> Reply:
    return Reply(
        status=status, error_type=error_type, error_message=message, headers=dict(headers or {})
    )


def rate_limited(retry_after: float | None = 0.05, message: str = "Rate limit exceeded") -> Reply:
    headers = {} if retry_after is None else {"retry-after": _seconds(retry_after)}
    return api_error(429, "rate_limit_error", message, headers)


def overloaded(retry_after: float | None = None) -> Reply:
    headers = {} if retry_after is None else {"retry-after": _seconds(retry_after)}
    return api_error(529, "overloaded_error", "Overloaded", headers)


def bad_request(message: str = "invalid request") -> Reply:
    return api_error(400, "invalid_request_error", message)


def server_error(message: str = "Internal server error") -> Reply:
    return api_error(500, "api_error", message)


def slow(seconds: float, then: Reply) -> Reply:
    """``then``, after ``seconds`` of silence (longer than the client timeout, for tests)."""
    return replace(then, delay=seconds)


def expired() -> Reply:
    return Reply(batch_outcome="expired")


def canceled() -> Reply:
    return Reply(batch_outcome="canceled")


# -- card answers: a story and what a model might say about it ------------------------------

SAMPLE_TITLE = "Riverton approves flood barrier"
SAMPLE_ARTICLE = (
    "The city council of Riverton voted 7 to 2 on Tuesday to build a flood barrier along the "
    "Mill River. The barrier will cost 12 million dollars and should be finished by March "
    "2028. Mayor Ana Ruiz said the project would protect about 3,000 homes that flooded in "
    "2024. Work is due to start next spring, the council said. Critics on the council argued "
    "that the money should go to relocating homes instead."
)


def card_data(**overrides: Any) -> dict[str, Any]:
    """A card for ``SAMPLE_ARTICLE`` that passes every card rule; ``overrides`` replace fields."""
    card: dict[str, Any] = {
        "category": "Policy",
        "summary": (
            "Riverton's city council voted 7 to 2 on Tuesday to build a flood barrier along the "
            "Mill River. The barrier will cost 12 million dollars and should be finished by "
            "March 2028."
        ),
        "takeaways": [
            "The council approved the barrier by 7 votes to 2.",
            "The project will cost 12 million dollars.",
            "Mayor Ana Ruiz said it would protect about 3,000 homes.",
        ],
        "why_it_matters": (
            "About 3,000 homes that flooded in 2024 would be protected, although critics "
            "wanted the money spent on relocating homes."
        ),
        "faq": [
            {"question": "When will the barrier be finished?", "answer": "By March 2028."},
            {"question": "How much will it cost?", "answer": "About 12 million dollars."},
        ],
    }
    card.update(overrides)
    return card


def card_reply(card: dict[str, Any] | None = None, **kwargs: Any) -> Reply:
    """A valid card answer (``card_data()`` unless ``card`` is given)."""
    return json_message(card_data() if card is None else card, **kwargs)


def malformed_reply() -> Reply:
    """Not JSON at all: what a model says when it ignores the format."""
    return message('Here is your card: {"category": "Policy", "summary": "Riverton')


def truncated_reply() -> Reply:
    """A card cut off at the token limit."""
    text = json.dumps(card_data())
    return message(text[: len(text) // 2], stop_reason="max_tokens", output_tokens=4096)


def schema_violating_reply() -> Reply:
    """Well-formed JSON that breaks the card rules: 2 takeaways, a category not configured."""
    card = card_data(category="Astrology")
    card["takeaways"] = card["takeaways"][:2]
    return json_message(card)


_TEXT = re.compile(r"<text>\n(.*?)\n</text>", re.DOTALL)


def extractive_card(params: dict[str, Any]) -> Reply:
    """A ``responder`` that answers any card request with a valid card made of the story's
    own sentences (so the claim check passes), in the first category the schema offers, and
    any question with the article's first sentence, quoted."""
    user = params["messages"][0]["content"]
    text = " ".join(_TEXT.findall(user if isinstance(user, str) else json.dumps(user)))
    sentences = [s for s in split_sentences(text) if 20 <= len(s) <= 190] or [
        "The article gives few details."
    ]
    pick = (sentences * 8)[:8]
    schema = params["output_config"]["format"]["schema"]
    if "covered" in schema["properties"]:  # a follow-up question, not a card
        return json_message(
            {"answer": f"The article says: {pick[0]}", "covered": True, "quotes": [pick[0]]},
            input_tokens=len(user) // 4,
            output_tokens=80,
        )
    category = schema["properties"]["category"]["enum"][0]
    return json_message(
        {
            "category": category,
            "summary": f"{pick[0]} {pick[1]}",
            "takeaways": pick[2:5],
            "why_it_matters": pick[5],
            "faq": [
                {"question": "What happened?", "answer": pick[6]},
                {"question": "What else is known?", "answer": pick[7]},
            ],
        },
        input_tokens=len(user) // 4,
        output_tokens=350,
    )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
