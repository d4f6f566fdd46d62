"""BM25 over an article's sentences, and the word analysis that routing shares.

``digest.answer.engine.Answerer`` builds one ``SentenceIndex`` per article (and keeps a few
in a small cache) and calls ``search`` to find the 1-3 sentences that best support a
question, or to learn that the article does not cover it. ``digest.answer.routing`` reuses
``words`` and ``stem`` so a question is analysed the same way everywhere.

Why BM25 written here: it is thirty lines, the corpus is one article, and no library we
already depend on has it. Scoring, for a query term ``t`` and a sentence ``d``::

    idf(t)    = ln(1 + (N - df + 0.5) / (df + 0.5))          # Lucene's form: never negative
    score(d)  = sum_t idf(t) * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(d) / avglen))

``K1 = 1.2`` and ``B = 0.75`` are the textbook values. In one-sentence "documents" a term
rarely occurs twice, so ``K1`` mostly sets how much a long sentence is discounted through
``B``; 0.75 keeps a long sentence that matches every word ahead of a short one that
matches one, which is what a reader wants quoted.

"Does not cover": BM25 scores grow with the number of sentences, so an absolute floor
alone cannot tell a match from noise. A result counts only when the best sentence scores
at least ``MIN_SCORE`` (this rejects matches on words the whole article repeats, such as
the company's name) *and* the chosen sentences hold at least ``MIN_COVERAGE`` of the
question's idf weight, where a question word the article never uses weighs the most a word
can (so "what did the CEO say about Brazil?" is not covered by sentences about the CEO).
On the questions in ``tests/digest/answer/test_retrieval.py`` the covered ones reach a
coverage of 0.51-1.0 (most 1.0) and the uncovered ones 0.0-0.11; 0.5 sits at the low edge
of the first group on purpose, since a half-answered question is still worth quoting.
A second and third sentence are added only when they score ``RELATIVE_FLOOR`` of the best.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from digest.summarize.sentences import clean_text, shorten, split_sentences
from digest.summarize.sentences import words as word_set

K1 = 1.2
B = 0.75
MIN_SCORE = 0.5
MIN_COVERAGE = 0.5
RELATIVE_FLOOR = 0.6  # a second or third sentence must score this fraction of the best one
MAX_PASSAGES = 3
QUOTE_MAX_CHARS = 320  # a quote longer than this is cut around the words that matched
MAX_INDEX_CHARS = 100_000  # bounds CPU per article; article pages are capped before this

# -- word analysis --------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"})
_NOT = re.compile(r"n't\b")
_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

STOPWORDS = word_set(
    """
    a an the and or but if then else so than that this these those there here it its
    i me my we us our you your he him his she her they them their one ones someone anyone
    is are was were be been being am will would shall should can could may might must
    do does did have has had having not no nor
    of in on at to for from by with about into onto over under as up down out off
    what which who whom whose when where why how whether
    very really just also even only more most much many some any all each every such
    please tell explain know think anything something far
    article story piece news text s t
    """
)

# Irregular forms mapped straight to their final stem. "doing"/"done" both become "done"
# so "what is being done?" and "what are they doing?" share a content word.
_IRREGULAR = {
    "said": "say",
    "says": "say",
    "saying": "say",
    "told": "tell",
    "made": "mak",
    "took": "tak",
    "taken": "tak",
    "began": "start",
    "begun": "start",
    "begin": "start",
    "begins": "start",
    "beginning": "start",
    "doing": "done",
    "done": "done",
    "paid": "pay",
    "bought": "buy",
    "sold": "sell",
    "won": "win",
    "lost": "los",
    "rose": "ris",
    "risen": "ris",
    "fell": "fall",
    "fallen": "fall",
    "grew": "grow",
    "grown": "grow",
    "went": "go",
    "gone": "go",
    "people": "person",
    "children": "child",
    "women": "woman",
    "men": "man",
    "news": "news",
    "impact": "affect",  # the few synonyms that matter in news questions
    "impacts": "affect",
    "impacted": "affect",
    "occur": "happen",
    "occurs": "happen",
    "occurred": "happen",
    "firm": "company",
    "firms": "company",
}
_NO_STRIP_S = ("ss", "us", "is", "ous")
# Abbreviations a reader types and a reporter spells out; used only when the article lacks
# the abbreviation itself, so "why did the CEO resign?" finds "its chief executive ...".
_EXPANSIONS = {
    "ceo": ("chief", "executive"),
    "cfo": ("chief", "financial"),
    "coo": ("chief", "operating"),
    "eu": ("european", "union"),
    "uk": ("britain",),
    "un": ("united", "nations"),
    "gdpr": ("general", "data", "protection", "regulation"),
    "ai": ("artificial", "intelligence"),
}
# Vague question verbs ("what will happen to ...", "what's going on with ...") that news
# text seldom repeats: when the article lacks them they do not count against coverage.
_VAGUE_QUERY = frozenset({"happen", "go", "get", "done", "mean", "tak", "mak", "think"})


def fold(text: str) -> str:
    """``text`` NFKC-normalised, case-folded, accents removed, apostrophes made ASCII.

    Accents go so that "für"/"fur" and "qué"/"que" meet; the cost is a few collisions
    between languages, which the callers' thresholds tolerate.
    """
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text``; "doesn't" gives "does", "not"; CJK runs give bigrams.

    CJK is written without spaces, so a run of it would otherwise be one huge "word".
    """
    out: list[str] = []
    for word in _WORD.findall(_NOT.sub(" not", fold(text))):
        if _CJK.search(word) and len(word) > 2:
            out.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            out.append(word)
    return out


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light English stem: plural, -ing, -ed, -ly, -ation, -ment and a final -e come off.

    Not Porter: it only has to make "happen/happens/happened/happening" and
    "involve/involved" meet, and leaves short words and other languages alone.
    """
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(_NO_STRIP_S):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if w[-1] == w[-2] and w[-1] not in "lsz":  # stopped -> stop, but fall stays
                w = w[:-1]
            break
    if w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    elif w.endswith(("ation", "ment")) and len(w) > 7:  # resignation -> resign
        w = w[:-5] if w.endswith("ation") else w[:-4]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def terms(text: str) -> list[str]:
    """Content stems of ``text`` in order: stopwords dropped, then stemmed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


