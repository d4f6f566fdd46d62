"""The claim check: facts in a model-written card that its source text does not contain.

The Claude engine calls ``unsupported_terms`` on every card it gets back, with the story's
source text (the lead article's title and text; add the publisher's name if cards may cite
it). A non-empty result gets the card regenerated once, and otherwise kept with
``checked=False`` and these terms. ``unsupported_terms_in_text`` runs the same check over
one plain text, such as a model's answer to a reader's question. Pure, no I/O, never
raises. Cost: about 1 ms for the card and 0.7 ms per 1,000 characters of source, whose
index is cached for the retry.

Every card field is read: summary, takeaways, why it matters, FAQ questions and answers.
The text is read by ``claims_scan`` and the source indexed by ``claims_source``; the name
rules live here.

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
  names) and words the source has in lower case are not name words. A one-word name is
  found when it is in the source (case, accents, hyphens and possessives ignored) or a
  close form is ("American"/"America", "Chinese"/"China", "Fed"/"Federal Reserve"); a
  longer one when its last name word is, as a person is known by the surname ("Anna
  Berg" is not "Anna Smith"; "President Anna Smith" is), not counting words that only say
  what kind of body it is ("Goldman Sachs Group" for "Goldman Sachs"). A name is also
  found when its initials are ("European Central Bank"/"ECB"), or it is the initials of a source
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
from collections.abc import Iterator, Sequence

from digest.config import DEFAULT_CATEGORIES
from digest.models import CardDraft
from digest.summarize.claims_scan import (
    CONNECTORS,
    POSSESSIVE,
    Tok,
    fold,
    guess_language,
    scan,
    tokenize,
)
from digest.summarize.claims_source import Source, fact_found, index_source, word_found
from digest.summarize.sentences import split_sentences, words

__all__ = ["unsupported_terms", "unsupported_terms_in_text"]

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
_NAME_LANGUAGES = words("en fr es it pt nl")
# Last words of organisations' names that say what kind of body it is, not which one.
_BODY_WORDS = words(
    """
    group holding holdings company companies corporation incorporated limited partners
    capital ventures labs industries international technologies systems services bank
    university institute foundation association agency ministry department authority
    council committee commission party
    """
)
_OPENING = frozenset("\"'“‘«„([")
_STARTERS = frozenset(":;—–-•*")  # a word after these starts a clause like a sentence


def unsupported_terms(draft: CardDraft, source_text: str) -> tuple[str, ...]:
    """The numbers, amounts, dates, codes, links and names of ``draft`` that ``source_text``
    does not support, as written on the card, in order of first appearance, each once.

    Called by the Claude engine after each model card; ``()`` means the card passes. The
    card's category is a common word here, not a name ("Technology chief").
    """
    fields = [draft.summary, *draft.takeaways, draft.why_it_matters]
    fields += [text for item in draft.faq for text in (item.question, item.answer)]
    return _unsupported(fields, source_text, re.findall(r"\w+", draft.category))


def unsupported_terms_in_text(text: str, source_text: str) -> tuple[str, ...]:
    """``unsupported_terms`` for one plain ``text`` (a model's answer to a reader's
    question): the terms ``source_text`` does not support, in order, each once."""
    return _unsupported([text], source_text, [])


def _unsupported(texts: Sequence[str], source_text: str, common: Sequence[str]) -> tuple[str, ...]:
    """What both public functions do: ``common`` are more words that name nothing."""
    source = index_source(source_text)
    text_language = guess_language([tokenize(text) for text in texts])
    language = text_language or source.language
    # Too little text to tell either language is too little for false alarms en masse.
    names = language is None or (
        language in _NAME_LANGUAGES and {text_language, source.language} <= {None, language}
    )
    skip = _COMMON_CAPS | {fold(word) for word in common}
    found: dict[str, str] = {}
    for text in texts:
        for sentence in split_sentences(text):
            for term in _unsupported_in(sentence, source, text_language, names, skip):
                found.setdefault(term.casefold(), term)
    return tuple(found.values())


def _unsupported_in(
    sentence: str, source: Source, language: str | None, names: bool, skip: frozenset[str]
) -> Iterator[str]:
    toks = tokenize(sentence)
    names = names and not _title_case(toks)
    run: list[int] = []  # token indexes of the name being read

    def close() -> Iterator[str]:
        if run and _is_name(toks, run, source) and not _name_found(toks, run, source):
            yield POSSESSIVE.sub("", sentence[toks[run[0]].start : toks[run[-1]].end])
        run.clear()

    for fact in scan(toks, language):
        tok = toks[fact.first]
        if fact.kind == "word" and names and len(tok.text) > 1 and fold(tok.text) not in skip:
            if tok.text[0].isupper() or _marked(tok.text):
                if run and not _continues(toks, run[-1], fact.first):
                    yield from close()
                run.append(fact.first)
                if POSSESSIVE.search(tok.text):
                    yield from close()  # "Apple's Tim Cook": two names
                continue
            if run and tok.text in CONNECTORS and not _opener(toks, run[0]):
                continue  # "Bank of America": the next word decides
        yield from close()
        if fact.kind != "word" and fact.checked and not fact_found(fact, toks, source):
            yield sentence[tok.start : toks[fact.last].end]
    yield from close()


def _is_name(toks: list[Tok], run: list[int], src: Source) -> bool:
    if len(run) == 1 and _opener(toks, run[0]):
        return False  # "Analysts said": a capital that only opens the sentence
    return any(fold(toks[i].text) not in src.lower for i in run)


def _name_found(toks: list[Tok], run: list[int], src: Source) -> bool:
    folded = [fold(toks[i].text) for i in run]
    # "Selon Goldman Sachs": a sentence's first word may be any word, so it supports nothing.
    own = [w for w in folded[int(_opener(toks, run[0])) :] if w not in src.lower]
    if len(own) > 1:
        # "Anna Berg" for "Anna Smith": a person is known by the surname, so the last name
        # word decides; words for a kind of body ("Goldman Sachs Group") name no one.
        while len(own) > 1 and own[-1] in _BODY_WORDS:
            own.pop()
        own = own[-1:]
    if any(word_found(w, src) for w in own):
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


def _continues(toks: list[Tok], last: int, i: int) -> bool:
    """Whether the word at ``i`` continues the name ending at ``last``: "Goldman Sachs",
    "Rolls-Royce", "Bank of America", "Johnson & Johnson"."""
    if i == last + 1:
        return True
    between = toks[last + 1 : i]
    return len(between) == 1 and (
        (between[0].text == "-" and toks[last].end == between[0].start == toks[i].start - 1)
        or (between[0].text.casefold() in CONNECTORS and between[0].text[0].islower())
        or between[0].text == "&"
    )


def _at_start(toks: list[Tok], i: int) -> bool:
    """Whether word ``i`` opens its sentence or clause, after any quotes or brackets."""
    for tok in reversed(toks[:i]):
        if tok.text == "-" and tok.end == toks[i].start:
            return False  # "pro-Trump": a hyphen, not a dash
        if tok.text not in _OPENING and tok.kind != "elision":
            return tok.text in _STARTERS
    return True


def _opener(toks: list[Tok], i: int) -> bool:
    """A capitalised word that may owe its capital to opening a sentence or clause."""
    return _at_start(toks, i) and not _marked(toks[i].text)


def _marked(word: str) -> bool:
    """An acronym ("NASA", "U.S.") or camel-case ("iPhone", "OpenAI"): a name anywhere."""
    letters = [c for c in word if c.isalpha()]
    return len(letters) > 1 and any(c.isupper() for c in letters[1:])


def _title_case(toks: list[Tok]) -> bool:
    """ "What Comes Next for Apple?": capitals that mark nothing. A sentence full of names
    still has a verb in lower case."""
    rest = [t.text for t in toks[1:] if t.kind == "word" and len(t.text) >= 3]
    rest = [w for w in rest if w not in _TITLE_SMALL]
    return len(rest) >= 3 and all(w[0].isupper() for w in rest)
