"""Cards in the subscribers' other languages: which are wanted, claiming them, and giving
the default card instead when one will not come.

A mixin of ``digest.store.cards.CardQueries`` (and so of the repository), called by the card
maker (``digest.cardmaker``). A story first gets its default card (``DIGEST_LANGUAGE``);
then, for each other language an active subscription asked for (``wanted_languages``) and
whose topics admit the default card's category, one card in that language. Each (story,
language) is a row of ``language_cards``:

- claimed (``claimed_until``) by one process at a time, with an INSERT that only one
  transaction can make, or a compare-and-set on a claim that ran out, so two processes never
  pay for the same card;
- settled once: "card" when ``save_card`` stored the card (and fanned it out), "default"
  when ``settle_with_default`` gave that language's instant subscribers the default card
  instead (no model, the budget spent, the default card already in that language, or the
  card did not come within ``TRANSLATION_WAIT``). A settled row is never claimed again.

Digests read the same rows (``digest.store.digests``). Raises ``StorageError``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.languages import language_key
from digest.ports import Clock
from digest.store.convert import load_stories
from digest.store.fanout import fan_out_card
from digest.store.tables import (
    CardRow,
    DeliveryItemRow,
    LanguageCardRow,
    StoryRow,
    SubscriptionRow,
)
from digest.subscriptions import CardText

if TYPE_CHECKING:
    from digest.store.cards import StoryClaim

_CARDS = cast(Table, CardRow.__table__)
_STORIES = cast(Table, StoryRow.__table__)
_SUBS = cast(Table, SubscriptionRow.__table__)
_LANGS = cast(Table, LanguageCardRow.__table__)
_ITEMS = cast(Table, DeliveryItemRow.__table__)

SETTLED_CARD = "card"
SETTLED_DEFAULT = "default"
# How long a subscriber in another language waits for the card in its language before the
# default card is sent instead (the card is normally made in the same round as the default
# one; this covers a model that keeps failing). Digests apply the same wait.
TRANSLATION_WAIT = timedelta(minutes=30)
# Only stories whose default card is this recent get cards in other languages: a new
# subscriber in Greek does not start the translation of the whole archive.
TRANSLATION_HORIZON = timedelta(hours=24)


def card_text(s: Session, card_id: int) -> tuple[CardText, int, datetime]:
    """A stored card as the filters see it, with its story id and creation time."""
    row = s.execute(
        select(
            _STORIES.c.title,
            _CARDS.c.category,
            _CARDS.c.summary,
            _CARDS.c.takeaways,
            _CARDS.c.story_id,
            _CARDS.c.created_at,
        )
        .join(_STORIES, _STORIES.c.id == _CARDS.c.story_id)
        .where(_CARDS.c.id == card_id)
    ).one()
    text = CardText.of(
        title=row.title, category=row.category, summary=row.summary, takeaways=row.takeaways or ()
    )
    return text, row.story_id, row.created_at


def joined_text(default: CardText, other: CardText) -> CardText:
    """Both cards' words: a subscriber's keywords may be in either language."""
    return CardText(default.category, default.text + "\n" + other.text, default.words | other.words)


@dataclass(frozen=True, slots=True)
class Reader:
    """An active subscription that asked for a language other than the default."""

    sub_id: int
    topics: frozenset[str] | None  # case-folded categories; None = every category
    digest: bool
    created_at: datetime

    def may_want(self, story: Any, have: set[tuple[int, int]]) -> bool:
        """Whether a card of ``story`` (a row: story_id, category, created_at of its
        default card) may still reach this subscription: a topic it takes (keywords are
        judged once the card exists), not received yet, and, in instant mode, subscribed
        when the story was carded (an instant subscription gets no back-stories)."""
        if self.topics is not None and story.category.casefold() not in self.topics:
            return False
        if (self.sub_id, story.story_id) in have:
            return False
        return self.digest or self.created_at <= story.created_at


class LanguageCardQueries:
    _clock: Clock

    # A transaction, as the class this is mixed into (Repository) opens them.
    _session: Callable[[], AbstractContextManager[Session]]

    def wanted_languages(self) -> dict[str, list[Reader]]:
        """The language keys active subscriptions asked for (not "", the default), each
        with those subscriptions."""
        with self._session() as s:
            rows = s.execute(
                select(
                    _SUBS.c.id,
                    _SUBS.c.language,
                    _SUBS.c.categories,
                    _SUBS.c.mode,
                    _SUBS.c.created_at,
                ).where(_SUBS.c.active.is_(True), _SUBS.c.language.is_not(None))
            ).all()
        wanted: dict[str, list[Reader]] = {}
        for row in rows:
            key = language_key(row.language)
            if key:
                topics = frozenset(c.casefold() for c in row.categories or ()) or None
                reader = Reader(row.id, topics, row.mode == "digest", row.created_at)
                wanted.setdefault(key, []).append(reader)
        return wanted

    def language_card_candidates(
        self, *, wanted: dict[str, list[Reader]], carded_before: datetime | None = None
    ) -> list[tuple[int, str]]:
        """The (story, language) pairs that still need a card in a language of ``wanted``
        (see ``wanted_languages``), oldest story first: the story has its default card
        (made since ``TRANSLATION_HORIZON``, and before ``carded_before`` when given), no
        settled or live claim, and a subscriber of that language who may still receive it
        (see ``Reader.may_want``). A read, to claim from (``claim_language_card``)."""
        if not wanted:
            return []
        now = self._clock.now()
        recent = select(_CARDS.c.story_id, _CARDS.c.category, _CARDS.c.created_at).where(
            _CARDS.c.lang_key == "", _CARDS.c.created_at > now - TRANSLATION_HORIZON
        )
        if carded_before is not None:
            recent = recent.where(_CARDS.c.created_at <= carded_before)
        recent = recent.order_by(_CARDS.c.created_at, _CARDS.c.id)
        with self._session() as s:
            stories = s.execute(recent).all()
            if not stories:
                return []
            story_ids = [r.story_id for r in stories]
            taken = self._language_rows(s, story_ids, wanted)
            have = _stories_given(s, story_ids, [r.sub_id for rs in wanted.values() for r in rs])
        return [
            (story.story_id, key)
            for story, (key, readers) in itertools.product(stories, sorted(wanted.items()))
            if _free(taken.get((story.story_id, key)), now)
            and any(r.may_want(story, have) for r in readers)
        ]

    def claim_language_card(
        self, story_id: int, lang_key: str, *, lease: timedelta
    ) -> StoryClaim | None:
        """Claim one (story, language) for ``lease``, so that no other process writes (and
        pays for) that card meanwhile; ``None`` when another process holds it, or it is
        settled. The database decides, whatever was read before. ``save_card``,
        ``settle_with_default`` or ``release_story`` ends the claim."""
        from digest.store.cards import StoryClaim  # cards.py imports this module

        now = self._clock.now()
        until = now + lease
        with self._session() as s:
            if not _claim(s, story_id, lang_key, now, until):
                return None
            stories = load_stories(s, [story_id])
        return StoryClaim(stories[0], until, lang_key) if stories else None

    def claim_language_cards(
        self,
        *,
        wanted: dict[str, list[Reader]],
        limit: int,
        lease: timedelta,
        carded_before: datetime | None = None,
    ) -> list[StoryClaim]:
        """Up to ``limit`` of ``language_card_candidates``, each claimed for ``lease``."""
        claims: list[StoryClaim] = []
        for story_id, key in self.language_card_candidates(
            wanted=wanted, carded_before=carded_before
        ):
            if len(claims) >= limit:
                break
            claim = self.claim_language_card(story_id, key, lease=lease)
            if claim is not None:
                claims.append(claim)
        return claims

    def _language_rows(
        self, s: Session, story_ids: list[int], wanted: Collection[str]
    ) -> dict[tuple[int, str], Any]:
        found: dict[tuple[int, str], Any] = {}
        for start in range(0, len(story_ids), 500):  # under SQLite's parameter limit
            rows = s.execute(
                select(_LANGS).where(
                    _LANGS.c.story_id.in_(story_ids[start : start + 500]),
                    _LANGS.c.lang_key.in_(list(wanted)),
                )
            )
            for row in rows:
                found[(row.story_id, row.lang_key)] = row
        return found

    def settle_with_default(self, claim: StoryClaim) -> int:
        """No card in ``claim``'s language will be made (or it is the default card's own
        language): give the story's default card to that language's instant subscribers
        (those subscribed when it was made, who do not have the story), and settle the row so
        digests take the default card too. Only while the claim is ours; returns how many
        deliveries were queued."""
        now = self._clock.now()
        with self._session() as s:
            settled = s.scalars(
                update(_LANGS)
                .where(
                    _LANGS.c.story_id == claim.story.id,
                    _LANGS.c.lang_key == claim.lang_key,
                    _LANGS.c.claimed_until == claim.until,
                    _LANGS.c.settled.is_(None),
                )
                .values(settled=SETTLED_DEFAULT, settled_at=now, claimed_until=None)
                .returning(_LANGS.c.story_id)
            ).first()
            if settled is None:
                return 0
            default_id = s.scalar(
                select(_CARDS.c.id).where(
                    _CARDS.c.story_id == claim.story.id, _CARDS.c.lang_key == ""
                )
            )
            if default_id is None:  # the story lost its card (its feed was removed)
                return 0
            text, story_id, carded_at = card_text(s, default_id)
            return fan_out_card(
                s,
                card_id=default_id,
                story_id=story_id,
                card=text,
                now=now,
                languages=(claim.lang_key,),
                subscribed_by=carded_at,
            )

    def _settle_with_card(self, s: Session, story_id: int, lang_key: str, card_id: int) -> int:
        """In ``save_card``'s transaction: the card in ``lang_key`` is stored; settle its row
        and give the card to that language's instant subscribers."""
        now = self._clock.now()
        insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(_LANGS).values(
            story_id=story_id, lang_key=lang_key, settled=SETTLED_CARD, settled_at=now
        )
        s.execute(
            statement.on_conflict_do_update(
                index_elements=[_LANGS.c.story_id, _LANGS.c.lang_key],
                set_={"settled": SETTLED_CARD, "settled_at": now, "claimed_until": None},
            )
        )
        default_id = s.scalar(
            select(_CARDS.c.id).where(_CARDS.c.story_id == story_id, _CARDS.c.lang_key == "")
        )
        text, _, created_at = card_text(s, card_id)
        subscribed_by = created_at
        if default_id is not None:
            default_text, _, subscribed_by = card_text(s, default_id)
            text = joined_text(default_text, text)
        return fan_out_card(
            s,
            card_id=card_id,
            story_id=story_id,
            card=text,
            now=now,
            languages=(lang_key,),
            subscribed_by=subscribed_by,
        )

    def _extend_language_claim(self, claim: StoryClaim, until: datetime) -> bool:
        with self._session() as s:
            moved = s.scalars(
                update(_LANGS)
                .where(*_ours(claim))
                .values(claimed_until=until)
                .returning(_LANGS.c.story_id)
            ).first()
        return moved is not None

    def _release_language_claim(self, claim: StoryClaim) -> None:
        with self._session() as s:
            s.execute(update(_LANGS).where(*_ours(claim)).values(claimed_until=None))


