"""The Claude card engine: one structured-output request per story, checked in code.

Built once by the composition root::

    client = build_client(settings)
    engine = ClaudeEngine(client, model=model_for(settings), categories=settings.categories,
                          fallback=OfflineEngine(settings.categories),
                          claim_check=unsupported_terms)

and called by the card maker through ``CardEngine.make_card``. What one call does:

1. Ask for the whole card in one request: fixed system prompt, the story as delimited data
   (``digest.summarize.prompts``), the answer constrained to a JSON schema, no tools.
2. Check it (``digest.summarize.validate``). Output that is not JSON, breaks a card rule,
   or was cut off (``stop_reason`` ``max_tokens``) is asked for once more, with the reason;
   a second failure, or a refusal, gives the fallback engine's card marked
   ``offline-fallback``.
3. Claim check, when a checker is given: a card whose numbers, dates or names are not in
   the source is regenerated once, naming the terms; a card still failing it is kept with
   ``checked=False`` and the terms; a card passing it gets ``checked=True``.

``CardDraft.usage`` adds up every request made for the card, retries included (also on a
fallback card: the failed attempts were paid for). API failures that outlast the SDK's
retries raise ``ModelError`` (``digest.summarize.anthropic_client``), so the caller can
leave the story for a later round instead of giving it a worse card.

Bulk work goes through Message Batches (``digest.card_batches``): the same first requests
(``card_params``) as items of one batch at half price, each answer then taken through the
rest of the steps above as if it were the first attempt (``complete_card``).

Spend: with a ``meter`` (the daily budget), every paid reply is recorded as it arrives
(batch answers included) and every further request first asks ``meter.allows()``: past the
budget a card still missing becomes the offline card marked ``offline-budget``, and a card
awaiting its claim-check regeneration is kept unchecked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

import anthropic
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from digest.errors import InvalidModelOutput, ModelError
from digest.models import CardDraft, Story, Usage
from digest.ports import CardEngine, SpendMeter
from digest.spend import BUDGET_ENGINE
from digest.summarize import prompts, validate
from digest.summarize.anthropic_client import Reply, json_params, request_params

log = logging.getLogger(__name__)

# Room for a card (~600 tokens of JSON) plus the thinking some models do first.
CARD_MAX_TOKENS = 4_096
FALLBACK_ENGINE = "offline-fallback"
# Stop reasons that mean the JSON was cut off.
_CUT_OFF = frozenset({"max_tokens", "model_context_window_exceeded"})

ClaimCheck = Callable[[CardDraft, str], tuple[str, ...]]


class _OverBudget(Exception):
    """The daily budget ran out between two requests for one card; ``usage`` is what the
    card had cost so far (``None``: nothing)."""

    def __init__(self, usage: Usage | None) -> None:
        super().__init__("daily budget spent")
        self.usage = usage


class ClaudeEngine:
    """A ``CardEngine`` backed by Claude. Raises ``ModelError`` only for API failures."""

    name = "claude"

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        model: str,
        categories: Sequence[str],
        fallback: CardEngine,
        claim_check: ClaimCheck | None = None,
        meter: SpendMeter | None = None,
        max_tokens: int = CARD_MAX_TOKENS,
    ) -> None:
        if not categories:
            raise ValueError("ClaudeEngine needs at least one category")
        self._client = client
        self._model = model
        self._categories = tuple(categories)
        self._schema = prompts.card_schema(self._categories)
        self._fallback = fallback
        self._claim_check = claim_check
        self._meter = meter
        self._max_tokens = max_tokens

    @property
    def model(self) -> str:
        return self._model

    async def make_card(self, story: Story, *, language: str | None = None) -> CardDraft:
        """The card for ``story`` in ``language`` (``None``: the story's own language)."""
        return await self.complete_card(story, None, language=language)

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client (the batch flow, ``digest.card_batches``, sends through it)."""
        return self._client

    async def complete_card(
        self, story: Story, first: Reply | None, *, language: str | None = None
    ) -> CardDraft:
        """``make_card``, with ``first`` as the answer to its first request when that
        request was already made (a batch item of ``card_params(story, language=...)``);
        ``None`` makes every request here."""
        source = prompts.source_text(story)
        if first is not None:
            self._record(first)
        try:
            draft, usage = await self._first_valid_card(story, source, language, first)
        except _OverBudget as e:
            card = await self._fallback.make_card(story, language=language)
            return replace(card, engine=BUDGET_ENGINE, usage=e.usage)
        if draft is None:
            card = await self._fallback.make_card(story, language=language)
            return replace(card, engine=FALLBACK_ENGINE, usage=usage)
        terms = self._unsupported(story, draft, source)
        if terms is None:
            return replace(draft, usage=usage)
        if not terms:
            return replace(draft, usage=usage, checked=True)
        return await self._regenerate(story, source, language, draft, terms, usage)

    # -- steps ------------------------------------------------------------------------------

    async def _first_valid_card(
        self, story: Story, source: str, language: str | None, first: Reply | None
    ) -> tuple[CardDraft | None, Usage]:
        """Up to two answers (``first``, when given, is the first); the first card that
        passes validation, and their usage."""
        usage: Usage | None = None
        rejected: str | None = None
        max_tokens = self._max_tokens
        for attempt in (1, 2):
            if attempt == 1 and first is not None:
                reply = first
            else:
                if not self._may_spend():
                    raise _OverBudget(usage)
                reply = await self._ask(story, language, max_tokens, rejected_because=rejected)
            usage = reply.usage if usage is None else usage + reply.usage
            try:
                return self._parse(reply, story, source, language), usage
            except InvalidModelOutput as e:
                log.warning(
                    "story %s: card attempt %d from %s rejected: %s",
                    story.id,
                    attempt,
                    self._model,
                    e,
                )
                if reply.stop_reason == "refusal":
                    break  # asking again gets the same refusal, at the same price
                if reply.stop_reason in _CUT_OFF:
                    max_tokens *= 2
                rejected = str(e)
        assert usage is not None  # at least one request was made
        log.warning("story %s: no valid card from %s; using the fallback", story.id, self._model)
        return None, usage

    async def _regenerate(
        self,
        story: Story,
        source: str,
        language: str | None,
        draft: CardDraft,
        terms: tuple[str, ...],
        usage: Usage,
    ) -> CardDraft:
        """One more request naming the unsupported terms; keeps the better card."""
        log.info(
            "story %s: claim check found %d unsupported terms; regenerating", story.id, len(terms)
        )
        unchecked = replace(draft, usage=usage, checked=False, unchecked_terms=terms)
        if not self._may_spend():
            log.info("story %s: daily budget spent; card kept unchecked", story.id)
            return unchecked
        try:
            reply = await self._ask(story, language, self._max_tokens, unsupported_terms=terms)
        except ModelError as e:
            # A valid card is in hand: keep it, marked, rather than lose it to an API hiccup.
            log.warning("story %s: claim-check regeneration failed: %s", story.id, e)
            return unchecked
        usage = usage + reply.usage
        unchecked = replace(unchecked, usage=usage)
        try:
            second = self._parse(reply, story, source, language)
        except InvalidModelOutput as e:
            log.warning("story %s: regenerated card rejected: %s", story.id, e)
            return unchecked
        second_terms = self._unsupported(story, second, source)
        if second_terms is None:
            return unchecked  # the checker broke on the new card: keep what we know
        if not second_terms:
            return replace(second, usage=usage, checked=True)
        if len(second_terms) > len(terms):
            return unchecked
        return replace(second, usage=usage, checked=False, unchecked_terms=second_terms)

    def _unsupported(self, story: Story, draft: CardDraft, source: str) -> tuple[str, ...] | None:
        """The claim checker's verdict, or ``None`` when there is no checker or it failed: a
        bug in the checker must not cost the story its card."""
        if self._claim_check is None:
            return None
        try:
            return tuple(self._claim_check(draft, source))
        except Exception:
            log.exception("story %s: the claim check failed; card left unchecked", story.id)
            return None

    async def _ask(
        self,
        story: Story,
        language: str | None,
        max_tokens: int,
        *,
        rejected_because: str | None = None,
        unsupported_terms: Sequence[str] = (),
    ) -> Reply:
        params = self.card_params(
            story,
            language=language,
            max_tokens=max_tokens,
            rejected_because=rejected_because,
            unsupported_terms=unsupported_terms,
        )
        reply = await request_params(self._client, params)
        self._record(reply)
        return reply

    def _may_spend(self) -> bool:
        return self._meter is None or self._meter.allows()

    def _record(self, reply: Reply) -> None:
        """Count a paid reply as soon as it arrives, before anything can discard it."""
        if self._meter is not None:
            self._meter.record(reply.usage, purpose="card")

    def card_params(
        self,
        story: Story,
        *,
        language: str | None = None,
        max_tokens: int | None = None,
        rejected_because: str | None = None,
        unsupported_terms: Sequence[str] = (),
    ) -> MessageCreateParamsNonStreaming:
        """The Messages API parameters of one card request: sent alone by ``make_card``, or
        as a batch item by ``digest.card_batches`` (first attempts only, so with the defaults)."""
        user = prompts.card_request(
            story,
            self._categories,
            language=language,
            rejected_because=rejected_because,
            unsupported_terms=unsupported_terms,
        )
        return json_params(
            model=self._model,
            system=prompts.card_system_prompt(),
            user=user,
            schema=self._schema,
            max_tokens=self._max_tokens if max_tokens is None else max_tokens,
        )

    def _parse(self, reply: Reply, story: Story, source: str, language: str | None) -> CardDraft:
        if reply.stop_reason in _CUT_OFF:
            raise InvalidModelOutput("the answer was cut off before the JSON ended")
        if reply.stop_reason == "refusal":
            raise InvalidModelOutput("the model declined to write the card")
        return validate.parse_card(
            reply.text,
            categories=self._categories,
            source=source,
            engine=self.name,
            language=language,
            allowed_links=[a.url for a in story.articles if a.url],
            system_prompt=prompts.card_system_prompt(),
        )
