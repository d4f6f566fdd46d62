"""Story clustering: which existing story a new article belongs to. Pure, in memory, fast.

The poller builds one ``StoryIndex`` per poll cycle from the articles of the last
``cluster_window_hours`` (``Repository.recent_articles``); the repository asks ``find`` for each
new article and ``add``s it to the story it ends up in (``digest.store.repository.StoryMatcher``).

Two articles are the same story when, and only when, they come from different feeds and

* their **titles** are near-duplicates: at least ``MIN_SHARED_TOKENS`` meaningful tokens in
  common, Jaccard similarity at least ``TITLE_JACCARD``, and no *conflict* — each title having a
  distinctive token (a name, an acronym, a number) the other lacks. "Apple unveils iPhone 17 at
  September event" and "Apple unveils iPad at September event" share four of six tokens but name
  different products: two stories. Merging two stories hides one from readers, while a missed
  merge only shows a near-duplicate card, so doubtful cases stay apart; or
* their **texts** are near-duplicates — a syndicated wire story, lightly edited: at least
  ``TEXT_CONTAINMENT`` of the smaller set of 4-word shingles (from the first ``TEXT_WORDS``
  words) appears in the other, and the titles share at least ``TEXT_SHARED_TOKENS`` tokens.
  Text that many stories share (a paywall notice, a site footer) is recognised as boilerplate
  and ignored.

Tokens: NFKC, case-folded words, possessives and a small English stopword list dropped, plurals
and -ed/-ing folded by a crude suffix stripper. Candidates come from inverted indexes (title
tokens; the smallest shingle hashes of the text), so ``find`` scores a handful of stories, not
all of them.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import unicodedata
from array import array
from collections import Counter
from dataclasses import dataclass

__all__ = ["MIN_SHARED_TOKENS", "TEXT_CONTAINMENT", "TITLE_JACCARD", "StoryIndex"]

MIN_SHARED_TOKENS = 3
TITLE_JACCARD = 0.5
TEXT_CONTAINMENT = 0.5
TEXT_SHARED_TOKENS = 2  # a rewritten headline of a wire story still names the same things
TEXT_WORDS = 60  # syndicated copies agree most near the top; later text is edited more
SHINGLE_WORDS = 4
SHORT_HEAD = TEXT_WORDS * 8  # characters: 60 words of English news usually fit
MIN_SHINGLES = 9  # below this (12 words) a text says too little to be compared
SKETCH_SIZE = 8  # smallest shingle hashes indexed per article (bottom-k sketch)
BOILERPLATE_STORIES = 5  # a sketch hash in more stories than this is boilerplate
# A title token in more stories than this weighs less, by sqrt(limit / stories): in a busy news
# cycle "trump", "says" or "ukraine" do not make two headlines one story. Scaled with the index,
# never below COMMON_TOKEN_MIN, so a small index weighs every token alike.
COMMON_TOKEN_MIN = 50
COMMON_TOKEN_SHARE = 0.005
# Postings longer than this many times the limit are not scanned for candidates (speed).
SCAN_LIMIT_FACTOR = 4

_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_DIGIT = re.compile(r"\d")
_STOPWORDS = frozenset(
    "a about after against amid an and are as at be been but by can could did do does for from"  # noqa: SIM905
    " had has have he her his how i if in into is it its may more most new no not now of off on"
    " or our out over says said she so than that the their them then there these they this"
    " those to up was we were what when where which who why will with would you your".split()
)
# Analyses remembered between find() and add(): more than one feed's batch of entries.
ANALYSIS_CACHE = 2048
_KEEP = frozenset({"news", "series", "species", "gas", "bias", "always", "perhaps"})


@dataclass(frozen=True, slots=True)
class _Title:
    tokens: tuple[str, ...]  # a tuple costs a third of a frozenset; articles keep many
    distinctive: tuple[str, ...]  # the tokens that name something: names, acronyms, numbers


@dataclass(frozen=True, slots=True)
class _Analysis:
    """An article's title and text as find() and add() use them, worked out once."""

    title: _Title
    tokens: frozenset[str]  # title.tokens as a set: find() intersects it with every candidate
    shingles: frozenset[int]
    ordered: array[int]  # the shingles sorted: what add() keeps, and the sketch is its start

    @property
    def sketch(self) -> list[int]:
        """The ``SKETCH_SIZE`` smallest hashes: near-duplicate texts share some of them with
        high probability (a bottom-k sketch), so they are the text index's keys."""
        return self.ordered[:SKETCH_SIZE].tolist()


