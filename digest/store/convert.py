"""Rows to values: turning table rows into the frozen values of ``digest.models``.

Called by ``digest.store.repository`` inside its sessions; nothing here commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from digest.models import Article, Card, FaqItem, Feed, Story, Usage
from digest.store.tables import ArticleRow, CardRow, FeedRow, StoryRow

_NEVER = datetime.max.replace(tzinfo=UTC)


def to_feed(row: FeedRow | Row[Any]) -> Feed:
    """From an ORM row or a Core row of the feeds table (claims use the latter)."""
    return Feed(
        id=row.id,
        url=row.url,
        title=row.title,
        etag=row.etag,
        last_modified=row.last_modified,
        next_poll_at=row.next_poll_at,
        last_polled_at=row.last_polled_at,
        consecutive_failures=row.consecutive_failures,
        last_error=row.last_error,
        disabled=row.disabled,
    )


def _source_name(feed: FeedRow) -> str:
    if feed.title:
        return feed.title
    host = feed.url.split("://", 1)[-1].split("/", 1)[0]
    return host.removeprefix("www.")


def load_stories(s: Session, story_ids: list[int]) -> list[Story]:
    """Stories with their articles, lead (earliest published, then first stored) first."""
    if not story_ids:
        return []
    stories = {r.id: r for r in s.scalars(select(StoryRow).where(StoryRow.id.in_(story_ids)))}
    by_story: dict[int, list[Article]] = {sid: [] for sid in stories}
    rows = s.execute(
        select(ArticleRow, FeedRow)
        .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
        .where(ArticleRow.story_id.in_(story_ids))
        .order_by(ArticleRow.id)
    )
    for article, feed in rows:
        by_story[article.story_id].append(_article(article, _source_name(feed)))
    return [
        Story(
            id=sid,
            title=stories[sid].title,
            created_at=stories[sid].created_at,
            articles=tuple(sorted(by_story[sid], key=_lead_order)),
        )
        for sid in story_ids
        if sid in stories
    ]


def _lead_order(article: Article) -> tuple[datetime, int]:
    return (article.published_at or _NEVER, article.id)


def _article(row: ArticleRow, source_name: str) -> Article:
    return Article(
        id=row.id,
        feed_id=row.feed_id,
        entry_id=row.entry_key,
        url=row.url,
        title=row.title,
        author=row.author,
        published_at=row.published_at,
        text=row.text,
        image_url=row.image_url,
        story_id=row.story_id,
        source_name=source_name,
    )


def load_cards(s: Session, query: Select[CardRow]) -> list[Card]:
    rows = list(s.scalars(query))
    stories = {st.id: st for st in load_stories(s, [r.story_id for r in rows])}
    cards = []
    for row in rows:
        story = stories.get(row.story_id)
        if story is None or not story.articles:
            continue
        lead = story.lead
        cards.append(
            Card(
                id=row.id,
                story_id=row.story_id,
                title=story.title,
                url=lead.url,
                source=lead.source_name,
                published_at=lead.published_at,
                category=row.category,
                summary=row.summary,
                takeaways=tuple(row.takeaways),
                why_it_matters=row.why_it_matters,
                faq=tuple(FaqItem(f["question"], f["answer"]) for f in row.faq),
                engine=row.engine,
                created_at=row.created_at,
                sources=story.sources,
                image_url=next((a.image_url for a in story.articles if a.image_url), None),
                language=row.language,
                usage=_usage(row),
                checked=row.checked,
                unchecked_terms=tuple(row.unchecked_terms or ()),
                related=tuple(row.related or ()),
            )
        )
    return cards


def _usage(row: CardRow) -> Usage | None:
    if row.model is None:
        return None
    return Usage(
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
    )
