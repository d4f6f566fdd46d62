"""The repository's half about cards: which stories need one, claiming them, storing and
reading cards. A mixin of ``digest.store.repository.Repository``, split off for size; it
runs inside the repository's transactions.

A story has one *default* card (``lang_key`` "", in ``DIGEST_LANGUAGE``), made first, and
one card per other language its subscribers asked for (``digest.store.language_cards``).
Lists and "stories without cards" are about the default cards; a card id reaches any card,
and ``cards_in_language`` finds the cards in one language beside a list of default cards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from digest.errors import NotFound
from digest.languages import language_key
from digest.models import Card, CardDraft, Story
from digest.ports import Clock
from digest.store.convert import load_cards, load_stories
from digest.store.language_cards import LanguageCardQueries
from digest.store.tables import MAX_ROW_ID, CardRow, StoryRow

_STORIES = cast(Table, StoryRow.__table__)
_CARDS = cast(Table, CardRow.__table__)
_DEFAULT_CARD = (_CARDS.c.story_id == _STORIES.c.id) & (_CARDS.c.lang_key == "")


@dataclass(frozen=True, slots=True)
class StoryClaim:
    """A story this process may summarize until ``until`` (also the claim's identity: a
    claim that ran out and was taken again has another ``until``), for its default card
    (``lang_key`` "") or its card in the language ``lang_key`` (``digest.languages``)."""

    story: Story
    until: datetime
    lang_key: str = ""


class CardQueries(LanguageCardQueries):
    _clock: Clock

    # A transaction, as the class this is mixed into (Repository) opens them.
    _session: Callable[[], AbstractContextManager[Session]]

    def stories_without_cards(self, limit: int = 100) -> list[Story]:
        """Oldest first, so a backlog is worked through in order."""
        with self._session() as s:
            ids = s.scalars(
                select(_STORIES.c.id)
                .outerjoin(_CARDS, _DEFAULT_CARD)
                .where(_CARDS.c.id.is_(None))
                .order_by(_STORIES.c.created_at, _STORIES.c.id)
                .limit(limit)
            ).all()
            return load_stories(s, list(ids))

    def get_story(self, story_id: int) -> Story:
        with self._session() as s:
            stories = load_stories(s, [story_id])
            if not stories:
                raise NotFound(f"no story {story_id}")
            return stories[0]

    def count_stories_without_cards(self) -> int:
        """How many stories wait for a card (claimed or not): the card maker's backlog."""
        with self._session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(_STORIES.outerjoin(_CARDS, _DEFAULT_CARD))
                    .where(_CARDS.c.id.is_(None))
                )
                or 0
            )

    def claim_stories_for_cards(
        self, *, limit: int, lease: timedelta, story_ids: Sequence[int] | None = None
    ) -> list[StoryClaim]:
        """Stories with no default card yet, oldest first, each claimed for ``lease`` so that
        no other process summarizes (and pays for) the same story meanwhile; ``story_ids``
        narrows the choice. ``save_card`` or ``release_story`` ends a claim; a crashed
        process's claim runs out. Claim as few as you will work on next: a claim held while
        other stories are summarized is a claim that may run out before its turn."""
        now = self._clock.now()
        until = now + lease
        free = (_STORIES.c.card_claimed_until.is_(None)) | (_STORIES.c.card_claimed_until <= now)
        without_card = (
            select(_STORIES.c.id)
            .outerjoin(_CARDS, _DEFAULT_CARD)
            .where(_CARDS.c.id.is_(None), free)
            .order_by(_STORIES.c.created_at, _STORIES.c.id)
            .limit(limit)
        )
        if story_ids is not None:
            without_card = without_card.where(_STORIES.c.id.in_(list(story_ids)))
        with self._session() as s:
            candidates = list(s.scalars(without_card))
            if not candidates:
                return []
            # The claim re-checks "free": of two processes racing for a story, one wins.
            claimed = s.scalars(
                update(_STORIES)
                .where(_STORIES.c.id.in_(candidates), free)
                .values(card_claimed_until=until)
                .returning(_STORIES.c.id)
            ).all()
            stories = load_stories(s, sorted(claimed, key=candidates.index))
        return [StoryClaim(story, until) for story in stories]

    def extend_claim(self, claim: StoryClaim, lease: timedelta) -> StoryClaim | None:
        """The claim pushed out to now + ``lease``; ``None`` when it is no longer ours (it ran
        out and another process took the story, or the story got its card)."""
        until = self._clock.now() + lease
        if claim.lang_key:
            moved_ = self._extend_language_claim(claim, until)
            return StoryClaim(claim.story, until, claim.lang_key) if moved_ else None
        with self._session() as s:
            moved = s.scalars(
                update(_STORIES)
                .where(
                    _STORIES.c.id == claim.story.id, _STORIES.c.card_claimed_until == claim.until
                )
                .values(card_claimed_until=until)
                .returning(_STORIES.c.id)
            ).first()
        return StoryClaim(claim.story, until) if moved is not None else None

    def release_story(self, claim: StoryClaim) -> None:
        """Give up a claim without a card (the engine failed); the story is tried again. A
        claim that is no longer ours is left alone: it is another process's now."""
        if claim.lang_key:
            self._release_language_claim(claim)
            return
        with self._session() as s:
            s.execute(
                update(_STORIES)
                .where(
                    _STORIES.c.id == claim.story.id, _STORIES.c.card_claimed_until == claim.until
                )
                .values(card_claimed_until=None)
            )

    def story_text(self, story_id: int) -> str:
        """The text a question about the story is answered from: every source's article,
        the lead first, separated by blank lines."""
        return "\n\n".join(article.text for article in self.get_story(story_id).articles)

    def save_card(
        self,
        story_id: int,
        draft: CardDraft,
        *,
        related: Sequence[int] = (),
        lang_key: str = "",
        default_language: str | None = None,
    ) -> int | None:
        """Store a story's card and return its id; ``None`` when the story already has one
        in that language (whoever made it). ``lang_key`` "" is the default card (it ends
        the story's claim); another key (``digest.languages.language_key``) a card in that
        language (it settles that language's claim). A new card is queued, in the same
        transaction, for every active instant subscription that wants it
        (``digest.store.fanout``): a crash cannot leave a card without its deliveries. The
        default card goes to the subscriptions that asked for no language or for
        ``default_language`` (``DIGEST_LANGUAGE``); a card in another language to those
        that asked for it (the card maker gives the others the default card when theirs
        cannot be made: ``settle_with_default``)."""
        from digest.store.fanout import fan_out_card  # fanout imports nothing of this module
        from digest.subscriptions import CardText

        usage = draft.usage
        now = self._clock.now()
        with self._session() as s:
            dialect_insert = _insert_ignoring_conflicts(s)
            if lang_key:
                title = s.scalar(select(_STORIES.c.title).where(_STORIES.c.id == story_id))
                # The same related cards as the default card (cards in any language are
                # linked through their stories' default cards).
                related = (
                    related
                    or s.scalar(
                        select(_CARDS.c.related).where(
                            _CARDS.c.story_id == story_id, _CARDS.c.lang_key == ""
                        )
                    )
                    or ()
                )
            else:
                title = s.scalar(
                    update(_STORIES)
                    .where(_STORIES.c.id == story_id)
                    .values(card_claimed_until=None)
                    .returning(_STORIES.c.title)
                )
            card_id: int | None = s.scalars(
                dialect_insert(_CARDS)
                .values(
                    story_id=story_id,
                    category=draft.category,
                    summary=draft.summary,
                    takeaways=list(draft.takeaways),
                    why_it_matters=draft.why_it_matters,
                    faq=[{"question": f.question, "answer": f.answer} for f in draft.faq],
                    engine=draft.engine,
                    language=draft.language,
                    lang_key=lang_key,
                    created_at=now,
                    model=usage.model if usage else None,
                    input_tokens=usage.input_tokens if usage else 0,
                    output_tokens=usage.output_tokens if usage else 0,
                    cost_usd=usage.cost_usd if usage else 0.0,
                    checked=draft.checked,
                    unchecked_terms=list(draft.unchecked_terms),
                    related=list(related),
                )
                .on_conflict_do_nothing()
                .returning(_CARDS.c.id)
            ).first()
            if card_id is None:
                return None
            # Only the transaction that stored the card fans it out.
            if lang_key:
                self._settle_with_card(s, story_id, lang_key, card_id)
                return card_id
            text = CardText.of(
                title=title or "",
                category=draft.category,
                summary=draft.summary,
                takeaways=draft.takeaways,
            )
            languages = {"", language_key(default_language)}
            fan_out_card(
                s, card_id=card_id, story_id=story_id, card=text, now=now, languages=languages
            )
            return card_id

    def get_card(self, card_id: int) -> Card:
        """Raises ``NotFound``."""
        if not 0 < card_id <= MAX_ROW_ID:
            raise NotFound(f"no card with id {card_id}")
        with self._session() as s:
            cards = load_cards(s, select(CardRow).where(CardRow.id == card_id))
            if not cards:
                raise NotFound(f"no card with id {card_id}")
            return cards[0]

    def list_cards(self, limit: int = 20) -> list[Card]:
        """The default cards, newest first (one per story)."""
        with self._session() as s:
            query = (
                select(CardRow)
                .where(CardRow.lang_key == "")
                .order_by(CardRow.created_at.desc(), CardRow.id.desc())
            )
            return load_cards(s, query.limit(limit))

    def cards_in_language(self, card_ids: Sequence[int], lang_key: str) -> dict[int, Card]:
        """For default cards ``card_ids`` (as ``list_cards`` gives them), the cards of the
        same stories in the language ``lang_key`` (``digest.languages.language_key``), by
        the default card's id; a story without a card in that language is left out, and so
        are ids that are not default cards. One statement finds them all and one load
        reads them, whatever the number of ids (``list_cards``'s few hundred stay well under
        SQLite's parameter limit); ``lang_key`` "" gives {} (the ids are default cards)."""
        ids = sorted(set(card_ids))
        if not ids or not lang_key:
            return {}
        default = aliased(CardRow)
        with self._session() as s:
            rows = s.execute(
                select(CardRow.id, default.id)
                .join(default, default.story_id == CardRow.story_id)
                .where(default.id.in_(ids), default.lang_key == "", CardRow.lang_key == lang_key)
            )
            pairs = {card_id: default_id for card_id, default_id in rows}
            if not pairs:
                return {}
            found = load_cards(s, select(CardRow).where(CardRow.id.in_(list(pairs))))
        return {pairs[card.id]: card for card in found}


def _insert_ignoring_conflicts(s: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    return postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