@dataclass(frozen=True, slots=True)
class _Article:
    feed_id: int
    title: _Title
    shingles: array[int]  # sorted shingle hashes; an array costs 8 bytes a shingle, a set ~60


class StoryIndex:
    """Articles of recent stories, indexed for ``find``. Not thread-safe; one per poll cycle.

    Memory is about 2.3 kB per article (25,000 single-article stories: ~57 MB).
    """

    def __init__(self) -> None:
        self._articles: dict[int, list[_Article]] = {}
        self._by_token: dict[str, set[int]] = {}
        # Sketch value -> stories. Nearly every value belongs to one story, so that story sits
        # in a plain dict (a third of the memory of a dict of lists); the rest, capped at
        # BOILERPLATE_STORIES + 1 (past that a value is boilerplate), in a second one.
        self._sketch_first: dict[int, int] = {}
        self._sketch_more: dict[int, list[int]] = {}
        # The repository calls find() for a feed's new articles and then add() for the same
        # ones: remembering the analyses of the last batch halves the index's work in a poll.
        self._recent: dict[tuple[str, str], _Analysis] = {}

    def _analyse(self, title: str, text: str) -> _Analysis:
        key = (title, text)
        found = self._recent.get(key)
        if found is None:
            if len(self._recent) >= ANALYSIS_CACHE:
                self._recent.clear()
            parsed, shingles = _analyse_title(title), _shingles(text)
            found = self._recent[key] = _Analysis(
                parsed, frozenset(parsed.tokens), shingles, array("q", sorted(shingles))
            )
        return found

    def __len__(self) -> int:
        """The number of stories."""
        return len(self._articles)

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        """Register an article as part of ``story_id``. Called by the poller when it builds the
        index and by the repository after it stores an article. Never raises."""
        analysis = self._analyse(title, text)
        # The array is shared with the analysis cache; neither ever changes it.
        self._articles.setdefault(story_id, []).append(
            _Article(feed_id, analysis.title, analysis.ordered)
        )
        for token in analysis.title.tokens:
            self._by_token.setdefault(token, set()).add(story_id)
        for value in analysis.sketch:
            first = self._sketch_first.setdefault(value, story_id)
            if first != story_id:
                more = self._sketch_more.setdefault(value, [])
                if len(more) < BOILERPLATE_STORIES and story_id not in more:
                    more.append(story_id)

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        """The story an article from ``feed_id`` belongs to, or ``None`` for a new story.

        Only stories with no article from ``feed_id`` are considered: two articles of one feed
        are two stories. Of several matching stories the best-scoring one wins. Called by the
        repository for each new article. Never raises.
        """
        analysis = self._analyse(title, text)
        query, tokens, shingles, sketch = (
            analysis.title,
            analysis.tokens,
            analysis.shingles,
            analysis.sketch,
        )
        # Boilerplate text (shared by many stories) must not make unrelated stories one.
        common = sum(self._is_boilerplate(v) for v in sketch)
        if common * 2 >= len(sketch):
            shingles, sketch = frozenset(), []
        limit = max(COMMON_TOKEN_MIN, COMMON_TOKEN_SHARE * len(self._articles))
        scores: dict[int, float] = {}
        by_title = self._title_candidates(query, limit)
        by_text = self._text_candidates(sketch)
        for story_id in by_title | by_text:
            articles = self._articles[story_id]
            if any(article.feed_id == feed_id for article in articles):
                continue
            for article in articles:
                score = 0.0
                if story_id in by_title:
                    score = self._title_score(query, tokens, article.title, limit)
                if not score and story_id in by_text:
                    score = _text_score(tokens, shingles, article)
                scores[story_id] = max(score, scores.get(story_id, 0.0))
        best = max(scores.items(), key=lambda item: (item[1], item[0]), default=None)
        return best[0] if best and best[1] > 0 else None

    def _title_candidates(self, query: _Title, limit: float) -> set[int]:
        """Stories that share enough title tokens to pass ``_title_score``.

        Exact, except that postings of tokens in more than ``SCAN_LIMIT_FACTOR * limit`` stories
        are not read (speed): a story is then assumed to share them, but must still share two of
        the query's other tokens."""
        tokens = query.tokens
        if len(tokens) < MIN_SHARED_TOKENS:
            return set()
        # Plain Jaccard >= 1/2 means sharing at least half of the query's tokens.
        need = max(MIN_SHARED_TOKENS, math.ceil(len(tokens) * TITLE_JACCARD))
        postings: list[set[int]] = []
        for token in tokens:
            stories = self._by_token.get(token)
            if stories is None:
                continue
            if len(stories) > SCAN_LIMIT_FACTOR * limit:
                need -= 1
            else:
                postings.append(stories)
        need = max(2, need)
        if len(postings) < need:
            return set()
        # A story in `need` of the postings is in one of the len - need + 1 smallest: only
        # those are counted in full, the others only where they meet a story found so far.
        # (Counting every posting cost a quarter of find() in a busy index.)
        postings.sort(key=len)
        seeds = len(postings) - need + 1
        hits: Counter[int] = Counter()
        for stories in postings[:seeds]:
            hits.update(stories)
        for stories in postings[seeds:]:
            hits.update(hits.keys() & stories)  # iterates the smaller of the two
        return {story for story, count in hits.items() if count >= need}

    def _text_candidates(self, sketch: list[int]) -> set[int]:
        """Stories with an article whose text sketch shares a value with ``sketch``."""
        found: set[int] = set()
        for value in sketch:
            first = self._sketch_first.get(value)
            if first is None:
                continue
            more = self._sketch_more.get(value, ())
            if len(more) < BOILERPLATE_STORIES:  # else boilerplate: no story through it
                found.add(first)
                found.update(more)
        return found

    def _is_boilerplate(self, value: int) -> bool:
        """Whether a sketch value is in more than ``BOILERPLATE_STORIES`` stories. add() keeps
        the first story apart and caps the others at that number, so only a full list is."""
        return len(self._sketch_more.get(value, ())) >= BOILERPLATE_STORIES

    def _title_score(
        self, query: _Title, tokens: frozenset[str], title: _Title, limit: float
    ) -> float:
        """Weighted Jaccard of two titles (``tokens`` is ``query.tokens`` as a set); 0 unless
        they are near-duplicates."""
        shared = tokens.intersection(title.tokens)
        if len(shared) < MIN_SHARED_TOKENS:
            return 0.0
        union = shared.union(query.tokens, title.tokens)
        # Plain Jaccard keeps _title_candidates exact; the weighted one keeps common words
        # from carrying a match.
        if len(shared) < TITLE_JACCARD * len(union) or _conflict(query, title):
            return 0.0
        weighted = sum(self._weight(t, limit) for t in shared) / sum(
            self._weight(t, limit) for t in union
        )
        return weighted if weighted >= TITLE_JACCARD else 0.0

    def _weight(self, token: str, limit: float) -> float:
        """1 for a token in up to ``limit`` stories, less the more common it is."""
        return min(1.0, math.sqrt(limit / max(1, len(self._by_token.get(token, ())))))


