"""The claim check: facts in a model-written card that its source text does not contain.

The Claude engine calls ``unsupported_terms`` on every card it gets back, with the story's
source text (the lead article's title and text; add the publisher's name if cards may cite
it). A non-empty result gets the card regenerated once, and otherwise kept with
``checked=False`` and these terms. Pure, no I/O, never raises. Cost: about 1 ms for the card
and 0.7 ms per 1,000 characters of source, whose index is cached for the retry.

Every card field is read: summary, takeaways, why it matters, FAQ questions and answers.

* **Numbers, amounts, percentages**: digits (``1,200``, ``3.5``, ``1.2bn``, ``3rd``, ``1990s``)
  and English number words from three to twenty ("one" and "two" only in an amount: "two
  billion"), with a currency (``$``, ``US$``, ``€``, ``dollars``, ``EUR``, ...), a scale
  (``million``, ``bn``, ``Mrd.``, ``milliards``, ...) or percent (``%``, ``percent``, ``per
  cent``, ``Prozent``, ...). Found when the source has the same value after scaling, so
  "$1.2 billion" = "1.2 billion dollars" = "US$1.2bn" = "1,200 million", "1,200" = "1200",
  "three" = "3", allowing for the card's rounding ("$1.2 billion" for "$1.23 billion", "4%"
  for "4.4%"). "1,200" is 1200 in English and 1.2 in German, French, ... text (both when
  the language is unknown); "1 200" and "1'200" are 1200. A percentage never matches money,
  nor dollars euros; a bare number matches any unit.
* **Dates**: "March 3", "3 March", "March 3rd", "3. März", "3 de marzo" need the same day
  and month in the source, in any of these forms and languages (or "3月3日"); a month alone
  ("in March") and a weekday ("Tuesday", "Dienstag") need the same month or weekday. Years
  are numbers.
* **Codes** mixing letters and digits ("COVID-19", "F-35", "G7", "Q3") must appear with case
  and hyphens ignored; "Q3" and "H1" also match "third quarter" and "first half".
* **Proper names**: runs of capitalised words not at a sentence start ("Goldman Sachs",
  "Bank of America", "Rolls-Royce"; a possessive ends a run), and acronyms and camel-case
  words anywhere. A capitalised first word counts only inside a run ("Goldman Sachs said"),
  since "Analysts said" looks the same, and even then supports nothing ("Selon Reuters").
  Single letters, common capitalised words (``The``, ``I``, ``CEO``, days, months, category
  names) and words the source has in lower case are not name words. A name is found when
  any of its name words is in the source (case, accents, hyphens and possessives ignored),
  or a close form is ("American"/"America", "Chinese"/"China", "Fed"/"Federal Reserve"),
  or its initials are ("European Central Bank"/"ECB"), or it is the initials of a source
  name, or its letters run together in the source ("Deep Mind"/"DeepMind"). Title Case
  sentences ("What Comes Next for Apple?") are skipped.
* **Links** must appear in the source as written.

German capitalises every noun, and a translated card names places in its own language
("Germany" for "Deutschland"), so names are checked only when the card is in English,
French, Spanish, Italian, Portuguese or Dutch and the source is in the same language (or
too short to tell). Otherwise only numbers, dates, codes and links are: unsure of names,
the check says nothing about them rather than flag every noun.

Left open: relative dates ("yesterday"), numeric dates ("3/4/2024"), times written
differently ("3 p.m."/"15:00"), basis points vs percentage points, a count beyond twenty in
words, and a false fact made of true parts ("Apple bought Google" when both are named).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from digest.config import DEFAULT_CATEGORIES
from digest.models import CardDraft
from digest.summarize.sentences import split_sentences, words

__all__ = ["unsupported_terms"]


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
_COMMON_CAPS = words(
    """
    the a an i im ive id ill this that these those it its he she they we you his her their our
    my your in on at for from by with as to of and or but if when while after before since
    until during under over into about according also however meanwhile yet so then there here
    what why how who whom which where will would can could should might must do does did is are
    was were be has have had not no yes new mr mrs ms mme dr prof st jr sr inc ltd corp co llc
    plc ag gmbh sa ceo cfo cto coo ai gdp ipo ev tv pc faq qa ok internet web
    """
) | {category.casefold() for category in DEFAULT_CATEGORIES}
_TITLE_SMALL = words("and the for but nor yet via per with from into over than")
_CONNECTORS = words("of de von van der den del da di du la le &")
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
_NAME_LANGUAGES = words("en fr es it pt nl")
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
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_NON_LATIN = re.compile(r"[^\W\d_\u0000-\u024f]")
_SHORT_DAY = re.compile(r"0?[1-9]|[12]\d|3[01]")  # a day of the month
_ORDINAL_SUFFIXES = words("st nd rd th")
_HALVES = re.compile(r"\b(first|second|third|fourth)[\s-]+(quarter|half)\b", re.IGNORECASE)
_CJK_DATE = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])\s?月(?:\s?(\d{1,2})\s?日)?")
_OPENING = frozenset("\"'“‘«„([")
_STARTERS = frozenset(":;—–-•*")  # a word after these starts a clause like a sentence


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # url, num, word, sym, elision ("l'" of "l'Europe")
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Fact:
    """What ``_scan`` recognised at tokens ``[first, last]``; ``key`` depends on ``kind``."""

    kind: str  # url, date, month, weekday, number, code, word
    first: int
    last: int
    key: object = None
    checked: bool = True  # False: a number the card may write freely ("one of the")


@dataclass(frozen=True, slots=True)
class _Number:
    readings: tuple[tuple[float, int], ...]  # (value, decimals), one per reading of "1.200"
    scales: tuple[float, ...]
    unit: str  # "", "%", or a currency sign


@dataclass(slots=True)
class _Source:
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


def unsupported_terms(draft: CardDraft, source_text: str) -> tuple[str, ...]:
    """The numbers, amounts, dates, codes, links and names of ``draft`` that ``source_text``
    does not support, as written on the card, in order of first appearance, each once.

    Called by the Claude engine after each model card; ``()`` means the card passes.
    """
    source = _index_source(source_text)
    fields = [draft.summary, *draft.takeaways, draft.why_it_matters]
    fields += [text for item in draft.faq for text in (item.question, item.answer)]
    card_language = _language([_tokens(text) for text in fields])
    language = card_language or source.language
    # Too little text to tell either language is too little for false alarms en masse.
    names = language is None or (
        language in _NAME_LANGUAGES and {card_language, source.language} <= {None, language}
    )
    skip = _COMMON_CAPS | {_fold(word) for word in re.findall(r"\w+", draft.category)}
    found: dict[str, str] = {}
    for text in fields:
        for sentence in split_sentences(text):
            for term in _unsupported_in(sentence, source, card_language, names, skip):
                found.setdefault(term.casefold(), term)
    return tuple(found.values())


def _unsupported_in(
    sentence: str, source: _Source, language: str | None, names: bool, skip: frozenset[str]
) -> Iterator[str]:
    toks = _tokens(sentence)
    names = names and not _title_case(toks)
    run: list[int] = []  # token indexes of the name being read

    def close() -> Iterator[str]:
        if run and _is_name(toks, run, source) and not _name_found(toks, run, source):
            yield _POSSESSIVE.sub("", sentence[toks[run[0]].start : toks[run[-1]].end])
        run.clear()

    for fact in _scan(toks, language):
        tok = toks[fact.first]
        if fact.kind == "word" and names and len(tok.text) > 1 and _fold(tok.text) not in skip:
            if tok.text[0].isupper() or _marked(tok.text):
                if run and not _continues(toks, run[-1], fact.first):
                    yield from close()
                run.append(fact.first)
                if _POSSESSIVE.search(tok.text):
                    yield from close()  # "Apple's Tim Cook": two names
                continue
            if run and tok.text in _CONNECTORS and not _opener(toks, run[0]):
                continue  # "Bank of America": the next word decides
        yield from close()
        if fact.kind != "word" and fact.checked and not _fact_found(fact, toks, source):
            yield sentence[tok.start : toks[fact.last].end]
    yield from close()


def _is_name(toks: list[_Tok], run: list[int], src: _Source) -> bool:
    if len(run) == 1 and _opener(toks, run[0]):
        return False  # "Analysts said": a capital that only opens the sentence
    return any(_fold(toks[i].text) not in src.lower for i in run)


def _name_found(toks: list[_Tok], run: list[int], src: _Source) -> bool:
    folded = [_fold(toks[i].text) for i in run]
    # "Selon Goldman Sachs": a sentence's first word may be any word, so it supports nothing.
    own = [w for w in folded[int(_opener(toks, run[0])) :] if w not in src.lower]
    if any(_word_found(w, src) for w in own):
        return True
    letters = [w for w in folded if w]  # the capitalised words: connectors sit between
    if len(letters) > 1 and "".join(w[0] for w in letters) in src.words:
        return True  # "European Central Bank" for "ECB"
    if len(letters) == 1 and toks[run[0]].text.isupper() and letters[0] in src.initials:
        return True  # "ECB" for "European Central Bank"
    joined = "".join(letters)
    return (
        (len(letters) > 1 or _marked(toks[run[0]].text))
        and len(joined) >= 5
        and (joined in src.compact)
    )


def _word_found(word: str, src: _Source) -> bool:
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


def _fact_found(fact: _Fact, toks: list[_Tok], src: _Source) -> bool:
    if fact.kind == "number":
        assert isinstance(fact.key, _Number)
        return _number_found(fact.key, src)
    if fact.kind == "code":
        key = str(fact.key)
        return key in src.codes or key in src.words or (len(key) >= 5 and key in src.compact)
    if fact.kind == "url":
        return toks[fact.first].text.casefold().rstrip("/") in src.text
    return fact.key in src.dates


def _number_found(number: _Number, src: _Source) -> bool:
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
def _index_source(text: str) -> _Source:
    toks = _tokens(text)
    src = _Source(text=text.casefold(), language=_language([toks]))
    for fact in _scan(toks, src.language):
        if isinstance(fact.key, _Number):
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
        word = _fold(tok.text) if tok.kind in ("word", "num") else ""
        if word:
            src.words.add(word)
            src.by_prefix.setdefault(word[:5], set()).add(word)
            compact.append(word)
            if tok.text[0].islower():
                src.lower.add(word)
        if word and tok.kind == "word" and tok.text[0].isupper():
            run.append(word)
            _add_initials(run, src.initials)
        elif not (run and word in _CONNECTORS):
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
        if word not in _CONNECTORS:
            letters = word[0] + letters
            if len(letters) > 1:
                initials.add(letters)


def _scan(toks: list[_Tok], language: str | None) -> Iterator[_Fact]:
    """Links, dates, codes, numbers, months, weekdays, and the words left over, in order."""
    mark = "." if language == "en" else "," if language in _LANGUAGE_WORDS else None
    i = 0
    while i < len(toks):
        fact = _date(toks, i) or _code(toks, i) or _amount(toks, i, mark) or _other(toks, i)
        if fact is not None:
            yield fact
            i = fact.last
        i += 1


def _date(toks: list[_Tok], i: int) -> _Fact | None:
    """ "March 3", "March 3rd", "Sept. 3", "3 March", "3rd of March", "3. März", "3 de marzo"."""
    tok = toks[i]
    if tok.kind == "word" and (month := _month(tok.text)):
        j = i + 1 + _next_is(toks, i, ".")
        if j < len(toks) and toks[j].kind == "num" and _SHORT_DAY.fullmatch(toks[j].text):
            end = j + (_next_word(toks, j) in _ORDINAL_SUFFIXES)
            return _Fact("date", i, end, ("date", month, int(toks[j].text)))
    elif tok.kind == "num" and _SHORT_DAY.fullmatch(tok.text):
        j = i + 1 + (_next_word(toks, i) in _ORDINAL_SUFFIXES or _next_is(toks, i, "."))
        j += j < len(toks) and toks[j].text in ("of", "de")
        if j < len(toks) and toks[j].kind == "word" and (month := _month(toks[j].text)):
            return _Fact("date", i, j, ("date", month, int(tok.text)))
    return None


def _month(word: str) -> int | None:
    """The month ``word`` names next to a day. English and German capitalise months; French,
    Spanish, ... do not ("le 3 mars"), but English "may" and "march" are verbs."""
    if word[0].isupper() or _fold(word) in _LOWER_CASE_MONTHS:
        return _MONTHS.get(_fold(word))
    return None


def _code(toks: list[_Tok], i: int) -> _Fact | None:
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
    text = "".join(_fold(t.text) for t in toks[i : j + 1] if t.kind != "sym")
    return _Fact("code", i, j, text)


def _amount(toks: list[_Tok], i: int, mark: str | None) -> _Fact | None:
    """A number with its currency, scale and percent sign: "US$1.2bn", "3,5 Prozent"."""
    j, unit = i, ""
    if toks[j].text in _DOLLAR_PREFIXES and _next_is(toks, j, "$"):
        j += 1
    currency = _CURRENCIES.get(toks[j].text.casefold())
    if currency and (toks[j].text.isupper() or toks[j].kind == "sym"):
        unit, j = currency, j + 1  # "$5", "USD 5"; not "dollar 5"
    if j >= len(toks) or (unit and toks[j].kind != "num"):
        return None
    tok, word = toks[j], _fold(toks[j].text)
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
    return _Fact("number", i, j, _Number(readings, scales, unit), checked)


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


def _other(toks: list[_Tok], i: int) -> _Fact | None:
    tok = toks[i]
    if tok.kind == "url":
        return _Fact("url", i, i)
    if tok.kind != "word":
        return None
    word = _fold(tok.text)
    if weekday := _WEEKDAYS.get(word):
        return _Fact("weekday", i, i, ("weekday", weekday))
    month = _MONTHS.get(word)
    if month and word not in _MONTH_ABBREVIATIONS:
        if tok.text[0].isupper() and word not in ("may", "mars"):
            return _Fact("month", i, i, ("month", month))
        if word == "may" and i > 0 and _fold(toks[i - 1].text) in _MAY_LEADS:
            return _Fact("month", i, i, ("month", month))
        if tok.text[0].islower() and word in _LOWER_CASE_MONTHS:
            return _Fact("month", i, i, ("month", month))
    return _Fact("word", i, i)


def _next_is(toks: list[_Tok], i: int, text: str) -> bool:
    return i + 1 < len(toks) and toks[i + 1].text == text and toks[i + 1].start == toks[i].end


def _next_word(toks: list[_Tok], i: int) -> str | None:
    """The next token when it is a word written right after token ``i``, casefolded."""
    if i + 1 < len(toks) and toks[i + 1].kind == "word" and toks[i + 1].start == toks[i].end:
        return toks[i + 1].text.casefold()
    return None


def _continues(toks: list[_Tok], last: int, i: int) -> bool:
    """Whether the word at ``i`` continues the name ending at ``last``: "Goldman Sachs",
    "Rolls-Royce", "Bank of America", "Johnson & Johnson"."""
    if i == last + 1:
        return True
    between = toks[last + 1 : i]
    return len(between) == 1 and (
        (between[0].text == "-" and toks[last].end == between[0].start == toks[i].start - 1)
        or (between[0].text.casefold() in _CONNECTORS and between[0].text[0].islower())
        or between[0].text == "&"
    )


def _at_start(toks: list[_Tok], i: int) -> bool:
    """Whether word ``i`` opens its sentence or clause, after any quotes or brackets."""
    for tok in reversed(toks[:i]):
        if tok.text == "-" and tok.end == toks[i].start:
            return False  # "pro-Trump": a hyphen, not a dash
        if tok.text not in _OPENING and tok.kind != "elision":
            return tok.text in _STARTERS
    return True


def _opener(toks: list[_Tok], i: int) -> bool:
    """A capitalised word that may owe its capital to opening a sentence or clause."""
    return _at_start(toks, i) and not _marked(toks[i].text)


def _marked(word: str) -> bool:
    """An acronym ("NASA", "U.S.") or camel-case ("iPhone", "OpenAI"): a name anywhere."""
    letters = [c for c in word if c.isalpha()]
    return len(letters) > 1 and any(c.isupper() for c in letters[1:])


def _title_case(toks: list[_Tok]) -> bool:
    """ "What Comes Next for Apple?": capitals that mark nothing. A sentence full of names
    still has a verb in lower case."""
    rest = [t.text for t in toks[1:] if t.kind == "word" and len(t.text) >= 3]
    rest = [w for w in rest if w not in _TITLE_SMALL]
    return len(rest) >= 3 and all(w[0].isupper() for w in rest)


def _language(texts: Sequence[list[_Tok]]) -> str | None:
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


def _tokens(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "sym"
        start, value = match.start(), match[0]
        if kind == "word" and (elision := _ELISION.match(value)):
            toks.append(_Tok("elision", elision[0], start, start + elision.end()))
            start, value = start + elision.end(), value[elision.end() :]
        toks.append(_Tok(kind, value, start, match.end()))
    return toks


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Case, accents, possessive, dots and apostrophes removed: "Zürich's" -> "zurich"."""
    plain = unicodedata.normalize("NFKD", _POSSESSIVE.sub("", word).casefold())
    return "".join(c for c in plain if c.isalnum())
