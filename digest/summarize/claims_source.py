"""The source side of the claim check: an index of what a source text supports.

Part of the claim check (``digest.summarize.claims`` is its entry point). ``index_source``
reads the source once (cached, since a failing card is checked again against the same
source) into the words, initials, codes, numbers and dates it contains; ``word_found`` and
``fact_found`` answer whether one word or fact of a card is supported. Pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from digest.summarize.claims_scan import (
    CONNECTORS,
    Fact,
    Number,
    Tok,
    fold,
    guess_language,
    scan,
    tokenize,
)

_VARIANTS_SPEC = """american:us,usa,america,unitedstates chinese:china french:france
    british:britain,uk,unitedkingdom english:england dutch:netherlands,holland swiss:switzerland
    spanish:spain greek:greece turkish:turkey,turkiye polish:poland danish:denmark
    swedish:sweden finnish:finland irish:ireland norwegian:norway welsh:wales scottish:scotland
    filipino:philippines emirati:uae iranian:iran iraqi:iraq thai:thailand italian:italy
    portuguese:portugal fed:federalreserve un:unitednations"""

_PAIRS = [
    (a, b) for pair in _VARIANTS_SPEC.split() for a, bs in [pair.split(":")] for b in bs.split(",")
]
_VARIANTS: dict[str, set[str]] = {}  # both ways: "american" -> "us", "us" -> "american"
for _a, _b in _PAIRS + [(b, a) for a, b in _PAIRS]:
    _VARIANTS.setdefault(_a, set()).add(_b)
_HALVES = re.compile(r"\b(first|second|third|fourth)[\s-]+(quarter|half)\b", re.IGNORECASE)
_CJK_DATE = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])\s?月(?:\s?(\d{1,2})\s?日)?")


@dataclass(slots=True)
class Source:
    words: set[str] = field(default_factory=set)
    lower: set[str] = field(default_factory=set)  # words seen starting lower-case
    by_prefix: dict[str, set[str]] = field(default_factory=dict)
    initials: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    compact: str = ""  # folded letters and digits, nothing between them
    text: str = ""  # casefolded, for links
    numbers: list[tuple[float, float, str]] = field(default_factory=list)  # value, mantissa
    dates: set[object] = field(default_factory=set)  # (month, day), months, weekdays
    language: str | None = None


def word_found(word: str, src: Source) -> bool:
    if word in src.words or (word.endswith("s") and word[:-1] in src.words):
        return True
    variants = _VARIANTS.get(word.removesuffix("s"), ())
    if any(v in src.words or (len(v) >= 5 and v in src.compact) for v in variants):
        return True
    if len(word) < 5:
        return False
    stem = word[: max(5, len(word) - 3)]  # "European"/"Europe", "Japan"/"Japanese"
    return any(
        v.startswith(stem) and abs(len(v) - len(word)) <= 3 for v in src.by_prefix.get(word[:5], ())
    )


def fact_found(fact: Fact, toks: list[Tok], src: Source) -> bool:
    if fact.kind == "number":
        assert isinstance(fact.key, Number)
        return _number_found(fact.key, src)
    if fact.kind == "code":
        key = str(fact.key)
        return key in src.codes or key in src.words or (len(key) >= 5 and key in src.compact)
    if fact.kind == "url":
        return toks[fact.first].text.casefold().rstrip("/") in src.text
    return fact.key in src.dates


def _number_found(number: Number, src: Source) -> bool:
    for value, decimals in number.readings:
        for scale in number.scales:
            wanted = value * scale
            # The card may round: "$1.2 billion" stands for anything from 1.15 to 1.25 billion.
            tolerance = 0.5 * 10.0**-decimals * scale * (1 + 1e-9)
            for found, mantissa, unit in src.numbers:
                if number.unit and unit and number.unit != unit:
                    continue
                if abs(wanted - found) <= tolerance or (
                    scale == 1 and abs(value - mantissa) <= tolerance
                ):
                    return True
    return False


@lru_cache(maxsize=4)  # a card that fails is regenerated once against the same source
def index_source(text: str) -> Source:
    toks = tokenize(text)
    src = Source(text=text.casefold(), language=guess_language([toks]))
    for fact in scan(toks, src.language):
        if isinstance(fact.key, Number):
            for value, _ in fact.key.readings:
                for scale in fact.key.scales:
                    src.numbers.append((value * scale, value, fact.key.unit))
        elif fact.kind == "code":
            src.codes.add(str(fact.key))
        if fact.kind in ("code", "date"):  # "COVID-19" has a 19, "March 3" a 3
            parts = toks[fact.first : fact.last + 1]
            digits = [t.text for t in parts if t.kind == "num" and t.text.isdecimal()]
            src.numbers.extend((float(d), float(d), "") for d in digits)
        if isinstance(fact.key, tuple):
            src.dates.add(fact.key)
            if fact.kind == "date":
                src.dates.add(("month", fact.key[1]))
    run: list[str] = []  # the capitalised words just read, for initials
    compact: list[str] = []
    for tok in toks:
        word = fold(tok.text) if tok.kind in ("word", "num") else ""
        if word:
            src.words.add(word)
            src.by_prefix.setdefault(word[:5], set()).add(word)
            compact.append(word)
            if tok.text[0].islower():
                src.lower.add(word)
        if word and tok.kind == "word" and tok.text[0].isupper():
            run.append(word)
            _add_initials(run, src.initials)
        elif not (run and word in CONNECTORS):
            run.clear()
    src.compact = "".join(compact)
    ordinal = {"first": "1", "second": "2", "third": "3", "fourth": "4"}
    for match in _HALVES.finditer(text):
        src.codes.add(match[2][0].lower() + ordinal[match[1].lower()])  # "third quarter": "q3"
    for match in _CJK_DATE.finditer(text):  # "3月", "3月5日"
        month, day = int(match[1]), match[2]
        src.dates.update({("month", month), ("date", month, int(day or 0))})
    return src


def _add_initials(run: list[str], initials: set[str]) -> None:
    """Initials of every name in ``run`` that ends at its last word: "ECB", "CB"."""
    letters = ""
    for word in reversed(run[-8:]):  # longer names are not abbreviated
        if word not in CONNECTORS:
            letters = word[0] + letters
            if len(letters) > 1:
                initials.add(letters)