def _text_score(tokens: frozenset[str], shingles: frozenset[int], article: _Article) -> float:
    """Containment of the smaller shingle set in the larger; 0 below the threshold or when the
    titles share fewer than ``TEXT_SHARED_TOKENS`` tokens (a guard against boilerplate not yet
    seen in enough stories to be recognised)."""
    if not shingles or len(article.shingles) < MIN_SHINGLES:
        return 0.0
    if len(tokens.intersection(article.title.tokens)) < TEXT_SHARED_TOKENS:
        return 0.0
    overlap = len(shingles.intersection(article.shingles))
    containment = overlap / min(len(shingles), len(article.shingles))
    return containment if containment >= TEXT_CONTAINMENT else 0.0


def _conflict(a: _Title, b: _Title) -> bool:
    """Each title names something the other does not: likely two events, not one."""
    return any(t not in b.tokens for t in a.distinctive) and any(
        t not in a.tokens for t in b.distinctive
    )


def _analyse_title(title: str) -> _Title:
    words = _WORD.findall(unicodedata.normalize("NFKC", title))
    alpha = [w for w in words if w[0].isalpha()]
    all_caps = bool(alpha) and all(w.isupper() for w in alpha if len(w) > 1)
    # In Title Case Headlines a capital says nothing; in sentence case it marks a name.
    later = [w for w in alpha[1:] if len(w) >= 3]
    capitalised = sum(w != w.lower() for w in later)
    title_case = bool(later) and capitalised >= 0.6 * len(later)
    tokens: set[str] = set()
    distinctive: set[str] = set()
    for position, word in enumerate(words):
        token = _token(word)
        if not token:
            continue
        tokens.add(token)
        if not word.isalpha() and _DIGIT.search(word):  # isalpha(): no regex for most words
            distinctive.add(token)
        elif all_caps or not word[0].isalpha():
            continue
        elif word[1:] != word[1:].lower() or (
            position > 0 and not title_case and word[0].isupper()
        ):
            distinctive.add(token)  # iPhone, NASA, OpenAI; or "Chelsea" mid-sentence
    return _Title(tuple(tokens), tuple(distinctive))


