"""Cards as a chat reads them, for the card lists of ``bot.common.commands`` (``/digest``,
card search): in the chat's language where the story has a card in it, with the text that
filters and searches look at."""

from __future__ import annotations

from digest.languages import language_key
from digest.models import Card, Subscription
from digest.service import DigestService
from digest.store.language_cards import joined_text
from digest.subscriptions import CardText


def card_text(card: Card) -> CardText:
    return CardText.of(
        title=card.title, category=card.category, summary=card.summary, takeaways=card.takeaways
    )


def as_read_by(
    service: DigestService, default_key: str, sub: Subscription | None, cards: list[Card]
) -> list[tuple[Card, CardText]]:
    """Default ``cards`` as ``sub``'s chat reads them, in order: the story's card in the
    subscription's language where one was made, else the default card (``default_key``: the
    key of ``DIGEST_LANGUAGE``, whose readers get the default cards); each with the text
    filters and searches look at. For a card in another language that text is both cards'
    words under the default card's category, as delivery filters it (``joined_text``), not
    only the words shown: a keyword typed in either language counts, so /digest lists the
    cards the subscription is sent."""
    key = language_key(sub.spec.language) if sub is not None else ""
    own: dict[int, Card] = {}
    if key and key != default_key:
        own = service.cards_in_language([c.id for c in cards], key)
    shown: list[tuple[Card, CardText]] = []
    for card in cards:
        text = card_text(card)
        mine = own.get(card.id)
        shown.append((card, text) if mine is None else (mine, joined_text(text, card_text(mine))))
    return shown
