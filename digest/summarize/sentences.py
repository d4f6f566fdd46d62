"""A rule-based sentence splitter for news text, in English and other European languages.

The offline card engine (``digest.summarize.offline``) calls ``split_sentences`` on article
text; tests call it to count the sentences of a summary. We write our own because nltk's
punkt needs a data download, and news text has a small set of well-known traps:

* abbreviations (``Mr.``, ``Inc.``, ``U.S.``, ``e.g.``, ``Jan.``, ``No. 5``, ``z.B.``, ``M.``),
* initials (``J. R. R. Tolkien``), decimals and amounts (``3.5%``, ``$1.2 billion``),
* ellipses, closing quotes and brackets after the full stop (``"...end." She said``),
* URLs and e-mail addresses, whose dots are never followed by a space,
* CJK full stops (``。！？``), which need no space after them.

Blank lines always end a sentence; single line breaks are treated as spaces unless the next
line starts a bulleted item. Every sentence comes back with its whitespace collapsed.
"""

from __future__ import annotations

import html
import re


def words(spec: str) -> frozenset[str]:
    """The whitespace-separated words of ``spec``; keeps the word lists below readable."""
    return frozenset(spec.split())


# Abbreviations that essentially never end a sentence: titles before a name, "e.g.", and
# German amount words (``5 Mio. Euro``) that are followed by a capitalised noun.
_NEVER_FINAL = words(
    """
    mr mrs ms mx dr prof sen rep gov gen col lt sgt capt cmdr adm rev hon pres messrs fr hr
    mme mlle sr sra srta dra dott sig st
    e.g i.e vs cf approx ca viz
    z.b d.h u.a u.u o.ä bzw ggf evtl vgl inkl zzgl mio mrd tsd
    p.ex env av ex aprox
    """
)
# Abbreviations that may end a sentence ("... based in the U.S. The company ..."): they end
# one only when the next word is a common sentence opener.
_MAYBE_FINAL = words(
    """
    inc ltd corp co llc plc bros etc jr esq ave blvd rd dept univ intl assn
    jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur thurs fri sat sun
    usw ff ecc al ee.uu a.m p.m u.s u.k u.n e.u
    """
)
# Before a digit these mean "number" or "page": "No. 5", "Nr. 12", "pp. 4-6", "Art. 3".
_NUMBER_PREFIXES = words("no nos nr art p pp vol fig ch sec op tel núm n")

# Words that commonly open a sentence, used to decide whether an ambiguous abbreviation or
# initial ends one. Lower-case; compared against the next word lower-cased.
_OPENERS = words(
    """
    a an the this that these those it its he she they we i you there here his her their our
    but and or so yet however meanwhile still also then now in on at for from by with after
    before during while when if as since although though despite according officials some
    many most one two three several all no not last next earlier later about
    der die das ein eine es er sie wir ich im am auch doch aber dies diese dabei damit denn
    zudem nach laut so wie was wer wenn als bei mit
    le la les un une il elle ils elles nous on ce cette ces mais et en dans selon pour après
    avant depuis lors
    el los las uno una lo pero y según para tras desde ese esa este esta
    """
)
_MONTHS = words(
    """
    january february march april may june july august september october november december
    januar jänner februar märz april mai juni juli august september oktober november dezember
    janvier février mars avril mai juin juillet août septembre octobre novembre décembre
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
    """
)
# German ordinals: "der 3. Platz", "am 5. Mai" — a number after these words is not final.
_ORDINAL_LEADS = words("der die das den dem des am im vom zum zur bis ab seit")

_OPEN_PUNCT = "\"'“‘«„‚([{¿¡"
_CLOSE_PUNCT = "\"'”’»)]}」』）】"
_CJK_TERMINALS = "。！？"
_SPACES = " \u00a0\u202f"

