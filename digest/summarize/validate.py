"""Checks what a model wrote before it becomes a card or an answer.

Called by ``anthropic_engine.ClaudeEngine`` (``parse_card``) and
``anthropic_answer.ClaudeAnswerer`` (``parse_answer``). Pure: no SDK import, no I/O.

Structured outputs make the model's JSON follow the schema's shape, but not our rules, and
a proxy, an old model or a truncated answer may not follow the shape either; so every rule
is checked here. Two kinds of problem:

* *cleaned*: Markdown and HTML are reduced to their plain text, invisible characters are
  deleted, whitespace is collapsed and every mention (``@everyone``, ``@here``,
  ``@username``) loses its ``@``. Card fields are stored as plain text; each platform
  escapes them on the way out.
* *rejected* with ``InvalidModelOutput`` (the engine retries once, then falls back): output
  that is not JSON, a missing or mistyped field, a count or length out of bounds, a
  category outside the taxonomy, a field that is empty once cleaned, or a link that is not
  one of the story's own (``digest.summarize.validate_links``). The message says what was
  wrong in words the engine can send back to the model on the retry.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Sequence

from digest.errors import InvalidModelOutput
from digest.models import CardDraft, FaqItem, ModelAnswer
from digest.summarize.sentences import shorten, split_sentences
from digest.summarize.validate_links import foreign_urls

SUMMARY_MAX = 600
SUMMARY_SENTENCES = (2, 4)
TAKEAWAYS = 3
TAKEAWAY_MAX = 200
WHY_MAX = 400
FAQ_ITEMS = (2, 4)
QUESTION_MAX = 200
FAQ_ANSWER_MAX = 400
MIN_CHARS = 3  # a field must say something once cleaned

ANSWER_MAX = 800
QUOTE_MAX = 500
MAX_QUOTES = 3
NOT_COVERED = "The article does not cover this question."

# -- plain text ---------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CODE_FENCE = re.compile(r"```[a-zA-Z0-9_-]*")
_PLATFORM_TAG = re.compile(r"<[@#][!&]?\d+>|<a?:\w{1,64}:\d+>|<t:\d+(?::[a-zA-Z])?>")
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|tr|td|th|table|section|article|pre)\b[^<>]*>",
    re.IGNORECASE,
)
_HTML_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]{0,500}>", re.DOTALL)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_PAIRS = [
    re.compile(r"\*\*(.+?)\*\*", re.DOTALL),
    re.compile(r"__(.+?)__", re.DOTALL),
    re.compile(r"~~(.+?)~~", re.DOTALL),
    re.compile(r"\|\|(.+?)\|\|", re.DOTALL),  # spoilers (Telegram, Discord)
    re.compile(r"`([^`]*)`"),
    re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"),
]
_MD_LINE_START = re.compile(r"(?m)^[ \t]*(?:#{1,6}[ \t]+|>+[ \t]?|(?:[-*+•]|\d{1,2}[.)])[ \t]+)")
# "@everyone", "@here" and "@username" (Telegram, Discord, X): a chat client pings or links
# every one of them, so each @ before a word goes. An e-mail address keeps its @ (its host
# is a link, judged by ``foreign_urls``). "＠" is the full-width at sign.
_MENTION = re.compile(r"(?<![\w@＠])[@＠]+(?=\w)")

_WORD = re.compile(r"\w+")
ECHO_WORDS = 8  # this many words in a row from the system prompt count as revealing it


def plain_text(text: str) -> str:
    """``text`` as one paragraph of plain text: markup reduced to its words, invisible and
    control characters deleted, whitespace collapsed, mentions (``@everyone``, ``@name``)
    defused."""
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _CONTROL.sub(" ", text)
    text = _CODE_FENCE.sub(" ", text)
    text = _PLATFORM_TAG.sub("", text)
    if "<" in text:
        text = _SCRIPT_OR_STYLE.sub(" ", text)
        text = _BLOCK_TAG.sub(" ", text)
        text = _HTML_TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_LINE_START.sub("", text)
    for pattern in _MD_PAIRS:
        text = pattern.sub(r"\1", text)
    text = _MENTION.sub("", text)
    return " ".join(text.split())


def _raw_and_clean(texts: Sequence[str]) -> str:
    # Links are looked for before cleaning (a Markdown link's target is dropped by it), after
    # (cleaning decodes "https&#58;//..." and deletes zero-width characters), and in NFKC
    # form (full-width "ｅｖｉｌ．ｃｏｍ" is "evil.com").
    clean = [plain_text(t) for t in texts]
    return "\n".join([*texts, *clean, *(unicodedata.normalize("NFKC", t) for t in clean)])


def echoes(text: str, reference: str, words: int = ECHO_WORDS) -> bool:
    """Whether ``text`` repeats ``words`` consecutive words of ``reference`` (case-blind):
    how a card that reveals the system prompt is recognised."""
    ref = [w.casefold() for w in _WORD.findall(reference)]
    shingles = {tuple(ref[i : i + words]) for i in range(len(ref) - words + 1)}
    got = [w.casefold() for w in _WORD.findall(text)]
    return any(tuple(got[i : i + words]) in shingles for i in range(len(got) - words + 1))


# -- JSON ---------------------------------------------------------------------------------


def parse_json_object(text: str) -> dict[str, object]:
    """The JSON object the model returned. Raises ``InvalidModelOutput`` for anything else.

    Tolerates a Markdown code fence around the JSON, which some models add without
    structured outputs.
    """
    body = text.strip()
    if body.startswith("```"):
        body = _CODE_FENCE.sub("", body, count=1).strip().removesuffix("```").strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise InvalidModelOutput(f"the answer was not valid JSON ({e.msg})") from None
    except RecursionError:
        raise InvalidModelOutput("the answer was not valid JSON (nested too deep)") from None
    if not isinstance(data, dict):
        raise InvalidModelOutput("the answer was not a JSON object")
    return data


def _string(data: dict[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidModelOutput(f"{key} must be a string")
    return value


def _strings(data: dict[str, object], key: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidModelOutput(f"{key} must be a list of strings")
    return [str(v) for v in value]


def _field(raw: str, name: str, limit: int) -> str:
    text = plain_text(raw)
    if len(text) < MIN_CHARS:
        raise InvalidModelOutput(f"{name} is empty")
    if len(text) > limit:
        raise InvalidModelOutput(f"{name} has {len(text)} characters, at most {limit} allowed")
    return text


# -- cards --------------------------------------------------------------------------------


def parse_card(
    text: str,
    *,
    categories: Sequence[str],
    source: str,
    engine: str,
    language: str | None = None,
    allowed_links: Sequence[str] = (),
    system_prompt: str = "",
) -> CardDraft:
    """The card in the model's answer ``text``, checked against the card rules.

    ``allowed_links`` are the only links a card may carry, with their hosts (the story's own
    articles; none by default); ``source``, the story text the model was shown, is not
    consulted for links: an article may ask for its own links to be added.
    ``categories`` the configured taxonomy, whose spelling the card gets; a card repeating
    a run of ``system_prompt`` is refused. Raises ``InvalidModelOutput`` naming the first
    rule broken.
    """
    data = parse_json_object(text)
    summary_raw = _string(data, "summary")
    takeaways_raw = _strings(data, "takeaways")
    why_raw = _string(data, "why_it_matters")
    category_raw = _string(data, "category")
    faq_raw = data.get("faq")
    if not isinstance(faq_raw, list) or not all(isinstance(item, dict) for item in faq_raw):
        raise InvalidModelOutput("faq must be a list of question/answer objects")
    pairs = [(_string(item, "question"), _string(item, "answer")) for item in faq_raw]

    everything = [summary_raw, why_raw, *takeaways_raw, *(q + " " + a for q, a in pairs)]
    joined = _raw_and_clean(everything)
    links = foreign_urls(joined, source, allowed=allowed_links)
    if links:
        raise InvalidModelOutput(f"the card must not contain links such as {links[0]}")
    if system_prompt and echoes(joined, system_prompt):
        raise InvalidModelOutput("the card repeats the instructions instead of the story")

    by_name = {name.casefold(): name for name in categories}
    category = by_name.get(" ".join(category_raw.split()).casefold())
    if category is None:
        raise InvalidModelOutput(
            f"category {category_raw[:40]!r} is not one of: {', '.join(categories)}"
        )

    summary = _field(summary_raw, "summary", SUMMARY_MAX)
    sentences = len(split_sentences(summary))
    low, high = SUMMARY_SENTENCES
    if not low <= sentences <= high:
        raise InvalidModelOutput(f"summary has {sentences} sentences, needs {low} to {high}")

    if len(takeaways_raw) != TAKEAWAYS:
        raise InvalidModelOutput(
            f"takeaways has {len(takeaways_raw)} items, needs exactly {TAKEAWAYS}"
        )
    takeaways = [_field(t, "each takeaway", TAKEAWAY_MAX) for t in takeaways_raw]

    why = _field(why_raw, "why_it_matters", WHY_MAX)

    low, high = FAQ_ITEMS
    if not low <= len(pairs) <= high:
        raise InvalidModelOutput(f"faq has {len(pairs)} items, needs {low} to {high}")
    faq = tuple(
        FaqItem(
            _field(q, "each faq question", QUESTION_MAX),
            _field(a, "each faq answer", FAQ_ANSWER_MAX),
        )
        for q, a in pairs
    )

    return CardDraft(
        category=category,
        summary=summary,
        takeaways=(takeaways[0], takeaways[1], takeaways[2]),
        why_it_matters=why,
        faq=faq,
        engine=engine,
        language=language,
    )


# -- follow-up answers ---------------------------------------------------------------------

_QUOTE_MARKS = "\"'“”‘’«»„‚"
_ELLIPSIS = ("...", "…")


def verbatim_quotes(quotes: Sequence[str], article_text: str) -> tuple[str, ...]:
    """The quotes that appear word for word in ``article_text`` (whitespace and surrounding
    quotation marks or ellipses aside), deduplicated, at most ``MAX_QUOTES``; the rest are
    dropped, since a quote the article does not contain proves nothing."""
    article = " ".join(article_text.split())
    kept: list[str] = []
    for quote in quotes:
        text = " ".join(quote.split()).strip(_QUOTE_MARKS + " ")
        for mark in _ELLIPSIS:
            text = text.removeprefix(mark).removesuffix(mark).strip()
        if len(text) < MIN_CHARS or len(text) > QUOTE_MAX or text in kept:
            continue
        if text in article:
            kept.append(text)
        if len(kept) == MAX_QUOTES:
            break
    return tuple(kept)


def parse_answer(
    text: str,
    *,
    article_text: str,
    link_source: str | None = None,
    allowed_links: Sequence[str] | None = None,
) -> ModelAnswer:
    """The grounded answer in the model's ``text``: plain text, quotes only if verbatim in
    ``article_text``, and links only as ``parse_card`` allows them: ``allowed_links`` (the
    card's URL and its sources' URLs) and their hosts. Without ``allowed_links``, links
    found in ``link_source`` (default: the article) as written are let through, for
    callers written before ``allowed_links`` (ignored when ``allowed_links`` is given).

    Raises ``InvalidModelOutput`` for malformed output, an empty answer to a covered
    question, or a link not let through. ``usage`` is left for the caller.
    """
    data = parse_json_object(text)
    answer_raw = _string(data, "answer")
    covered = data.get("covered")
    if not isinstance(covered, bool):
        raise InvalidModelOutput("covered must be true or false")
    quotes = _strings(data, "quotes")
    joined = _raw_and_clean([answer_raw])
    if allowed_links is not None:
        if links := foreign_urls(joined, "", allowed=allowed_links):
            raise InvalidModelOutput(f"the answer must not contain links such as {links[0]}")
    elif links := foreign_urls(joined, article_text if link_source is None else link_source):
        raise InvalidModelOutput(f"the answer contains links the article does not: {links[0]}")
    answer = shorten(plain_text(answer_raw), ANSWER_MAX)
    if not covered:
        return ModelAnswer(text=answer or NOT_COVERED, covered=False)
    if len(answer) < MIN_CHARS:
        raise InvalidModelOutput("the answer is empty")
    return ModelAnswer(text=answer, covered=True, quotes=verbatim_quotes(quotes, article_text))
