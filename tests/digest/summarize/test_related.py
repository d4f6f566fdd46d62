"""Related cards: the closest recent cards by subject, none when nothing is close."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from digest.models import Card
from digest.summarize.related import related_cards

START = datetime(2026, 3, 1, 8, tzinfo=UTC)


def card(
    card_id: int,
    title: str,
    summary: str,
    takeaways: tuple[str, ...] = (),
    *,
    story_id: int | None = None,
    hours: int = 0,
) -> Card:
    return Card(
        id=card_id,
        story_id=card_id if story_id is None else story_id,
        title=title,
        url=f"https://news.example/{card_id}",
        source="Example News",
        published_at=START + timedelta(hours=hours),
        category="General",
        summary=summary,
        takeaways=takeaways,
        why_it_matters="",
        faq=(),
        engine="anthropic",
        created_at=START + timedelta(hours=hours, minutes=5),
    )


META_FINE = card(
    1,
    "EU fines Meta €798 million over Facebook Marketplace",
    "The European Commission fined Meta for tying its classified ads service Facebook "
    "Marketplace to its social network, its first antitrust penalty against the company.",
    (
        "The Commission said Meta imposed unfair trading conditions on rival ad services.",
        "Meta said it would appeal the antitrust decision.",
        "Competition chief Margrethe Vestager led the case.",
    ),
    hours=10,
)
APPLE_FINE = card(
    2,
    "Apple hit with €1.8 billion EU antitrust fine over music streaming",
    "The European Commission fined Apple for stopping music streaming apps such as Spotify "
    "from telling iPhone users about cheaper offers outside the App Store.",
    (
        "It is Apple's first antitrust fine from the Commission.",
        "Apple said it would appeal.",
        "Spotify had complained to Brussels in 2019.",
    ),
    hours=2,
)
GOOGLE_DMA = card(
    3,
    "Brussels opens Digital Markets Act probes into Google and Meta",
    "The European Commission opened its first investigations under the Digital Markets Act, "
    "examining whether Google and Meta favour their own services.",
    (
        "Fines can reach 10% of global turnover.",
        "The probes should finish within a year.",
        "Apple is also under scrutiny.",
    ),
    hours=6,
)
ECB = card(
    4,
    "ECB cuts interest rates for the first time since 2019",
    "The European Central Bank lowered its deposit rate to 3.75% as inflation in the euro "
    "area eased, but gave no commitment to further cuts.",
    (
        "Inflation stood at 2.6% in May.",
        "Christine Lagarde said future decisions depend on data.",
        "Borrowing costs for households should fall.",
    ),
    hours=9,
)
FED = card(
    5,
    "Fed holds interest rates steady, signals one cut this year",
    "The Federal Reserve kept its benchmark rate unchanged as inflation stayed above target, "
    "and policymakers pencilled in a single rate cut.",
    (
        "Jerome Powell said inflation has eased but remains too high.",
        "Markets had hoped for two cuts.",
        "Mortgage rates remain elevated.",
    ),
    hours=8,
)
BOE = card(
    6,
    "Bank of England keeps rates on hold ahead of election",
    "The Bank of England held interest rates at a 16-year high, although inflation fell to "
    "its 2% target, and said a cut in August was possible.",
    (
        "Two policymakers voted for a rate cut.",
        "Inflation hit the 2% target for the first time in three years.",
        "The decision came weeks before the general election.",
    ),
    hours=7,
)
HEAT = card(
    7,
    "Heatwave grips southern Europe as temperatures top 44C",
    "Greece closed the Acropolis and Italy issued red alerts in 23 cities as a heatwave sent "
    "temperatures above 44C, fuelling wildfire fears.",
    (
        "Tourists were told to avoid the midday sun.",
        "Wildfires broke out near Athens.",
        "Scientists link longer heatwaves to climate change.",
    ),
    hours=5,
)
WILDFIRE = card(
    8,
    "Canada wildfires force thousands to evacuate",
    "Wildfires in British Columbia and Alberta forced thousands of residents from their homes "
    "as hot, dry weather and strong winds spread the flames.",
    (
        "More than 100 wildfires are burning out of control.",
        "Smoke drifted across the border into the United States.",
        "Officials blamed an unusually dry spring linked to climate change.",
    ),
    hours=4,
)
FOOTBALL = card(
    9,
    "Arsenal beat Chelsea 5-0 to go top of the Premier League",
    "Ben White and Kai Havertz scored twice each as Arsenal thrashed their London rivals at "
    "the Emirates Stadium.",
    (
        "Leandro Trossard opened the scoring.",
        "Mikel Arteta praised his players' intensity.",
        "Chelsea manager Mauricio Pochettino called the display unacceptable.",
    ),
    hours=3,
)
OBESITY = card(
    10,
    "Weekly obesity injection cuts heart attack risk by 20%",
    "A large trial of semaglutide in people with obesity but without diabetes found fewer "
    "heart attacks, strokes and cardiovascular deaths.",
    (
        "The trial followed 17,604 adults.",
        "Side effects were mostly nausea.",
        "Doctors say treatment guidelines could change.",
    ),
    hours=1,
)
ALL = [META_FINE, APPLE_FINE, GOOGLE_DMA, ECB, FED, BOE, HEAT, WILDFIRE, FOOTBALL, OBESITY]


def test_related_cards_are_the_closest_subjects() -> None:
    assert set(related_cards(ECB, ALL)) == {FED.id, BOE.id}
    assert related_cards(FED, ALL) == [BOE.id, ECB.id]
    assert set(related_cards(META_FINE, ALL)) == {APPLE_FINE.id, GOOGLE_DMA.id}
    assert related_cards(HEAT, ALL) == [WILDFIRE.id]


def test_an_unrelated_card_has_none() -> None:
    assert related_cards(FOOTBALL, ALL) == []
    assert related_cards(OBESITY, ALL) == []


def test_never_the_card_itself_nor_its_story() -> None:
    other_source = card(
        20,
        "European Central Bank lowers rates as inflation eases",
        "The ECB cut its deposit rate to 3.75%, its first cut since 2019.",
        story_id=ECB.story_id,
    )
    found = related_cards(ECB, [*ALL, other_source])
    assert ECB.id not in found
    assert other_source.id not in found
    assert set(found) == {BOE.id, FED.id}


def test_limit() -> None:
    assert related_cards(META_FINE, ALL, limit=1) == [APPLE_FINE.id]
    assert related_cards(META_FINE, ALL, limit=0) == []
    assert len(related_cards(ECB, ALL, limit=10)) == 2


def test_ties_go_to_the_most_recent_then_the_highest_id() -> None:
    text = ("Tariff talks", "Negotiators met to discuss steel tariffs and quotas.")
    query = card(30, *text, hours=0)
    older = card(31, *text, hours=1)
    newer = card(32, *text, hours=5)
    same_time = card(33, *text, hours=5)
    assert related_cards(query, [older, newer, same_time]) == [33, 32, 31]


def test_plurals_case_and_stopwords() -> None:
    query = card(40, "Steel tariffs", "The US raised tariffs on Chinese steel.")
    other = card(41, "New TARIFF on steel", "A tariff on steel imports was announced.")
    stopwords_only = card(42, "It was said", "They said that it was and would be.")
    assert related_cards(query, [other, stopwords_only]) == [41]


def test_empty_and_odd_cards() -> None:
    empty = card(50, "", "")
    assert related_cards(empty, ALL) == []
    assert related_cards(ECB, []) == []
    assert related_cards(ECB, [empty, card(51, "2024 2025", "12 % 3.5 $4")]) == []
    # Naive and zone-aware times side by side (an old row, a new one) do not raise.
    naive = _naive_copy(BOE, 60)
    assert set(related_cards(ECB, [naive, FED, BOE])) == {60, BOE.id, FED.id}


def _naive_copy(source: Card, card_id: int) -> Card:
    """``source`` as another story's card, with naive times."""
    return Card(
        id=card_id,
        story_id=card_id,
        title=source.title,
        url=source.url,
        source=source.source,
        published_at=datetime(2026, 3, 1, 9),
        category=source.category,
        summary=source.summary,
        takeaways=source.takeaways,
        why_it_matters="",
        faq=(),
        engine="offline",
        created_at=datetime(2026, 3, 1, 9),
    )


def test_german_cards() -> None:
    query = card(
        70,
        "EZB senkt den Leitzins",
        "Die Europäische Zentralbank senkt den Leitzins erstmals seit fünf Jahren.",
    )
    similar = card(71, "Leitzins: EZB-Rat berät", "Der Leitzins der Zentralbank bleibt Thema.")
    other = card(72, "Bayern gewinnt in Dortmund", "Der FC Bayern siegt mit 3:1.")
    assert related_cards(query, [similar, other]) == [71]


def test_five_hundred_candidates() -> None:
    """Not a timing assertion (machines differ): prints the cost for the report."""
    pool = [
        card(1000 + i, f"{c.title} ({i})", c.summary, c.takeaways, hours=i % 48)
        for i, c in enumerate(ALL * 50)
    ]
    related_cards(ECB, pool)  # fill the vector cache, as a running bot would have it
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        found = related_cards(ECB, pool)
    per_call = (time.perf_counter() - started) / runs
    print(f"related_cards over {len(pool)} candidates: {per_call * 1e6:.0f} µs per call")
    assert len(found) == 3
