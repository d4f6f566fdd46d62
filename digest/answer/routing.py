"""Which way a follow-up question goes: the card's "why it matters", a FAQ item, or open.

``digest.answer.engine.Answerer.answer`` calls ``classify`` for every question; tests call
it directly. Pure and fast (no I/O, tens of microseconds), so the two card routes stay far
below the 5 ms p99 the issue asks for. Raises ``ValueError`` only for an empty question.

**Why it matters.** A question goes there when it carries a *significance cue* ("matter",
"important", "significance", "so what", "why should I care", "what does this mean for
me", "warum ist das wichtig", ...) and nothing else of substance: once fillers, pronouns
and nouns that point at the story itself ("this", "the news", "the move") are removed,
nothing may be left. That is what keeps "why did the CEO resign?" out (a "why", but no
cue) and "why does this matter to small firms?" out ("small firms" is left over: a
specific question the card's paragraph does not answer). One exception: after a *strong*
cue (matter, important, significance, ...) left-over words that all occur in the card's
title are allowed, since "why does the Meta fine matter?" asks about the story itself.
Weak cues ("care", "so what", "meaning", "big deal") never take that exception: "so what
did the CEO say?" is a question about the CEO.

Typos: a word we do not know is matched to the cue vocabulary within edit distance 1
(2 for words of 8+ letters, first letter kept), and a few chat spellings ("wy", "dose",
"whats") are mapped outright.

**FAQ.** Each question becomes a wh-kind (who, when, where, why, how, quantity, what, or
none for yes/no questions) and a set of content stems (``retrieval.terms``: stopwords
dropped, light stemming, a few synonyms). A card question matches when the wh-kinds are
equal and the weighted Dice overlap of the stems reaches ``FAQ_MIN_SIMILARITY``. Vague
words ("happen", "say", "new") weigh half, so two questions sharing only "say" do not match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from digest.answer.retrieval import STOPWORDS, stem, words
from digest.models import Card, FaqItem
from digest.summarize.sentences import words as _set

# Tuned on the tables in tests/digest/answer/test_routing.py: every matching pair there
# scores >= 0.67 and every non-matching one <= 0.5 (the tests keep a 0.05 margin each side).
FAQ_MIN_SIMILARITY = 0.6
MAX_QUESTION_CHARS = 1_000  # analysis cost is bounded; the service caps questions anyway


class RouteKind(StrEnum):
    WHY_IT_MATTERS = "why_it_matters"
    FAQ = "faq"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a question goes. ``faq_index`` is set for ``FAQ`` (an index into ``card.faq``)."""

    kind: RouteKind
    faq_index: int | None = None
    similarity: float = 0.0