def _stories_given(s: Session, story_ids: list[int], sub_ids: list[int]) -> set[tuple[int, int]]:
    """(subscription, story) pairs already queued or sent, among these."""
    found: set[tuple[int, int]] = set()
    for start in range(0, len(story_ids), 400):  # under SQLite's parameter limit
        for sub_start in range(0, len(sub_ids), 400):
            rows = s.execute(
                select(_ITEMS.c.subscription_id, _ITEMS.c.story_id).where(
                    _ITEMS.c.story_id.in_(story_ids[start : start + 400]),
                    _ITEMS.c.subscription_id.in_(sub_ids[sub_start : sub_start + 400]),
                )
            )
            found.update((sub_id, story_id) for sub_id, story_id in rows)
    return found


def _ours(claim: StoryClaim) -> tuple[Any, ...]:
    return (
        _LANGS.c.story_id == claim.story.id,
        _LANGS.c.lang_key == claim.lang_key,
        _LANGS.c.claimed_until == claim.until,
        _LANGS.c.settled.is_(None),
    )


def _free(row: Any, now: datetime) -> bool:
    if row is None:
        return True
    return row.settled is None and (row.claimed_until is None or row.claimed_until <= now)


def _claim(s: Session, story_id: int, key: str, now: datetime, until: datetime) -> bool:
    """Claim one (story, language): a new row (only one transaction can insert it), or an
    unsettled row whose claim ran out (compare-and-set). Whether it is ours."""
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    created = s.scalars(
        insert(_LANGS)
        .values(story_id=story_id, lang_key=key, claimed_until=until)
        .on_conflict_do_nothing()
        .returning(_LANGS.c.story_id)
    ).first()
    if created is not None:
        return True
    free = _LANGS.c.claimed_until.is_(None) | (_LANGS.c.claimed_until <= now)
    taken = s.scalars(
        update(_LANGS)
        .where(
            _LANGS.c.story_id == story_id,
            _LANGS.c.lang_key == key,
            _LANGS.c.settled.is_(None),
            free,
        )
        .values(claimed_until=until)
        .returning(_LANGS.c.story_id)
    ).first()
    return taken is not None
