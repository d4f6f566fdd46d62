"""Related cards: the few recent cards on the closest subjects to a card.

The card step calls ``related_cards`` when it stores a new card, with the recent cards the
repository holds (the caller picks the window and passes at most a few hundred), and stores
the ids on the card; adapters show them as "Related". Pure, no I/O, never raises.

Similarity is the cosine of TF-IDF vectors of each card's title, summary and takeaways. The
title counts twice: a headline names the subject, a summary also tells the story around it.
Words are NFKC-normalised and case-folded, possessives, digits and English, German, French
and Spanish stopwords dropped, and plurals and -ed/-ing endings folded by a crude stripper
("tariffs", "tariffed", "tariff" are one word). Term weights are ``1 + log(tf)``: a word
said five times is not five times the subject. IDF (``log((n + 1) / (df + 1)) + 1``) comes
from the candidates and the card, so words every recent card shares weigh least.

The card itself and cards of the same story are never related. A candidate must reach
``MIN_SIMILARITY``, so a card on an unrelated subject gets no related cards rather than the
least unrelated ones. Equal scores go to the more recent card (published, else created),
then the higher id.

Cost: word vectors are cached per text (``VECTOR_CACHE`` texts), so a call mostly counts
document frequencies and takes a dot product per candidate that shares a word with the card.
"""

from __future__ import annotations

import heapq
import math
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from digest.models import Card
from digest.summarize.sentences import words

__all__ = ["MIN_SIMILARITY", "related_cards"]

# Calibrated on the test cards: stories on one subject ("EU fines Meta", "EU fines Apple";
# "heatwave in Europe", "wildfires in Canada") score 0.11-0.32; stories that share only a
# word or two ("rates", "Europe") score up to 0.05.
MIN_SIMILARITY = 0.08
TITLE_WEIGHT = 2
VECTOR_CACHE = 4096  # more than the cards of a busy week's window

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
_STOPWORDS = words(
    """
    a about above after again against all also although am among an and any are as at be
    because been before being below between both but by can could did do does doing down
    during each either even ever every few for from further had has have having he her here
    hers him his how however i if in into is it its itself just last least less like made make
    many may me might more most much must my near new next no nor not now of off often on once
    one only or other our out over own per perhaps rather said same say says see she should
    since so some still such than that the their them then there these they this those though
    three through thus to too two under until up upon us very via was we well were what when
    where whether which while who whom whose why will with within without would year years
    yet you your week weeks month months day days today yesterday time percent cent according
    told report reported reports news first second third company companies people new
    der die das den dem des ein eine einer eines einem und oder aber nicht ist sind war waren
    wird werden wurde hat haben mit von vom zum zur auf aus bei nach für über unter auch noch
    sich als wie im am es er sie wir ihr dass so nur mehr schon jahr jahren prozent
    le la les un une des du de et ou mais est sont était été sera avec pour par sur dans ce
    cette ces qui que ne pas plus il elle ils elles au aux se sa son ses leur leurs été an ans
    el los las uno una y o pero es son fue ser con por para sobre en del al lo se su sus
    como más este esta año años
    """
)
_KEEP = words("news series species gas bias always perhaps crisis analysis basis")


def related_cards(card: Card, candidates: Sequence[Card], limit: int = 3) -> list[int]:
    """Ids of up to ``limit`` cards from ``candidates`` closest in subject to ``card``, the
    closest first. Called by the card step for each new card; ``[]`` when none is close."""
    query = _vector(_text(card))
    if not query.weights or limit <= 0:
        return []
    pool: dict[int, tuple[Card, _Vector]] = {}
    for other in candidates:
        if other.id != card.id and other.story_id != card.story_id:
            pool[other.id] = (other, _vector(_text(other)))
    df = Counter(query.terms)
    for _, vector in pool.values():
        df.update(vector.terms)
    n = len(pool) + 1
    idf2 = {term: (math.log((n + 1) / (count + 1)) + 1) ** 2 for term, count in df.items()}
    query_norm = _norm(query, idf2)
    scored: list[tuple[float, float, int]] = []
    for other_id, (other, vector) in pool.items():
        shared = query.weights.keys() & vector.weights.keys()
        if not shared:
            continue  # a card with no word in common costs no norm
        dot = sum(query.weights[t] * vector.weights[t] * idf2[t] for t in shared)
        score = dot / (query_norm * _norm(vector, idf2))
        if score >= MIN_SIMILARITY:
            # Rounded so that cards with the same words tie and recency decides.
            scored.append((round(score, 9), _when(other), other_id))
    return [other_id for _, _, other_id in heapq.nlargest(limit, scored)]


class _Vector(NamedTuple):
    weights: dict[str, float]  # term -> 1 + log(tf)
    terms: tuple[str, ...]  # the same terms and squared weights as tuples, so that a norm
    squares: tuple[float, ...]  # is a C loop (map) instead of a Python one: 4x faster


def _norm(vector: _Vector, idf2: dict[str, float]) -> float:
    return math.sqrt(sum(map(operator.mul, vector.squares, map(idf2.__getitem__, vector.terms))))


def _when(card: Card) -> float:
    """The card's recency as a timestamp: comparable whether or not datetimes carry a zone."""
    try:
        return (card.published_at or card.created_at).timestamp()
    except (OverflowError, OSError, ValueError):  # a naive year-1 date on some platforms
        return 0.0


def _text(card: Card) -> str:
    return "\n".join([card.title] * TITLE_WEIGHT + [card.summary, *card.takeaways])


@lru_cache(maxsize=VECTOR_CACHE)
def _vector(text: str) -> _Vector:
    """The weighted terms of ``text``. Cached: a candidate is read once, not once a call."""
    counts = Counter(
        _stem(word)
        for word in (
            _POSSESSIVE.sub("", w) for w in _WORD.findall(unicodedata.normalize("NFKC", text))
        )
        if len(word) > 1 and word.casefold() not in _STOPWORDS
    )
    weights = {term: 1 + math.log(count) for term, count in counts.items()}
    return _Vector(weights, tuple(weights), tuple(w * w for w in weights.values()))


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Fold case, plurals and -ed/-ing: "Tariffs", "tariffed", "tariff" -> "tariff". Crude on
    purpose: it only has to treat every card alike."""
    word = word.casefold()
    if len(word) <= 3 or word in _KEEP:
        return word
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)] + replacement
            break
    return word[:-1] if word.endswith("e") and len(word) >= 5 else word