# Cues after which left-over words from the card's title are still allowed.
_STRONG_CUES = _set(
    """
    matter matters mattered mattering important importance significant significance
    significantly relevant relevance newsworthy
    wichtig wichtige relevanz bedeutsam bedeutend importante importancia importanza
    belangrijk wazne важно
    """
)
_WEAK_CUES = _set(
    """
    care cares caring cared meaning consequence consequences implication implications
    bedeutet bedeutung interessieren interessiert kummern kummert
    soucier importe signifie importa importarme significa interesarme interessarmi
    betekent znaczy значит
    """
)
_STRONG_PHRASES = re.compile(
    r"\bwhy (?:is|was) (?:this|that|it) (?:even )?"
    r"(?:news|newsworthy|in the news|being reported|reported|a (?:big )?story)\b"
    r"|\bmeans? (?:for|to) (?:me|us|you|people|everyone|anyone|readers|ordinary|the average)\b"
    r"|\b(?:affect|affects|impact|impacts) (?:me|us|you|my|our|people|everyone|anyone"
    r"|ordinary|the average|someone like me)\b"
    r"|\bwhy (?:should|would|do|does|must) (?:i|we|you|anyone|anybody|people|one) care\b"
)
_WEAK_PHRASES = re.compile(
    r"^(?:and |but |ok |okay |well )?so what\b|\bbig deal\b|\bat stake\b"
    r"|\bwhat is the point\b|\bwhat is the impact\b|\bwhat impact\b"
    r"|\bwhat (?:does|do|did|will|would|could|can|might) (?:\w+ ){1,4}mean\b"
    r"|^na und\b|^et alors\b|\bqu est ce que (?:ca|cela) change\b|\bca change quoi\b"
    r"|^y que\b|^e allora\b|\bmaakt (?:dit|dat|het) (?:wat )?uit\b"
)
# Words a why-it-matters question may hold besides its cue: function words, the asker,
# and nouns that point at the story itself. Several languages, accents folded.
_FILLERS = STOPWORDS | _set(
    """
    so why what how exactly actually really anyway again even still then now here today
    right ok okay hey hi bot please pls plz briefly short simple simply terms words
    nutshell tl dr tldr like ordinary average normal regular everyone everybody anybody people
    person readers reader folks world public society whole thing things stuff story news
    article piece report announcement development decision move change event update ruling
    item headline situation case issue deal point stake stakes big overall general long run
    term future guess wonder wondering curious understand help get kind sort too truly
    honestly mean means meaning affect affects impact impacts newsworthy reported
    warum wieso weshalb weswegen inwiefern ist sind war das dies diese dieser dieses es denn
    eigentlich fur mich mir uns ich wir man was welche welchen welcher hat haben wird werden
    sein sollte soll sollten genau jetzt nun uberhaupt und na die der den dem nachricht
    meldung sache jemanden jemand leute heisst hier wirklich
    pourquoi est ce c ca cela ceci qu que quoi en pour moi nous on me m je devrais devrait
    doit la le les l une un nouvelle info information quelle quel et alors y vraiment donc
    tout change
    por porque es esto eso esta este para mi nos deberia debe el lo los las cual noticia
    tan realmente entonces
    perche e questo questa cio per ci dovrebbe dovrei il cosa che notizia allora davvero
    isso isto o qual disso mim deveria noticias
    waarom dit dat het de een voor mij ons maakt uit wat zo
    dlaczego czemu to jest dla mnie nas co почему это для меня нас что так
    """
)
_TYPOS = {
    "wy": ("why",),
    "whyy": ("why",),
    "whhy": ("why",),
    "wht": ("what",),
    "wat": ("what",),
    "wut": ("what",),
    "whats": ("what", "is"),
    "wats": ("what", "is"),
    "s": ("is",),  # "what's" -> "what", "s"
    "dose": ("does",),
    "dos": ("does",),
    "doe": ("does",),
    "thsi": ("this",),
    "tihs": ("this",),
    "htis": ("this",),
    "ths": ("this",),
    "dis": ("this",),
    "teh": ("the",),
    "u": ("you",),
    "ur": ("your",),
    "r": ("are",),
    "shud": ("should",),
    "shld": ("should",),
    "imporant": ("important",),
}
_CUES = _STRONG_CUES | _WEAK_CUES
_KNOWN = _FILLERS | _CUES
_FUZZY_TARGETS = tuple(
    sorted(w for w in _CUES | _set("should would about really explain anyone") if len(w) >= 5)
)

# -- FAQ similarity --------------------------------------------------------------------------

_WH = {
    "who": "who",
    "whom": "who",
    "whose": "who",
    "when": "when",
    "where": "where",
    "why": "why",
    "how": "how",
    "what": "what",
    "which": "what",
    "wer": "who",
    "wann": "when",
    "wo": "where",
    "warum": "why",
    "wieso": "why",
    "wie": "how",
    "qui": "who",
    "quand": "when",
    "pourquoi": "why",
    "comment": "how",
    "combien": "quantity",
    "quien": "who",
    "cuando": "when",
    "donde": "where",
    "cuanto": "quantity",
}
_HOW_QUANTITY = _set("much many big large high expensive costly far")
_HOW_WHEN = _set("long soon")
_WHAT_WHEN = _set("time date day year month")
_VAGUE = frozenset(stem(w) for w in _set("happen say new key main done get go make take thing"))


@dataclass(frozen=True, slots=True)
class _Question:
    kind: str
    terms: frozenset[str]


def normalise_question(question: str) -> str:
    """``question`` NFKC-normalised, control characters removed, whitespace collapsed.

    Raises ``ValueError`` when nothing is left. Called by ``classify`` and by the engine,
    which passes the normalised text on to the model.
    """
    text = unicodedata.normalize("NFKC", question)
    if not text.isascii() or not text.isprintable():
        text = "".join(_clean_char(c) for c in text)
    text = " ".join(text.split())
    if not text:
        raise ValueError("empty question")
    return text


def _clean_char(c: str) -> str:
    """Control and separator characters become spaces; invisible format characters go,
    except the zero-width joiner that holds emoji sequences together."""
    category = unicodedata.category(c)
    if category == "Cf":
        return c if c == "\u200d" else ""
    return " " if category[0] in "CZ" else c