# A terminal run: an ellipsis, a run of . ! ? (also "?!"), a CJK terminal, or the danda /
# Arabic question mark; then any closing quotes or brackets.
_TERMINAL = re.compile(
    r"(?P<term>\.{3,}|…+|(?:\. ){2}\.|[.!?]+|[。！？]+|[।؟])"
    r"(?P<close>[\"'”’»)\]}」』）】]*(?:[ \u00a0\u202f]»)?)"
)
_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n\s*")
_BULLET_LINE = re.compile(r"\n(?=[ \t]*(?:[-*•–·]|\d{1,2}[.)])[ \t]+\S)")
_SPACE = re.compile(r"\s+")
_ACRONYM = re.compile(r"^(?:[^\W\d_]{1,3}\.)+-?[^\W\d_]{1,3}$")
_WORD_BEFORE = re.compile(r"(\S+)$")
_INITIAL = re.compile(r"^[^\W\d_]\.(?:\s|$)")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, in order, whitespace collapsed, none empty.

    Called by the offline card engine for every article, and by tests. Never raises.
    """
    sentences: list[str] = []
    for paragraph in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        for block in _BULLET_LINE.split(paragraph):
            flat = _SPACE.sub(" ", block).strip()
            if flat:
                sentences.extend(_split_flat(flat))
    return sentences


def _split_flat(text: str) -> list[str]:
    """Split one paragraph that is already a single line."""
    out: list[str] = []
    start = 0
    for match in _TERMINAL.finditer(text):
        end = match.end()
        if _is_boundary(text, match, start):
            piece = text[start:end].strip()
            if piece:
                out.append(piece)
            start = end
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def _is_boundary(text: str, match: re.Match[str], start: int) -> bool:
    """Decide whether the terminal run in ``match`` ends a sentence."""
    term = match.group("term")
    end = match.end()
    if term[0] in _CJK_TERMINALS:
        return True  # CJK full stops need no space after them
    if end < len(text) and not text[end].isspace():
        # "3.5", "example.com", "Yahoo!s", "?!)": only a space (or the end) ends a sentence.
        return False
    before = text[start : match.start()]
    if term[0] in "!?؟":
        before = before.rstrip(_SPACES)  # French typography: "Quoi ? Rien."
    if not before or before[-1].isspace() or before[-1] in _OPEN_PUNCT:
        # "...end" at the start of a quote, or a lone "." — nothing to end yet.
        return False
    following = text[end:].lstrip()
    if not following:
        return True
    first = following.lstrip(_OPEN_PUNCT + _SPACES)[:1] or following[0]
    if first.islower() or first in ",;:":
        # "approx. five", '"Why?" she asked', "... and then": the sentence goes on.
        return False
    if term in (".", "..", "…") or term.startswith("...") or term.startswith(". "):
        if term != "." or match.group("close"):
            return True  # an ellipsis or ".)" followed by a capital ends the sentence
        return _period_ends_sentence(before, following)
    return True


def _period_ends_sentence(before: str, following: str) -> bool:
    """A single "." followed by a space and a non-lower-case character: is it final?"""
    found = _WORD_BEFORE.search(before)
    token = found.group(1).lstrip(_OPEN_PUNCT) if found else ""
    word = token.lower()
    next_word = _first_word(following)
    next_lower = next_word.lower()
    starts_digit = following.lstrip(_OPEN_PUNCT)[:1].isdigit()

    if "@" in token or "://" in token:
        return True  # an address ending the sentence: its own dots are never followed by space
    if word in _NUMBER_PREFIXES and starts_digit:
        return False  # "No. 5", "pp. 12"
    if word in _NEVER_FINAL:
        return False
    if token.isdigit() and len(token) <= 2:
        # German dates and ordinals: "am 3. Oktober", "der 2. Platz".
        if next_lower in _MONTHS:
            return False
        previous = before[: -len(token)].rstrip().rsplit(" ", 1)[-1].lower()
        if previous in _ORDINAL_LEADS:
            return False
    abbreviation = word in _MAYBE_FINAL or _ACRONYM.match(token) is not None
    if len(token) == 1 and token.isalpha():
        abbreviation = True  # an initial: "J. R. R. Tolkien", "George W. Bush"
    if abbreviation:
        # "J. A. Smith": an initial after an initial is part of the name, even "A." or "I.".
        return next_lower in _OPENERS and _INITIAL.match(following) is None
    return True


def _first_word(text: str) -> str:
    """The first word of ``text`` without opening punctuation or trailing punctuation."""
    stripped = text.lstrip(_OPEN_PUNCT)
    word = stripped.split(" ", 1)[0] if stripped else ""
    return word.rstrip(".,;:!?" + _CLOSE_PUNCT)


# -- helpers for engines that quote sentences -----------------------------------------------

_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|tr|table|section|article|figure)\b[^<>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]{0,500}>", re.DOTALL)
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_CLAUSE_BREAK = re.compile(
    r"[,;:]\s|\s[—–-]\s|[，、；]"
    r"|\s(?=(?:and|but|which|while|who|whereas|because|although|after|as|"
    r"und|aber|während|weil|et|mais|qui|car|y|pero|que|porque)\s)"
)
_FINAL_CHARS = ".!?…。！？\"'”’»)」』）"


def clean_text(text: str) -> str:
    """Plain text from feed text that may still carry HTML leftovers or invisible characters.

    Called by the offline engine before splitting. Tags are dropped (block tags become
    paragraph breaks), entities decoded, control and zero-width characters removed; anything
    else, including ``@everyone`` or Markdown, is kept as the plain text it is.
    """
    if "<" in text:
        text = _SCRIPT_OR_STYLE.sub(" ", text)
        text = _BLOCK_TAG.sub("\n\n", text)
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return _INVISIBLE.sub("", text)


def shorten(sentence: str, limit: int) -> str:
    """``sentence`` cut to at most ``limit`` characters (plus "…" and closing quotes).

    Cuts at the last clause boundary (comma, semicolon, dash, "and", "which", ...) in the
    second half of the allowance, else at the last space, and only in the middle of a
    word when there is no space at all (CJK text). Called for takeaways, summary and FAQ.
    """
    if len(sentence) <= limit:
        return sentence
    head = sentence[:limit]
    floor = limit * 0.45  # a cut earlier than this throws away too much of the sentence
    cuts = [m.start() for m in _CLAUSE_BREAK.finditer(head) if m.start() >= floor]
    balanced = [c for c in cuts if not _closers(head[:c])]
    if balanced:
        cut = balanced[-1]
    else:
        cut = head.rfind(" ")
        if cut < floor:
            cut = limit
    kept = head[:cut].rstrip(" ,;:—–-，、；")
    return kept + "…" + _closers(kept)


def as_sentence(text: str) -> str:
    """``text`` with final punctuation, so a heading or a title reads as a sentence."""
    text = text.strip().rstrip(",;:")
    if not text or text.endswith(tuple(_FINAL_CHARS)):
        return text
    return text + "."


def _closers(text: str) -> str:
    """The quotes and brackets that ``text`` opened and did not close, closed."""
    out = ""
    if text.count("(") > text.count(")"):
        out = ")" + out
    if text.count("“") > text.count("”"):
        out = "”" + out
    if text.count('"') % 2:
        out = '"' + out
    return out
