"""Tests of ``digest.answer``, and the sample cards and articles they share.

The articles are written for these tests in the style of wire copy: long enough for BM25 to
have real competition between sentences, with the traps news text has (quotes, figures,
names that repeat in every paragraph).
"""

from __future__ import annotations

from datetime import UTC, datetime

from digest.models import Card, FaqItem

META_ARTICLE = """\
Ireland's Data Protection Commission fined Meta Platforms €1.2 billion on Monday for \
transferring the personal data of Facebook users in the European Union to servers in the \
United States.

The penalty is the largest ever imposed under the General Data Protection Regulation, \
surpassing the €746 million fine that Luxembourg issued to Amazon in 2021.

The regulator said Meta had continued to move data across the Atlantic despite a 2020 \
ruling by the EU's top court that American surveillance laws did not adequately protect \
Europeans.

Meta was ordered to suspend the transfers within five months and to delete data already \
stored in the US within six months.

The company said it would appeal the decision and seek a stay of the orders in the Irish \
courts.

"This decision is flawed, unjustified and sets a dangerous precedent for the countless \
other companies transferring data between the EU and US," Meta's president of global \
affairs, Nick Clegg, said in a statement.

Privacy campaigner Max Schrems, whose complaint started the case a decade ago, said the \
fine could have been much higher.

Thousands of businesses rely on the same legal mechanism, known as standard contractual \
clauses, to send personal data to the United States.

Negotiators in Brussels and Washington are working on a new transatlantic data framework \
that could take effect later this year.

If the framework is adopted before the deadlines, Meta may not need to change how it \
stores data at all.

Facebook users in Europe will not notice any change to the service for now, the company said.
"""

META_CARD = Card(
    id=101,
    story_id=11,
    title="EU regulator fines Meta €1.2 billion over transfers of Facebook data to the US",
    url="https://news.example/meta-fine",
    source="Example Wire",
    published_at=datetime(2025, 5, 22, 9, 30, tzinfo=UTC),
    category="Policy",
    summary=(
        "Ireland's data regulator fined Meta €1.2 billion for sending Facebook users' data "
        "to the US. Meta must stop the transfers within five months and will appeal."
    ),
    takeaways=(
        "The €1.2 billion fine is the largest under the GDPR.",
        "Meta must suspend transfers within five months.",
        "Meta will appeal in the Irish courts.",
    ),
    why_it_matters=(
        "It is the largest fine ever issued under the GDPR, and it puts pressure on "
        "thousands of companies that move Europeans' personal data to American servers."
    ),
    faq=(
        FaqItem(
            "When will this happen?",
            "Meta has five months to suspend the transfers and six months to delete the data.",
        ),
        FaqItem(
            "Who is involved?",
            "Ireland's Data Protection Commission, acting for the EU, and Meta Platforms.",
        ),
        FaqItem(
            "What happens next?", "Meta said it would appeal the decision in the Irish courts."
        ),
        FaqItem("How much is the fine?", "€1.2 billion, the largest penalty under the GDPR."),
    ),
    engine="anthropic",
    created_at=datetime(2025, 5, 22, 9, 45, tzinfo=UTC),
)

ACME_ARTICLE = """\
Acme Robotics said on Tuesday that its chief executive, Daniel Reyes, had resigned with \
immediate effect. The board said Reyes stepped down after an internal review found that \
sales had been booked too early in three quarters. Finance chief Maria Lopez will run the \
company while the board searches for a permanent successor. Shares in Acme fell 14% in \
early trading. The review was ordered in March after an auditor raised questions about \
warehouse robot contracts signed with two logistics groups. Acme had planned to sell \
$300 million of new shares this autumn to fund a factory in Ohio. Analysts at Northfield \
Securities said the share sale was now likely to be delayed until next year. Reyes, who \
founded the company in 2014, did not respond to a request for comment.
"""

ACME_CARD = Card(
    id=202,
    story_id=22,
    title="Acme Robotics CEO resigns after accounting review",
    url="https://news.example/acme-ceo",
    source="Business Daily",
    published_at=datetime(2025, 6, 3, 13, 0, tzinfo=UTC),
    category="Business",
    summary=(
        "Acme Robotics' chief executive Daniel Reyes resigned after a review found sales "
        "booked too early. Shares fell 14%."
    ),
    takeaways=(
        "Daniel Reyes resigned with immediate effect.",
        "A review found sales booked too early in three quarters.",
        "Shares fell 14% in early trading.",
    ),
    why_it_matters=(
        "The departure leaves Acme without a permanent leader just as it needs investors "
        "to buy $300 million of new shares."
    ),
    faq=(
        FaqItem("Who is involved?", "Chief executive Daniel Reyes and the board of Acme Robotics."),
        FaqItem(
            "What happens next?", "Finance chief Maria Lopez runs Acme while the board searches."
        ),
    ),
    engine="offline",
    created_at=datetime(2025, 6, 3, 13, 5, tzinfo=UTC),
)