# Titles reuse a small vocabulary, so tokens are remembered: half the cost of _analyse_title.
# The bound keeps a long-running process's cache at a few MB.
@functools.lru_cache(maxsize=16384)
def _token(word: str) -> str | None:
    """The normalised token of one word, or None for a stopword."""
    word = word.casefold()
    if word.endswith(("'s", "’s")):  # a possessive (words never hold a newline for $ to skip)
        word = word[:-2]
    if not word or word in _STOPWORDS:
        return None
    return _stem(word)


def _stem(word: str) -> str:
    """Fold plurals and -ed/-ing so "raises", "raised" and "raise" are one token. Crude on
    purpose: it only has to be consistent, not linguistically right."""
    if len(word) <= 3 or word in _KEEP or not word.isalpha():
        return sys.intern(word)
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return sys.intern(word)  # one string per token across the whole index


def _shingles(text: str) -> frozenset[int]:
    """Hashes of the 4-word shingles of the first ``TEXT_WORDS`` words (stopwords kept: word
    order is the signal). Python's ``hash`` is salted per process; the index never leaves it."""
    words = _first_words(text)
    if len(words) - SHINGLE_WORDS + 1 < MIN_SHINGLES:
        return frozenset()
    return frozenset(map(hash, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def _first_words(text: str) -> list[str]:
    """The first ``TEXT_WORDS`` words of ``text``, NFKC-normalised and case-folded.

    Only the start is read; 30 characters a word is plenty even for long compounds. _WORD costs
    about 12 ns a character, so a window of ``SHORT_HEAD`` characters is tried first. When it
    holds more than ``TEXT_WORDS`` words, its first ``TEXT_WORDS`` are those of the long window:
    a word ends where the next characters cannot continue it, and those lie before the next
    word, so before the cut. (Normalisation can only differ from the cut's last starter on.)
    """
    words = _WORD.findall(unicodedata.normalize("NFKC", text[:SHORT_HEAD]).casefold())
    if len(words) <= TEXT_WORDS and len(text) > SHORT_HEAD:
        head = text[: TEXT_WORDS * 30]
        words = _WORD.findall(unicodedata.normalize("NFKC", head).casefold())
    return words[:TEXT_WORDS]