# -- the index ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passage:
    """One supporting sentence: its position in the article, the quoted text, its score."""

    index: int
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What ``SentenceIndex.search`` found. ``passages`` are in article order."""

    passages: tuple[Passage, ...]
    best_score: float
    coverage: float

    @property
    def covered(self) -> bool:
        return bool(self.passages)


class SentenceIndex:
    """BM25 over the sentences of one article. Built once per article; ``search`` is cheap.

    Never raises for any text: an empty article has no sentences and covers nothing.
    """

    def __init__(self, article_text: str) -> None:
        text = clean_text(article_text[:MAX_INDEX_CHARS])
        self.sentences: tuple[str, ...] = tuple(split_sentences(text))
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._lengths: list[int] = []
        for i, sentence in enumerate(self.sentences):
            counts = Counter(terms(sentence))
            self._lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self._postings.setdefault(term, []).append((i, tf))
        n = len(self.sentences)
        self._avg_length = (sum(self._lengths) / n) if n else 1.0
        self._absent_idf = self._idf(0)  # the weight of a question word the article lacks

    def _idf(self, df: int) -> float:
        n = len(self.sentences)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, *, limit: int = MAX_PASSAGES) -> Retrieval:
        """The best 1..``limit`` sentences for ``query``, or none when it is not covered."""
        if not self.sentences:
            return Retrieval((), 0.0, 0.0)
        query_terms = self._query_terms(query)
        if not query_terms:
            return Retrieval((), 0.0, 0.0)
        weights: dict[str, float] = {}
        scores: dict[int, float] = {}
        matched: dict[int, set[str]] = {}
        for term in query_terms:
            postings = self._postings.get(term)
            if not postings:
                weights[term] = 0.0 if term in _VAGUE_QUERY else self._absent_idf
                continue
            idf = weights[term] = self._idf(len(postings))
            for i, tf in postings:
                norm = K1 * (1.0 - B + B * self._lengths[i] / self._avg_length)
                scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1.0) / (tf + norm)
                matched.setdefault(i, set()).add(term)
        if not scores:
            return Retrieval((), 0.0, 0.0)
        ranked = sorted(scores, key=lambda i: (-scores[i], i))
        best = scores[ranked[0]]
        chosen = [i for i in ranked[: max(1, limit)] if scores[i] >= best * RELATIVE_FLOOR]
        hit = set().union(*(matched[i] for i in chosen))
        coverage = sum(weights[t] for t in hit) / (sum(weights.values()) or 1.0)
        if best < MIN_SCORE or coverage < MIN_COVERAGE:
            return Retrieval((), best, coverage)
        passages = tuple(
            Passage(i, trim(self.sentences[i], set(query_terms)), scores[i]) for i in sorted(chosen)
        )
        return Retrieval(passages, best, coverage)

    def _query_terms(self, query: str) -> list[str]:
        """Unique content stems of ``query``, abbreviations spelled out where needed."""
        out: list[str] = []
        for term in terms(query):
            if term not in self._postings and term in _EXPANSIONS:
                out.extend(stem(w) for w in _EXPANSIONS[term])
            else:
                out.append(term)
        return list(dict.fromkeys(out))


def trim(sentence: str, query_terms: set[str], limit: int = QUOTE_MAX_CHARS) -> str:
    """``sentence`` itself, or a ``limit``-sized window of it around the matched words.

    A "sentence" of thousands of characters is usually a scraped list or a paragraph with
    no full stops; quoting its opening would miss the part that answered the question.
    """
    if len(sentence) <= limit:
        return sentence
    hits = [m.start() for m in _WORD.finditer(sentence) if stem(fold(m.group())) in query_terms]
    if not hits:
        return shorten(sentence, limit)
    # The window start (a hit) that holds the most hits within ``limit`` characters.
    best_start, best_count = hits[0], 0
    for k, start in enumerate(hits):
        count = sum(1 for h in hits[k:] if h < start + limit * 0.8)
        if count > best_count:
            best_start, best_count = start, count
    begin = max(0, best_start - limit // 5)
    if begin > 0:
        space = sentence.find(" ", begin)
        begin = space + 1 if 0 <= space < best_start else begin
    end = begin + limit
    if end >= len(sentence):
        return ("…" if begin else "") + sentence[begin:]
    space = sentence.rfind(" ", begin, end)
    end = space if space > begin + limit // 2 else end
    return ("…" if begin else "") + sentence[begin:end].rstrip(" ,;:") + "…"
