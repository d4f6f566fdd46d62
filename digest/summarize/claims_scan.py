"""Reading text for the claim check: tokens, and the facts among them.

Part of the claim check (``digest.summarize.claims`` is its entry point; this module and
``claims_source`` are its internals). ``tokenize`` splits a text into words, numbers, links
and symbols; ``scan`` walks the tokens and recognises dates, codes, amounts, months and
weekdays, leaving every other word as a ``word`` fact for the name check. The same reading
serves the card (what it claims) and the source (what supports a claim). Pure, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from digest.summarize.sentences import words


def _table(*rows: str) -> dict[str, int]:
    """Row n (from 1) lists the words that mean n: months, weekdays, numbers."""
    return {word: n for n, row in enumerate(rows, 1) for word in row.split()}


_MONTHS = _table(
    "january jan januar janner janvier enero gennaio janeiro januari",
    "february feb februar fevrier febrero febbraio fevereiro februari",
    "march mar marz maerz mars marzo maart",
    "april apr avril abril aprile",
    "may mai mayo maggio maio mei",
    "june jun juni juin junio giugno junho",
    "july jul juli juillet julio luglio julho",
    "august aug aout agosto augustus",
    "september sep sept septembre septiembre settembre setembro",
    "october oct oktober octobre octubre ottobre outubro",
    "november nov novembre noviembre novembro",
    "december dec dezember decembre diciembre dicembre dezembro",
)
_MONTH_ABBREVIATIONS = words("jan feb mar apr jun jul aug sep sept oct nov dec")
# Written in lower case only as a month in French, Spanish, ...: "le 3 mars", "en mayo".
_LOWER_CASE_MONTHS = frozenset(_MONTHS) - _MONTH_ABBREVIATIONS - words("march may august")
_MAY_LEADS = words("in since until by of from through before after early late mid last next")
_WEEKDAYS = _table(
    "monday montag lundi lunes lunedi maandag",
    "tuesday dienstag mardi martes martedi dinsdag",
    "wednesday mittwoch mercredi miercoles mercoledi woensdag",
    "thursday donnerstag jeudi jueves giovedi donderdag",
    "friday freitag vendredi viernes venerdi vrijdag",
    "saturday samstag sonnabend samedi sabado sabato zaterdag",
    "sunday sonntag dimanche domingo domenica zondag",
)
_NUMBER_WORDS = """one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen twenty"""
_ENGLISH_NUMBERS = {word: n for n, word in enumerate(_NUMBER_WORDS.split(), 1)}
# Only support a card's figure ("third" supports "3rd"); "sept" and "once" are left out.
_OTHER_NUMBERS = _table(
    "first erste premier", "second zwei deux dos", "third drei trois tres tercer",
    "fourth vier quatre cuatro", "fifth funf cinq cinco", "sixth sechs seis",
    "seventh sieben siete", "eighth acht huit ocho", "ninth neun neuf nueve",
    "tenth zehn dix diez", "elf onze", "zwolf douze doce",
)  # fmt: skip
_SCALES: dict[str, tuple[float, ...]] = {
    **dict.fromkeys(words("thousand thousands k tsd mil"), (1e3,)),
    **dict.fromkeys(
        words("million millions m mn mln mio millionen millon millones milione milioni"), (1e6,)
    ),
    **dict.fromkeys(words("billion billions b bn bln milliard milliards milliarde"), (1e9,)),
    **dict.fromkeys(words("milliarden mrd md mds miliardo miliardi miljard"), (1e9,)),
    **dict.fromkeys(words("trillion trillions tn trn billionen bio billon billones"), (1e12,)),
}
_SCALE_ABBREVIATIONS = words("tsd mio mln mrd md mds bio")  # "3 Mrd." ends with its dot
_LETTER_SCALES = words("m b")  # "$5m", but "a 5m wall" is five metres
_NUMBER_SUFFIXES = words("st nd rd th s am pm c")  # "3rd", "1990s", "10am", "1.5C"
_NOT_CODE = _NUMBER_SUFFIXES | frozenset(_SCALES)  # "3rd", "1.2bn", "50k" are numbers
_CURRENCIES = {
    **dict.fromkeys(("$", "usd", "dollar", "dollars"), "$"),
    **dict.fromkeys(("€", "eur", "euro", "euros"), "€"),
    **dict.fromkeys(("£", "gbp", "pound", "pounds", "sterling"), "£"),
    **dict.fromkeys(("¥", "yen", "jpy", "yuan", "cny", "rmb", "renminbi"), "¥"),
    **dict.fromkeys(("₹", "inr", "rupee", "rupees"), "₹"),
    **dict.fromkeys(("chf", "franc", "francs", "franken"), "chf"),
}
_DOLLAR_PREFIXES = frozenset(("US", "A", "C", "HK", "NZ", "S"))  # "US$", "A$", "HK$"
_PERCENT = words("percent pct prozent procent")
_PERCENT_PAIRS = {("per", "cent"), ("pour", "cent"), ("por", "ciento"), ("per", "cento")}
_PERCENT_PAIRS |= {("percentage", "point"), ("percentage", "points")}
CONNECTORS = words("of de von van der den del da di du la le &")
_LANGUAGE_WORDS = {
    "en": words("the and of to is in that for with was on are it its at by as has have said will"),
    "de": words("der die das und ist nicht mit von den dem sich auf für eine zu im auch es wird"),
    "fr": words("le la les et des est une un du dans pour que qui sur au pas avec ce se ne"),
    "es": words("el los las y del que en un una por con para es se lo su al como más"),
    "it": words("il di che è la e per un una del della con non si sono gli nel alla"),
    "nl": words("de het een en van is dat op te niet met voor zijn er ook"),
    "pt": words("o os as de do da que em um uma para com não se é dos das"),
}
_TOKEN = re.compile(
    r"(?P<url>(?:https?://|www\.)[^\s<>\"“”]*[^\s<>\"“”).,;:!?'’])"
    r"|(?P<num>\d+(?:(?:[.,'’\u00a0\u202f]|(?<!\d{4})\x20(?=\d{3}(?!\d)))\d+)*)"
    r"|(?P<word>(?:[^\W\d_]\.){2,}|[^\W\d_]+(?:['’][^\W\d_]+)*)"
    r"|(?P<sym>[^\w\s])"
)
_ELISION = re.compile(r"(?:[ldjmnstc]|qu)['’](?=[^\W\d_])", re.IGNORECASE)  # "l'Europe"
POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_NON_LATIN = re.compile(r"[^\W\d_\u0000-\u024f]")
_SHORT_DAY = re.compile(r"0?[1-9]|[12]\d|3[01]")  # a day of the month
_ORDINAL_SUFFIXES = words("st nd rd th")


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # url, num, word, sym, elision ("l'" of "l'Europe")
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Fact:
    """What ``scan`` recognised at tokens ``[first, last]``; ``key`` depends on ``kind``."""

    kind: str  # url, date, month, weekday, number, code, word
    first: int
    last: int
    key: object = None
    checked: bool = True  # False: a number the card may write freely ("one of the")


@dataclass(frozen=True, slots=True)
class Number:
    readings: tuple[tuple[float, int], ...]  # (value, decimals), one per reading of "1.200"
    scales: tuple[float, ...]
    unit: str  # "", "%", or a currency sign


def scan(toks: list[Tok], language: str | None) -> Iterator[Fact]:
    """Links, dates, codes, numbers, months, weekdays, and the words left over, in order."""
    mark = "." if language == "en" else "," if language in _LANGUAGE_WORDS else None
    i = 0
    while i < len(toks):
        fact = _date(toks, i) or _code(toks, i) or _amount(toks, i, mark) or _other(toks, i)
        if fact is not None:
            yield fact
            i = fact.last
        i += 1


def _date(toks: list[Tok], i: int) -> Fact | None:
    """ "March 3", "March 3rd", "Sept. 3", "3 March", "3rd of March", "3. März", "3 de marzo"."""
    tok = toks[i]
    if tok.kind == "word" and (month := _month(tok.text)):
        j = i + 1 + _next_is(toks, i, ".")
        if j < len(toks) and toks[j].kind == "num" and _SHORT_DAY.fullmatch(toks[j].text):
            end = j + (_next_word(toks, j) in _ORDINAL_SUFFIXES)
            return Fact("date", i, end, ("date", month, int(toks[j].text)))
    elif tok.kind == "num" and _SHORT_DAY.fullmatch(tok.text):
        j = i + 1 + (_next_word(toks, i) in _ORDINAL_SUFFIXES or _next_is(toks, i, "."))
        j += j < len(toks) and toks[j].text in ("of", "de")
        if j < len(toks) and toks[j].kind == "word" and (month := _month(toks[j].text)):
            return Fact("date", i, j, ("date", month, int(tok.text)))
    return None


def _month(word: str) -> int | None:
    """The month ``word`` names next to a day. English and German capitalise months; French,
    Spanish, ... do not ("le 3 mars"), but English "may" and "march" are verbs."""
    if word[0].isupper() or fold(word) in _LOWER_CASE_MONTHS:
        return _MONTHS.get(fold(word))
    return None


def _code(toks: list[Tok], i: int) -> Fact | None:
    """Letters and digits written together: "G7", "COVID-19", "5G"; not "3rd" or "10-year"."""
    if toks[i].kind not in ("word", "num"):
        return None
    j, code = i, False
    while j + 1 < len(toks) and toks[j + 1].start == toks[j].end:
        nxt = toks[j + 1]
        if nxt.kind == "sym" and nxt.text == "-" and j + 2 < len(toks):
            after = toks[j + 2]
            if after.start != nxt.end or after.kind not in ("word", "num"):
                break
            mixed = {toks[j].kind, after.kind} == {"word", "num"}
            letters = toks[j].text if after.kind == "num" else after.text
            code |= mixed and letters != letters.lower()  # "F-35", but not "10-year"
            j += 2
        elif nxt.kind in ("word", "num") and nxt.kind != toks[j].kind:
            if nxt.kind == "word" and nxt.text.casefold() in _NOT_CODE:
                break  # "3rd", "1.2bn", "50k": a number
            code, j = True, j + 1
        else:
            break
    if not code:
        return None
    text = "".join(fold(t.text) for t in toks[i : j + 1] if t.kind != "sym")
    return Fact("code", i, j, text)


def _amount(toks: list[Tok], i: int, mark: str | None) -> Fact | None:
    """A number with its currency, scale and percent sign: "US$1.2bn", "3,5 Prozent"."""
    j, unit = i, ""
    if toks[j].text in _DOLLAR_PREFIXES and _next_is(toks, j, "$"):
        j += 1
    currency = _CURRENCIES.get(toks[j].text.casefold())
    if currency and (toks[j].text.isupper() or toks[j].kind == "sym"):
        unit, j = currency, j + 1  # "$5", "USD 5"; not "dollar 5"
    if j >= len(toks) or (unit and toks[j].kind != "num"):
        return None
    tok, word = toks[j], fold(toks[j].text)
    if tok.kind == "num":
        readings = _readings(tok.text, mark)
    elif word in _ENGLISH_NUMBERS or word in _OTHER_NUMBERS:
        readings = ((float(_ENGLISH_NUMBERS.get(word) or _OTHER_NUMBERS[word]), 0),)
    else:
        return None
    checked = tok.kind == "num" or _ENGLISH_NUMBERS.get(word, 0) >= 3
    scales: tuple[float, ...] = (1.0,)
    suffix = _next_word(toks, j)
    if suffix in _NUMBER_SUFFIXES or (suffix in _LETTER_SCALES and not unit):
        j += 1
    elif suffix in _SCALES:
        scales, j = _SCALES[suffix], j + 1
    for _ in range(2):  # "1,2 mil millones": a scale may take two words
        nxt = toks[j + 1] if j + 1 < len(toks) else None
        if nxt is None or nxt.kind != "word" or (key := nxt.text.casefold()) not in _SCALES:
            break
        if key in _LETTER_SCALES or key == "k":
            break  # "3 m" is not "3 million"
        scales = tuple(s * t for s in scales for t in _SCALES[key])
        scales += (1e12,) if nxt.text == "Billion" else ()  # German "Billion" is 10^12
        j += 1 + (key in _SCALE_ABBREVIATIONS and _next_is(toks, j + 1, "."))
    after = [t.text.casefold() for t in toks[j + 1 : j + 3]]
    if not unit and after and after[0] in _CURRENCIES:
        unit, j, after = _CURRENCIES[after[0]], j + 1, after[1:]  # "5 dollars", "3 Mrd. €"
    if after[:1] == ["%"] or (after and after[0] in _PERCENT):
        unit, j = "%", j + 1
    elif tuple(after) in _PERCENT_PAIRS:
        unit, j = "%", j + 2
    checked = checked or scales != (1.0,) or bool(unit)
    return Fact("number", i, j, Number(readings, scales, unit), checked)


def _readings(text: str, mark: str | None) -> tuple[tuple[float, int], ...]:
    """(value, decimals) for each way to read ``text`` with the decimal ``mark`` of its
    language, or both when unknown: "1,200" is 1200 in English, 1.2 in German."""
    text = re.sub(r"['’\s]", "", text)  # "1'200", "1 200": always thousands
    found: list[tuple[float, int]] = []
    for decimal in (mark,) if mark else (".", ","):
        whole, _, fraction = text.rpartition(decimal) if decimal in text else ("", "", text)
        if not whole:
            whole, fraction = fraction, ""
        whole = whole.replace("," if decimal == "." else ".", "")
        if whole.isdecimal() and (fraction.isdecimal() or not fraction):
            found.append((float(f"{whole}.{fraction or 0}"), len(fraction)))
    return tuple(found) or ((float(re.sub(r"\D", "", text)), 0),)


def _other(toks: list[Tok], i: int) -> Fact | None:
    tok = toks[i]
    if tok.kind == "url":
        return Fact("url", i, i)
    if tok.kind != "word":
        return None
    word = fold(tok.text)
    if weekday := _WEEKDAYS.get(word):
        return Fact("weekday", i, i, ("weekday", weekday))
    month = _MONTHS.get(word)
    if month and word not in _MONTH_ABBREVIATIONS:
        if tok.text[0].isupper() and word not in ("may", "mars"):
            return Fact("month", i, i, ("month", month))
        if word == "may" and i > 0 and fold(toks[i - 1].text) in _MAY_LEADS:
            return Fact("month", i, i, ("month", month))
        if tok.text[0].islower() and word in _LOWER_CASE_MONTHS:
            return Fact("month", i, i, ("month", month))
    return Fact("word", i, i)


def _next_is(toks: list[Tok], i: int, text: str) -> bool:
    return i + 1 < len(toks) and toks[i + 1].text == text and toks[i + 1].start == toks[i].end


def _next_word(toks: list[Tok], i: int) -> str | None:
    """The next token when it is a word written right after token ``i``, casefolded."""
    if i + 1 < len(toks) and toks[i + 1].kind == "word" and toks[i + 1].start == toks[i].end:
        return toks[i + 1].text.casefold()
    return None


def guess_language(texts: Sequence[list[Tok]]) -> str | None:
    """ "en", "de", ... by common words; "other" for a non-Latin script; None when unsure."""
    found = [t.text for toks in texts for t in toks if t.kind == "word"]
    letters = sum(map(len, found))
    if letters and len(_NON_LATIN.findall("".join(found))) > letters / 2:
        return "other"
    counts = Counter(word.casefold() for word in found)
    ranked = sorted(
        (sum(counts[w] for w in common), lang) for lang, common in _LANGUAGE_WORDS.items()
    )
    (second, _), (best, language) = ranked[-2:]
    # Three common words decide; fewer do when no other language has any.
    return language if best >= max(1, second * 1.3) and (best >= 3 or not second) else None


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "sym"
        start, value = match.start(), match[0]
        if kind == "word" and (elision := _ELISION.match(value)):
            toks.append(Tok("elision", elision[0], start, start + elision.end()))
            start, value = start + elision.end(), value[elision.end() :]
        toks.append(Tok(kind, value, start, match.end()))
    return toks


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Case, accents, possessive, dots and apostrophes removed: "Zürich's" -> "zurich"."""
    plain = unicodedata.normalize("NFKD", POSSESSIVE.sub("", word).casefold())
    return "".join(c for c in plain if c.isalnum())
