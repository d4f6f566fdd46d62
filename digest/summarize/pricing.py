"""What model requests cost, and which models can return schema-constrained JSON.

Called by the Claude engine and answerer (``cost_usd`` for every request they make, so each
card and answer records what it cost) and by ``anthropic_client.default_model`` (which picks
the cheapest model in the SDK's model list that ``supports_structured_outputs``). Pure: no
SDK import, no I/O.

Where the figures come from (checked 2026-11-28): the model pages and the models overview on
platform.claude.com ("Models & pricing": each page's Pricing section, and the "How it
compares" table), list prices in USD per million tokens (MTok), without prompt caching.
Every listed model takes 50% off input and output on the Message Batches API. Claude Haiku
5.5 has two price bands: prompts over 100,000 input tokens pay 5x. Long-context premiums of
older models (Sonnet 4.5/4.6 over 200K tokens) are left out: the engine never sends prompts
that long. Claude Mythos models are not listed: their prices are not published (limited
availability); an unlisted model is priced at the dearest rate on file, so a daily budget
errs on the safe side.

Structured outputs (``output_config.format`` with a JSON schema): the structured-outputs
guide lists Claude Haiku 4.5, Sonnet 4.5 and 4.6, Opus 4.5 and 4.6; Google's Vertex AI page
for it lists Opus 4.7 and says "all Claude 4.5 models and later"; the Claude 5.x models'
pages use it in their examples. Fable models are marked as unsupported because one
reference says Fable 5 lacks it and we could not confirm otherwise; they are the dearest
models, so this never changes the default. The API's own answer is
``GET /v1/models/{id}`` -> ``capabilities.structured_outputs.supported``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MTOK = 1_000_000
BATCH_DISCOUNT = 0.5  # Message Batches API: half price on input and output


@dataclass(frozen=True, slots=True)
class Price:
    """List prices in USD per million tokens; the ``long_*`` band applies to prompts of more
    than ``long_prompt_over`` input tokens, when the model has such a band."""

    input_per_mtok: float
    output_per_mtok: float
    structured_outputs: bool
    long_prompt_over: int | None = None
    long_input_per_mtok: float | None = None
    long_output_per_mtok: float | None = None


def _p(i: float, o: float, so: bool = True) -> Price:
    return Price(i, o, so)


_HAIKU_5_5 = Price(0.10, 0.50, True, 100_000, 0.50, 2.50)

PRICES: dict[str, Price] = {
    "claude-haiku-5-5": _HAIKU_5_5,
    "claude-sonnet-5-5": _p(2, 10),
    "claude-sonnet-5": _p(2, 10),
    "claude-opus-5-5": _p(4, 20),
    "claude-opus-5": _p(5, 25),
    "claude-fable-5-2": _p(8, 40, so=False),
    "claude-fable-5-1": _p(10, 50, so=False),
    "claude-fable-5": _p(10, 50, so=False),
    "claude-opus-4-8": _p(5, 25),
    "claude-opus-4-7": _p(5, 25),
    "claude-opus-4-6": _p(5, 25),
    "claude-opus-4-5": _p(5, 25),
    "claude-opus-4-5-20251101": _p(5, 25),
    "claude-sonnet-4-6": _p(3, 15),
    "claude-sonnet-4-5": _p(3, 15),
    "claude-sonnet-4-5-20250929": _p(3, 15),
    "claude-haiku-4-5": _p(1, 5),
    "claude-haiku-4-5-20251001": _p(1, 5),
}

# An unknown model is charged like the dearest one on file (see the module docstring).
_DEAREST = max(PRICES.values(), key=lambda p: p.input_per_mtok + p.output_per_mtok)
_warned: set[str] = set()


def price_for(model: str) -> Price | None:
    """The price of ``model``, or ``None`` when it is not in the table."""
    return PRICES.get(model)


def supports_structured_outputs(model: str) -> bool:
    price = PRICES.get(model)
    return price is not None and price.structured_outputs


def cost_usd(model: str, input_tokens: int, output_tokens: int, *, batch: bool = False) -> float:
    """USD for one request: tokens x price per token, at the batch price when ``batch``.

    Never raises: a model missing from the table is priced at the dearest rate on file, and
    that is logged once per model name.
    """
    price = PRICES.get(model)
    if price is None:
        if model not in _warned:
            _warned.add(model)
            log.warning(
                "no price on file for model %r: costing it at the dearest known rate", model
            )
        price = _DEAREST
    rate_in, rate_out = price.input_per_mtok, price.output_per_mtok
    if price.long_prompt_over is not None and input_tokens > price.long_prompt_over:
        rate_in = price.long_input_per_mtok or rate_in
        rate_out = price.long_output_per_mtok or rate_out
    cost = (input_tokens * rate_in + output_tokens * rate_out) / MTOK
    return cost * BATCH_DISCOUNT if batch else cost


# What a typical card request looks like, to compare models by what a card would cost.
TYPICAL_INPUT_TOKENS = 4_000
TYPICAL_OUTPUT_TOKENS = 800


def cheapest_structured(models: Iterable[str]) -> str | None:
    """Of ``models``, the one with a known price and structured outputs whose typical card
    costs least (ties broken by name, so the choice is stable); ``None`` if there is none."""
    candidates = [m for m in models if supports_structured_outputs(m)]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda m: (cost_usd(m, TYPICAL_INPUT_TOKENS, TYPICAL_OUTPUT_TOKENS), m),
    )
