"""Picks a story's category from a configured taxonomy with a keyword lexicon.

The offline card engine calls ``classify``; other engines may use it to repair a category
a model returned outside the taxonomy. The lexicon covers ``digest.config.DEFAULT_CATEGORIES``;
a configured category outside it matches by the words of its own name, and a few common
alternative names (``Tech``, ``Politics``, ``Environment``, ...) borrow a lexicon entry.

A term ending in ``*`` matches as a prefix (``vaccin*`` finds "vaccine", "vaccination");
a term with a space matches as a phrase. Matching is case-insensitive and whole-word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache


def _terms(spec: str) -> tuple[str, ...]:
    return tuple(term.strip() for term in spec.split(",") if term.strip())


LEXICON: dict[str, tuple[str, ...]] = {
    "World": _terms(
        """
        united nations, embassy, ambassador*, foreign minister, diplomat*, treaty, summit,
        border*, refugee*, ceasefire, sanction*, nations, international, troops, war, peace talks,
        prime minister, bilateral, envoy, migrant*, humanitarian, countries, coastal states,
        regierung*, gouvernement, gobierno
        """
    ),
    "Policy": _terms(
        """
        parliament*, legislat*, lawmaker*, bill, law, laws, regulat*, ministry, government,
        senate, congress, vote, voted, election*, policy, reform*, court, ruling, subsid*, budget,
        tax, taxes, council, mayor, ordinance, rent, rents, housing, opposition, gesetz*, loi, ley
        """
    ),
    "Business": _terms(
        """
        compan*, market*, shares, stock*, investor*, revenue*, profit*, earnings, quarter*,
        acquisition*, acquire*, merger*, ceo, startup*, retail*, sales, inflation, economy,
        economic, bank, banks, interest rate*, funding, valuation, payment*, industry, exports,
        unternehmen, entreprise*, empresa*
        """
    ),
    "Technology": _terms(
        """
        software, app, apps, cloud, data cent*, artificial intelligence, ai, chip*,
        semiconductor*, smartphone*, internet, online, platform*, open source, open-source,
        developer*, algorithm*, comput*, digital, tech, technology, robot*, server*, outage*,
        browser*, batter*, technologie*, tecnolog*
        """
    ),
    "Science": _terms(
        """
        scien*, research*, study, studies, journal, physic*, chemist*, biolog*, astronom*,
        telescope*, planet*, galax*, orbit*, experiment*, laborator*, species, fossil, fossils,
        genom*, particle*, peer-reviewed, mathemati*, observator*, discover*, forsch*,
        wissenschaft*, chercheur*, científic*
        """
    ),
    "Health": _terms(
        """
        health*, hospital*, patient*, vaccin*, disease*, virus*, infection*, doctor*, nurse*,
        medic*, drug*, clinical, treatment*, cancer, diabetes, symptom*, pandemic, outbreak*,
        mental health, sleep, obesity, therap*, pharma*, dose*, gesundheit*, krankenhaus*, santé,
        salud, impfstoff*
        """
    ),
    "Climate": _terms(
        """
        climate, emission*, carbon, warming, greenhouse, renewable*, solar, wind power, wind
        farm*, fossil fuel*, coal, heatwave*, drought*, flood*, wildfire*, glacier*, sea level*,
        biodiversity, ocean*, conservation, pollution, net zero, energy, grid, trawling,
        overfishing, klima*, climat*, clima, énergie, energie
        """
    ),
    "Security": _terms(
        """
        cyber*, hack*, ransomware, malware, breach*, vulnerabilit*, exploit*, phishing, password*,
        encryption, attacker*, intrusion*, espionage, security, patch, patches, stolen, leak*,
        ddos, botnet*, spyware, zero-day, credential*, extortion, sicherheit*, sécurité, seguridad
        """
    ),
    "Sports": _terms(
        """
        football, soccer, tennis, cricket, basketball, rugby, cycling, olympic*, championship*,
        tournament*, league, coach*, striker, world cup, season, athlete*, marathon*, stadium*,
        medal*, player*, scored, referee*, goalkeeper, fußball, fútbol, sport, sports
        """
    ),
    "Culture": _terms(
        """
        film*, movie*, music*, album*, concert*, festival*, museum*, art, arts, artist*,
        exhibition*, novel*, theatre*, theater*, galler*, painting*, actor*, actress*, literature,
        heritage, manuscript*, orchestra*, opera*, poet*, archive*, kultur*, culture, cultura,
        musée, ausstellung*
        """
    ),
}

# Alternative category names that borrow a lexicon entry when configured.
ALIASES: dict[str, str] = {
    "tech": "Technology",
    "politics": "Policy",
    "government": "Policy",
    "economy": "Business",
    "finance": "Business",
    "markets": "Business",
    "environment": "Climate",
    "energy": "Climate",
    "sport": "Sports",
    "cybersecurity": "Security",
    "arts": "Culture",
    "entertainment": "Culture",
    "research": "Science",
    "international": "World",
    "medicine": "Health",
}

FALLBACK = "General"
_TITLE_WEIGHT = 3  # a keyword in the headline says more than one deep in the text
_PER_TERM_CAP = 3  # one word repeated ten times should not outvote the rest
_MIN_SCORE = 2  # below this the story is filed under the fallback
_NAME_WORD = re.compile(r"[^\W\d_]{2,}")


def classify(title: str, text: str, categories: Sequence[str]) -> str:
    """Return the best category of ``categories`` for a story, by keyword hits.

    Called by ``OfflineEngine.build_card``. Ties go to the category configured first. When no
    category scores, returns "General" if configured (any case), else the last category.
    Raises ``ValueError`` when ``categories`` is empty.
    """
    if not categories:
        raise ValueError("classify needs at least one category")
    best: str | None = None
    best_score = 0
    for name in categories:
        pattern = _pattern_for(name)
        if pattern is None:
            continue
        score = _TITLE_WEIGHT * _hits(pattern, title) + _hits(pattern, text)
        if score > best_score:
            best, best_score = name, score
    if best is not None and best_score >= _MIN_SCORE:
        return best
    return fallback_category(categories)


def fallback_category(categories: Sequence[str]) -> str:
    """The category used when nothing matches: "General" if configured, else the last one."""
    for name in categories:
        if name.casefold() == FALLBACK.casefold():
            return name
    return categories[-1]


def terms_for(name: str) -> tuple[str, ...]:
    """The lexicon terms of a configured category name (its own name words included)."""
    key = name.casefold()
    if key == FALLBACK.casefold():
        return ()
    lexicon_name = next((k for k in LEXICON if k.casefold() == key), ALIASES.get(key))
    own = tuple(
        word if len(word) <= 3 else word.removesuffix("s") + "*"
        for word in (w.casefold() for w in _NAME_WORD.findall(name))
    )
    return own + (LEXICON[lexicon_name] if lexicon_name else ())


@lru_cache(maxsize=64)
def _pattern_for(name: str) -> re.Pattern[str] | None:
    # Cached: the engine classifies every story against the same few names.
    terms = terms_for(name)
    if not terms:
        return None
    parts = []
    for term in sorted(set(terms), key=lambda t: (-len(t), t)):  # longest phrase wins
        body = r"\s+".join(re.escape(word) for word in term.rstrip("*").split())
        parts.append(body + (r"\w*" if term.endswith("*") else ""))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _hits(pattern: re.Pattern[str], text: str) -> int:
    counts: dict[str, int] = {}
    for found in pattern.finditer(text):
        term = found.group(0).casefold()
        counts[term] = min(counts.get(term, 0) + 1, _PER_TERM_CAP)
    return sum(counts.values())