def classify(question: str, card: Card) -> Route:
    """Route ``question`` about ``card``. Raises ``ValueError`` for an empty question.

    A card with an empty "why it matters" never routes there, and FAQ items with an empty
    answer are skipped, so every route the caller gets can be answered.
    """
    text = normalise_question(question)[:MAX_QUESTION_CHARS]
    tokens = _tokens(text, keep=_title_words(card.title))
    if card.why_it_matters.strip() and _asks_why_it_matters(tokens, card.title):
        return Route(RouteKind.WHY_IT_MATTERS)
    found = _best_faq(tokens, card.faq)
    if found is not None:
        return Route(RouteKind.FAQ, faq_index=found[0], similarity=found[1])
    return Route(RouteKind.OPEN)


def _best_faq(tokens: Sequence[str], faq: Sequence[FaqItem]) -> tuple[int, float] | None:
    """The index and similarity of the FAQ item closest to the question, if close enough."""
    asked = _analyse(tuple(tokens))
    if not asked.terms:
        return None
    best: tuple[int, float] | None = None
    for i, item in enumerate(faq):
        if not item.answer.strip():
            continue
        score = _similarity(asked, _analyse(tuple(_tokens(item.question[:MAX_QUESTION_CHARS]))))
        if score >= FAQ_MIN_SIMILARITY and (best is None or score > best[1]):
            best = (i, score)
    return best


def faq_similarity(question: str, other: str) -> float:
    """How close two questions are (0..1); 0 when their wh-kinds differ. For tuning."""
    return _similarity(_analyse(tuple(_tokens(question))), _analyse(tuple(_tokens(other))))


def _similarity(a: _Question, b: _Question) -> float:
    if a.kind != b.kind or not a.terms or not b.terms:
        return 0.0
    total = sum(map(_weight, a.terms)) + sum(map(_weight, b.terms))
    hit = sum(_weight(t) for t in a.terms if _near(t, b.terms))
    hit += sum(_weight(t) for t in b.terms if _near(t, a.terms))
    return hit / total


def _weight(term: str) -> float:
    return 0.5 if term in _VAGUE else 1.0


def _near(term: str, terms: frozenset[str]) -> bool:
    """``term`` is in ``terms``, or one typo away from a long word in it ("happend")."""
    if term in terms:
        return True
    return len(term) >= 5 and any(len(t) >= 5 and _distance(term, t, 1) <= 1 for t in terms)


@lru_cache(maxsize=8_192)
def _analyse(tokens: tuple[str, ...]) -> _Question:
    """Wh-kind and content stems. Cached: FAQ questions are analysed on every ask."""
    kind = ""
    for i, token in enumerate(tokens):
        found = _WH.get(token)
        if found is None:
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if found == "how" and after in _HOW_QUANTITY:
            found = "quantity"
        elif (found == "how" and after in _HOW_WHEN) or (found == "what" and after in _WHAT_WHEN):
            found = "when"
        kind = found
        break
    content = frozenset(stem(t) for t in tokens if t not in STOPWORDS and t not in _WH)
    return _Question(kind, content)


# -- why it matters -------------------------------------------------------------------------


def _asks_why_it_matters(tokens: Sequence[str], title: str) -> bool:
    joined = " ".join(tokens)
    strong = any(t in _STRONG_CUES for t in tokens) or _STRONG_PHRASES.search(joined)
    if not strong and not (any(t in _WEAK_CUES for t in tokens) or _WEAK_PHRASES.search(joined)):
        return False
    leftover = [t for t in tokens if t not in _KNOWN]
    if not leftover:
        return True
    if not strong:
        return False
    in_title = _title_stems(title)
    return all(stem(t) in in_title for t in leftover)


@lru_cache(maxsize=4_096)
def _title_stems(title: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(title))


@lru_cache(maxsize=4_096)
def _title_words(title: str) -> frozenset[str]:
    return frozenset(words(title))


def _tokens(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """Folded words with chat spellings mapped and typos of cue words corrected.

    Words in ``keep`` (the card title's) are never "corrected": "Mattel" is not "matter".
    """
    out: list[str] = []
    for word in words(text):
        if word in keep:
            out.append(word)
        else:
            out.extend(_TYPOS.get(word) or (_correct(word),))
    return out


@lru_cache(maxsize=16_384)
def _correct(word: str) -> str:
    """``word``, or the cue-vocabulary word it is most likely a typo of."""
    if word in _KNOWN or len(word) < 4 or not word.isalpha():
        return word
    best, best_distance = word, 3
    for target in _FUZZY_TARGETS:
        if target[0] != word[0]:
            continue
        allowed = 2 if len(target) >= 8 else 1
        d = _distance(word, target, allowed)
        if d <= allowed and d < best_distance:
            best, best_distance = target, d
    return best


def _distance(a: str, b: str, cap: int) -> int:
    """Edit distance with adjacent transpositions; anything above ``cap`` is ``cap + 1``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > cap:
            return cap + 1
        before, previous = previous, current
    return previous[-1]
