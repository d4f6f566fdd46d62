"""Sentence features for the offline card engine: cue lexicons, the sentence pool, scores.

``build_pool`` is called once per card by ``digest.summarize.offline``. It cleans and splits
every article of a story (the lead first), drops boilerplate, repeated headlines and
near-duplicate sentences from other sources, and scores what is left the way an editor
would read a news story: early sentences, sentences sharing the headline's words and the
story's recurring words, and sentences with figures, names and outcomes rank higher.

Cue lists are English first, with a few German, French and Spanish words so that a
non-English story still gets a grounded card.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.summarize.sentences import clean_text, split_sentences, words

LEAD_LIMIT = 20_000  # characters of the lead read; a 100 KB page still costs milliseconds
OTHER_LIMIT = 6_000  # characters of each other source
MAX_OTHERS = 5
MAX_PER_ARTICLE = 120
_DUPLICATE = 0.6  # Jaccard similarity at which two sentences are the same fact

_STOP = words(
    """
    the a an and or but if of to in on at by for with from into onto over under about as
    is are was were be been being has have had do does did not no nor so than then that
    this these those it its it's he she they them their his her him we our you your i me my
    who whom whose which what when where why how there here also just more most much many
    some any all each other such only own same too very can could will would should may
    might must shall said says say according new one two after before while during since
    until because out off up down again further once just now still yet however
    der die das den dem des ein eine einer eines und oder aber nicht ist sind war waren
    wird werden hat haben mit von vom zum zur auf aus bei nach für über unter auch noch
    le la les un une des du de et ou mais est sont était été sera avec pour par sur dans
    ce cette ces qui que ne pas plus il elle ils elles au aux
    el los las uno una y o pero es son fue ser con por para sobre en del al lo que se su
    """
)
_DANGLING = words("he she it they this these those but however also and or so yet its his")
_DANGLING |= words("her their er sie es dies il elle ils elles cela ella ellos pero")
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTHS = (
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|" + "|".join(_MONTH_NAMES) + "|"
    "Januar|Februar|März|Mai|Juni|Juli|Oktober|Dezember|"
    "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre"
)
_WEEKDAYS = (
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    "Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag|"
    "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
    "lunes|martes|miércoles|jueves|viernes|sábado|domingo"
)
# Case-sensitive on purpose: "May" is a month, "may" is not.
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\.?\s+(?:{_MONTHS})\b(?:\s+\d{{4}})?"
    rf"|(?:{_MONTHS})\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?\b"
    rf"|(?:{_WEEKDAYS})\b|(?:19|20)\d\d\b"
    r"|\d{1,2}(?::\d\d)?\s?(?:a\.m\.|p\.m\.|am\b|pm\b|Uhr\b|h\b)"
    r"|(?i:yesterday|today|tomorrow|tonight|(?:this|next|last) (?:week|month|year|weekend)"
    r"|(?:later|earlier) this (?:week|month|year)|gestern|heute|morgen|aujourd'hui"
    r"|demain|ayer|hoy|mañana)\b)"
)
_FIGURE = re.compile(
    r"[$€£¥]\s?\d|\d\s?%|\b\d[\d,.]*\s?(?:percent|per cent|prozent|pour cent|por ciento"
    r"|million|billion|trillion|thousand|mio|mrd|millionen|milliarden|millions?|milliards?"
    r"|millones)\b|\b\d|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?"
    r"|hundreds|thousands)\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:will|won't|shall|(?:is|are) (?:set|expected|due|scheduled|likely) to|plans? to"
    r"|expects? (?:to|the)|must"
    r"|planned|scheduled|next (?:week|month|year|season|spring|summer|autumn|winter)"
    r"|later this|in the coming|upcoming|aims? to|intends? to|going to|by 20\d\d"
    r"|wird|werden|soll|sollen|künftig|nächsten?|sera|seront|vont|devrait|prévue?s?"
    r"|prochaine?s?|será|serán|va a|van a|prevé|próxim[oa]s?|se espera)\b",
    re.IGNORECASE,
)


def _weighted(phrases: str, weight: int) -> dict[str, int]:
    return dict.fromkeys(phrases.split("|"), weight)


# Impact cues for "why it matters": strong ones (2) state a stake, weak ones (1) hint at one.
_WHY_WEIGHTS: dict[str, int] = {
    **_weighted(
        "because|means|which means|meaning|matters|could|will affect|could affect|would affect"
        "|first time|expected to|critics say|critics said|critics warn|impact|implications"
        "|consequences|as a result|so that|in order to|warned|warns|risk|risks|significant"
        "|crucial|threat|threatens|concern|concerns|affect|affects|weil|bedeutet|könnte"
        "|erstmals|zum ersten mal|kritiker|folgen|auswirkungen|parce que|signifie|pourrait"
        "|première fois|conséquences|porque|significa|podría|primera vez|críticos|consecuencias",
        2,
    ),
    **_weighted(
        "would|may|might|likely to|allow|allows|lets|help|helps|record|largest|biggest"
        "|analysts|experts|boost|reduce|cost|costs|jobs|households|consumers|residents"
        "|patients|users|customers|millions|pressure|protect|protects|bills|depend on"
        "|depends on|affected|dürfte|devrait|debería",
        1,
    ),
}
_WHY = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _WHY_WEIGHTS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# Someone acting on the news: the answer to "What is being done about it?".
_ACTION = re.compile(
    r"\b(?:investigat\w*|hired|asked|ordered|urged|called for|advis\w+|recommend\w*"
    r"|apologi[sz]ed|responded|reported (?:it|the \w+) to|review\w*|ratif\w+|appeal\w*"
    r"|ermittel\w*|enquête|investiga\w*)\b",
    re.IGNORECASE,
)
_OUTCOME = re.compile(
    r"\b(?:approved|rejected|won|lost|passed|announced|launched|found|agreed|signed|rose|fell"
    r"|cut|raised|killed|injured|arrested|banned|released|closed|opened|ruled|voted|fined"
    r"|acquired|beat|reached|confirmed|completed|published|discovered|recorded|dropped"
    r"|increased|decreased|doubled|halved|restored|shut)\b",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"\b(?:said|says|told|according to|announced|spokes\w+|sagte|erklärte|laut|a déclaré"
    r"|selon|dijo|según)\b",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"^(?:read more|click here|continue reading|subscribe|sign up|share (?:this|on)"
    r"|advertisement|related(?: articles?)?:|image:|photo:|picture:|credit:|©|copyright"
    r"|follow us)|appeared first on|all rights reserved|cookie (?:policy|settings)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[^\W\d_][\w'’-]*")
_NUMBER = re.compile(r"\d[\d,.]*\d")  # "24,600" and "61" are facts worth comparing
_URL_ONLY = re.compile(r"^\S+://\S+$|^\S+@\S+$")


@dataclass(slots=True)
class Sentence:
    """One candidate sentence with what the card parts need to know about it."""

    index: int  # order in the pool: lead article first, then the others
    text: str
    article: int
    position: int  # among the informative sentences of its article
    words: frozenset[str]
    figures: int
    names: int  # capitalised words inside the sentence: people, places, organisations
    has_date: bool
    future: int
    why: int
    outcome: bool
    action: int
    attribution: bool
    question: bool
    dangling: bool
    quote: bool  # opens with a quotation: colourful, but a weak takeaway or answer
    score: float = 0.0


def build_pool(title: str, texts: Sequence[str]) -> tuple[list[Sentence], str]:
    """Score the sentences of a story's articles (lead first); also return the text read.

    The text read (title excluded) is what the caller classifies. Never raises.
    """
    title_words = content_words(title)
    pool: list[Sentence] = []
    read: list[str] = []
    seen: set[str] = set()
    by_word: dict[str, list[int]] = {}  # word -> pool indexes, so duplicates are found fast
    for article, raw in enumerate(texts[: 1 + MAX_OTHERS]):
        text = _cap(clean_text(raw), LEAD_LIMIT if article == 0 else OTHER_LIMIT)
        read.append(text)
        position = 0
        for text_sentence in split_sentences(text):
            if position == MAX_PER_ARTICLE:
                break
            if not _informative(text_sentence):
                continue
            found = content_words(text_sentence)
            if title_words and jaccard(found, title_words) >= 0.8:
                continue  # the headline repeated as the first line of the body
            if text_sentence in seen or _repeats(found, pool, by_word):
                continue  # another source saying the same thing: keep the first wording
            seen.add(text_sentence)
            for word in found:
                by_word.setdefault(word, []).append(len(pool))
            pool.append(_describe(len(pool), text_sentence, article, position, found))
            position += 1
    _count_leading_names(pool)
    _score(pool, title_words)
    return pool, "\n\n".join(read)


def _repeats(found: frozenset[str], pool: list[Sentence], by_word: dict[str, list[int]]) -> bool:
    """Whether a sentence already in ``pool`` has Jaccard similarity >= ``_DUPLICATE``."""
    shared = Counter(i for word in found for i in by_word.get(word, ()))
    return any(
        count >= _DUPLICATE * (len(found) + len(pool[i].words) - count)
        for i, count in shared.items()
    )


def content_words(text: str) -> frozenset[str]:
    """Lower-cased words that carry meaning (no stop words, nothing shorter than 3), and numbers."""
    found = {w for w in (t.lower() for t in _TOKEN.findall(text)) if len(w) >= 3}
    return frozenset(found - _STOP) | {n.replace(",", "") for n in _NUMBER.findall(text)}


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def similarity(a: Sentence, b: Sentence) -> float:
    """How much two sentences say the same thing (0 to 1); identical text is 1.

    The share of the shorter sentence's words found in the other one, so that a short
    restatement of a long sentence counts as the same fact; Jaccard for tiny sentences.
    """
    if a.text == b.text:
        return 1.0
    smaller = min(len(a.words), len(b.words))
    if smaller < 4:
        return jaccard(a.words, b.words)
    return len(a.words & b.words) / smaller


def english_date(when: datetime) -> str:
    """ "3 November 2026": spelled out so it reads the same in every locale."""
    return f"{when.day} {_MONTH_NAMES[when.month - 1]} {when.year}"


def _describe(
    index: int, text: str, article: int, position: int, found: frozenset[str]
) -> Sentence:
    tokens = _TOKEN.findall(text)
    names = _names_in(tokens)
    no_dates = _DATE.sub(" ", text)
    cues = {m.group(0).lower() for m in _WHY.finditer(text)}
    return Sentence(
        index=index,
        text=text,
        article=article,
        position=position,
        words=found,
        figures=min(len(_FIGURE.findall(no_dates)), 3),
        names=min(len(names), 4) if len(names) < 0.6 * len(tokens) else 0,  # not German nouns
        has_date=_DATE.search(text) is not None,
        future=len(_FUTURE.findall(text)),
        why=sum(_WHY_WEIGHTS.get(cue, 1) for cue in cues),
        outcome=_OUTCOME.search(text) is not None,
        action=len(_ACTION.findall(text)),
        attribution=_ATTRIBUTION.search(text) is not None,
        question=text.rstrip("\"'”’»)").endswith(("?", "？")),
        dangling=bool(tokens) and tokens[0].lower() in _DANGLING,
        quote=text[:1] in "\"“„«'‘",
    )


def _names_in(tokens: list[str]) -> list[str]:
    """Capitalised words after the first: names of people, places and organisations."""
    return [
        t for t in tokens[1:] if t[0].isupper() and t.lower() not in _STOP and not _DATE.match(t)
    ]


def _count_leading_names(pool: list[Sentence]) -> None:
    """A sentence opening with a name ("Hartmann noted ...") names someone too.

    Every first word is capitalised, so it counts only when the story uses it as a name
    inside some sentence.
    """
    known = {t for s in pool for t in _names_in(_TOKEN.findall(s.text))}
    for s in pool:
        first = _TOKEN.search(s.text)
        if first is not None and first.group(0) in known:
            s.names = min(s.names + 1, 4)


def _score(pool: list[Sentence], title_words: frozenset[str]) -> None:
    """An editor's reading: lede first, headline words, recurring words, hard facts."""
    frequency = Counter(w for s in pool for w in s.words)
    for s in pool:
        shared = sum(min(frequency[w], 4) - 1 for w in s.words) / (3 * (len(s.words) + 3))
        headline = len(s.words & title_words) / len(title_words) if title_words else 0.0
        early = (1.0 if s.article == 0 else 0.4) / (1 + 0.5 * s.position)
        s.score = (
            1.5 * headline
            + shared
            + 1.2 * early
            + 0.15 * s.figures
            + 0.1 * min(s.names, 2)
            + 0.2 * s.outcome
            - 0.6 * s.question
            - (0.4 if s.dangling and s.position else 0.0)
            - (0.4 if len(s.text) < 50 else 0.0)
            - (0.3 if len(s.text) > 400 else 0.0)
        )


def _informative(text: str) -> bool:
    """Worth quoting: enough letters, more than a fragment, not boilerplate or a bare link."""
    letters = sum(map(str.isalpha, text))
    if letters < 12 or _URL_ONLY.match(text) or _BOILERPLATE.search(text):
        return False
    spaced = text.count(" ") >= 3
    return spaced or (" " not in text and len(text) >= 8)  # CJK has no spaces


def _cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a paragraph or sentence end where possible."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rfind("\n\n")
    if cut < limit // 2:
        ends = [m.end() for m in re.finditer(r"[.!?。！？][\"'”’)]*\s", head)]
        cut = ends[-1] if ends and ends[-1] >= limit // 2 else head.rfind(" ")
    return head[: cut if cut > 0 else limit]
