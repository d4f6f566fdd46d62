"""The offline card engine: an extractive card built from the story's own sentences.

It is the embedded default: no network, no API key, CPU only, and deterministic (the same
story always gives the same card). Every sentence on the card is copied from the articles,
trimmed at a clause boundary when long; the only sentences we write ourselves are neutral
statements of what the feed says (source, date, category) for stories too thin to fill a
card. Text stays in its source language (``CardDraft.language`` is ``None``) and stays plain
text: escaping for Telegram or Discord is the platform adapters' job.

The card parts are picked in this order so that one sentence is used once where possible:
the lede opens the summary, then "why it matters" takes the best cue sentence, the summary
is filled up, the takeaways take fact-dense sentences nobody used, and the FAQ takes what
is left. Sentence features and cue lists live in ``digest.summarize.features``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from digest.models import CardDraft, FaqItem, Story
from digest.summarize.features import Sentence, build_pool, english_date, similarity
from digest.summarize.sentences import as_sentence, shorten
from digest.summarize.taxonomy import classify, fallback_category

SUMMARY_BUDGET = 420  # characters: two or three news sentences, four short ones
SUMMARY_SENTENCE_MAX = 300
TAKEAWAY_MAX = 160
WHY_MAX = 320
ANSWER_MAX = 300
CLASSIFY_CHARS = 8_000
_SAME_FACT = 0.5  # ``similarity`` from which two sentences say the same thing


class OfflineEngine:
    """A ``CardEngine`` that needs nothing but the story text.

    Built by the composition root with the configured taxonomy; ``make_card`` is called by the
    card step of the poller and by ``digest demo``.
    """

    name = "offline"

    def __init__(self, categories: Sequence[str]) -> None:
        if not categories:
            raise ValueError("OfflineEngine needs at least one category")
        self._categories = tuple(categories)

    async def make_card(self, story: Story, *, language: str | None = None) -> CardDraft:
        """The ``CardEngine`` entry point. A few milliseconds of CPU, so no thread is used.

        An extractive engine cannot translate: it keeps the source language whatever
        ``language`` asks, and says so by leaving ``CardDraft.language`` unset.
        """
        return self.build_card(story)

    def build_card(self, story: Story) -> CardDraft:
        """Build the card for ``story``. Never raises for any text, however odd."""
        return _CardBuilder(story, self._categories).build()


class _CardBuilder:
    """One card's worth of state: the sentence pool and which sentences are used."""

    def __init__(self, story: Story, categories: tuple[str, ...]) -> None:
        self.story = story
        lead = story.articles[0] if story.articles else None
        self.title = (story.title or (lead.title if lead else "")).strip()
        self.pool, body = build_pool(self.title, [a.text for a in story.articles])
        # The opening of the text carries the topic; scanning all of a long page is wasted time.
        self.category = classify(self.title, body[:CLASSIFY_CHARS], categories)
        self.is_fallback_category = self.category == fallback_category(categories)
        self.used: Counter[int] = Counter()

    def build(self) -> CardDraft:
        lede = self.pool[0] if self.pool else None
        if lede is not None:
            self.used[lede.index] += 1
        why = self._why(lede)
        summary = self._summary(lede)
        takeaways = self._takeaways()
        faq = self._faq()
        return CardDraft(
            category=self.category,
            summary=summary,
            takeaways=takeaways,
            why_it_matters=why,
            faq=faq,
            engine=OfflineEngine.name,
            language=None,
        )

    # -- parts ------------------------------------------------------------------------------

    def _why(self, lede: Sentence | None) -> str:
        """The sentence with the strongest impact cue, or a neutral line if none has one."""
        others = [s for s in self.pool if s is not lede and s.why >= 2 and not s.question]
        if not others and lede is not None and lede.why >= 3:
            others = [lede]  # the lede alone states the stakes: better than a neutral line
        if others:
            best = min(others, key=lambda s: (-s.why, -s.score, s.index))
            self.used[best.index] += 1
            return as_sentence(shorten(best.text, WHY_MAX))
        about = as_sentence(self.title) if self.title else "the facts above."
        if self.is_fallback_category:
            return (
                "The source does not spell out wider consequences beyond what it reports: " + about
            )
        return (
            f"Filed under {self.category}. The source does not spell out wider consequences "
            f"beyond what it reports: {about}"
        )

    def _summary(self, lede: Sentence | None) -> str:
        picked = [lede] if lede is not None else []
        total = len(lede.text) if lede is not None else 0
        fresh = self._fresh()
        # Leave six unused sentences for the takeaways and the FAQ answers where we can.
        most = 1 + max(1, min(3, len(fresh) - 6)) if lede is not None else 4
        if any(s.article == 0 for s in fresh):
            # Other sources mostly restate the lead: their sentences serve takeaways and FAQ.
            fresh = [s for s in fresh if s.article == 0]
        ranked = sorted(fresh, key=lambda s: (-s.score, s.index))
        for sentence in ranked:
            if len(picked) == most:
                break
            size = min(len(sentence.text), SUMMARY_SENTENCE_MAX)
            if len(picked) >= 2 and total + size > SUMMARY_BUDGET:
                continue
            if any(similarity(sentence, p) >= _SAME_FACT for p in picked):
                continue
            picked.append(sentence)
            total += size
        for sentence in picked:
            self.used[sentence.index] += 1
        picked.sort(key=lambda s: s.index)
        texts = [as_sentence(shorten(s.text, SUMMARY_SENTENCE_MAX)) for s in picked]
        if len(texts) < 2 and self.used:
            # A one-sentence article: the "why" sentence (if any) is still article text.
            spare = [s for s in self.pool if s is not lede and self.used[s.index]]
            texts += [as_sentence(shorten(s.text, SUMMARY_SENTENCE_MAX)) for s in spare[:1]]
        if not texts and self.title:
            texts.append(as_sentence(self.title))
        for fact in self._facts():
            if len(texts) >= 2:
                break
            if fact not in texts:
                texts.append(fact)
        return " ".join(texts)

    def _takeaways(self) -> tuple[str, str, str]:
        def rank(s: Sentence) -> tuple[float, int]:
            bonus = 0.3 * s.figures + 0.2 * min(s.names, 2) + 0.4 * s.outcome - 0.4 * s.quote
            bonus += 0.3 * (len(s.text) <= TAKEAWAY_MAX) - 0.6 * s.question - 0.4 * s.dangling
            return (-(s.score + bonus), s.index)

        chosen: list[Sentence] = []
        for group in (self._fresh(), [s for s in self.pool if self.used[s.index]]):
            for sentence in sorted(group, key=rank):
                if len(chosen) == 3:
                    break
                if all(similarity(sentence, c) < _SAME_FACT for c in chosen):
                    chosen.append(sentence)
        for sentence in chosen:
            self.used[sentence.index] += 1
        chosen.sort(key=lambda s: s.index)
        bullets = [as_sentence(shorten(s.text, TAKEAWAY_MAX)) for s in chosen]
        fillers = ([as_sentence(self.title)] if self.title else []) + self._facts()
        for fact in fillers:
            if len(bullets) == 3:
                break
            if fact not in bullets:
                bullets.append(fact)
        return bullets[0], bullets[1], bullets[2]

    def _faq(self) -> tuple[FaqItem, ...]:
        """Two to four questions, each answered by a different sentence of the text."""
        specs: list[tuple[str, Callable[[Sentence], float]]] = [
            ("Who is involved?", _names_people),
            ("When", lambda s: float(s.has_date)),
            ("What are the key numbers?", lambda s: float(s.figures)),
            ("What happens next?", lambda s: float(s.future)),
            ("What is being done about it?", lambda s: float(s.action)),
        ]
        answers: dict[str, Sentence] = {}
        taken: set[int] = set()

        def ask(question: str, fit: Callable[[Sentence], float], reuse: bool) -> None:
            pool = self.pool if reuse else self._fresh()
            pool = [s for s in pool if s.index not in taken and not s.question]
            fits = [(fit(s), s) for s in pool if fit(s) > 0]
            if fits:
                best = min(fits, key=lambda p: (-p[0], -p[1].score, p[1].index))[1]
                answers[question] = best
                taken.add(best.index)
                self.used[best.index] += 1

        for question, fit in specs:
            if len(answers) == 4:
                break
            ask(question, fit, reuse=False)
        if len(answers) < 2:  # the plainest question, answered by the best sentence left
            ask("What happened?", _plain_fact, reuse=False)
        if len(answers) < 2:  # facts nobody used, rather than one said twice
            ask(_BACKGROUND, _context, reuse=False)
        if len(answers) < 2:
            ask(_ELSE, lambda s: 1.0, reuse=False)
        if len(answers) < 2 and "What happened?" not in answers:
            ask("What happened?", lambda s: 1.0 / (1 + s.index), reuse=True)  # the lede
        for question, fit in specs:
            if len(answers) >= 2:
                break
            if question not in answers:
                ask(question, fit, reuse=True)
        order = ["What happened?", _BACKGROUND] + [q for q, _ in specs] + [_ELSE]
        faq = [
            FaqItem(
                self._question(q, answers[q]), as_sentence(shorten(answers[q].text, ANSWER_MAX))
            )
            for q in order
            if q in answers
        ][:4]
        facts = self._facts()
        if len(faq) < 2 and facts[0] != _NO_DETAIL:
            faq.append(FaqItem("Who reported this?", facts[0]))
        if len(faq) < 2:
            faq.append(FaqItem("Where can I read more?", _READ_MORE))
        if len(faq) < 2:  # no text at all: still two honest answers
            faq.insert(0, FaqItem("What happened?", as_sentence(self.title) or _NO_DETAIL))
        return tuple(faq)

    # -- helpers ----------------------------------------------------------------------------

    def _fresh(self) -> list[Sentence]:
        """Sentences not on the card yet, nor restating one that is (another source's lede)."""
        used = [s for s in self.pool if self.used[s.index]]
        return [
            s
            for s in self.pool
            if not self.used[s.index] and all(similarity(s, u) < _SAME_FACT for u in used)
        ]

    @staticmethod
    def _question(key: str, answer: Sentence) -> str:
        if key == "When":
            return "When will this happen?" if answer.future else "When did this happen?"
        return key

    def _facts(self) -> list[str]:
        """Neutral statements of what the feed itself says, for cards the text cannot fill."""
        facts: list[str] = []
        articles = self.story.articles
        if articles:
            lead = articles[0]
            when = english_date(lead.published_at) if lead.published_at else ""
            if lead.source_name:
                on = f" on {when}" if when else ""
                facts.append(f"{lead.source_name} published this report{on}.")
            elif when:
                facts.append(f"It was published on {when}.")
            others = sorted({a.source_name for a in articles[1:]} - {lead.source_name, ""})
            if others:
                names = ", ".join(others[:-1]) + (" and " if len(others) > 1 else "") + others[-1]
                facts.append(f"It was also reported by {names}.")
        facts += [_NO_DETAIL, f"It is filed under {self.category}.", _READ_MORE]
        return facts


def _names_people(s: Sentence) -> float:
    """Fit for "Who is involved?": names, best with who said what, and not only a quote."""
    return (s.names + 2 * s.attribution) * (0.5 if s.quote else 1.0) if s.names else 0.0


def _plain_fact(s: Sentence) -> float:
    """Fit for "What happened?": a sentence that reports an outcome, not a quote or aside."""
    return float(s.outcome and not s.quote and not s.dangling)


def _context(s: Sentence) -> float:
    """Fit for the background question: a standing fact rather than the day's event."""
    return 1.0 + (not s.outcome) + (not s.has_date) - 0.5 * s.dangling - 0.5 * s.quote


_BACKGROUND = "What is the background?"
_ELSE = "What else is known?"
_NO_DETAIL = "The source gives no further detail."
_READ_MORE = "The full report is in the original article."
