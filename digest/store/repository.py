"""The repository: every read and write the core makes, in short transactions.

Called by ``digest.service`` (and tests). Rows never leave this module: callers get the
frozen values of ``digest.models``. Database errors are wrapped into ``StorageError``.

Correctness under concurrency comes from the database, not from callers being careful:
unique constraints make a second article or card row impossible, and feeds are *claimed*
for a poll with a compare-and-set on ``next_poll_at`` so two processes never poll one feed
at the same moment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Engine, Table, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import DuplicateFeed, NotFound, StorageError
from digest.models import Feed, NewArticle
from digest.ports import Clock
from digest.store.cards import CardQueries
from digest.store.convert import to_feed
from digest.store.db import transaction
from digest.store.tables import ArticleRow, CardRow, FeedRow, StoryRow


class StoryMatcher(Protocol):
    """What the repository needs from the clustering index (``digest.ingest.cluster``).

    ``seen_up_to`` is the highest article id the index holds: ``store_entries`` first adds
    the articles other processes stored since, so every process clusters against them all.
    """

    seen_up_to: int

    def find(self, feed_id: int, title: str, text: str) -> int | None: ...

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None: ...


# Core tables, for bulk statements that need none of the ORM's per-row work.
# Any constant: it only has to be the same in every process of this project.
_STORY_LOCK_KEY = 7_419_305_119
_FEEDS = cast(Table, FeedRow.__table__)
_STORIES = cast(Table, StoryRow.__table__)
_ARTICLES = cast(Table, ArticleRow.__table__)
_CARDS = cast(Table, CardRow.__table__)


def url_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class Repository(CardQueries):
    """Feeds, articles and stories here; stories' cards in ``CardQueries``."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self._sessions)

    # -- feeds -------------------------------------------------------------------------

    def add_feed(self, url: str, title: str | None = None) -> Feed:
        """Store a new feed, due for polling now. Raises ``DuplicateFeed``."""
        now = self._clock.now()
        row = FeedRow(
            url=url,
            url_hash=url_hash(url),
            title=title,
            next_poll_at=now,
            consecutive_failures=0,
            disabled=False,
            created_at=now,
        )
        try:
            with self._session() as s:
                s.add(row)
                s.flush()
                return to_feed(row)
        except StorageError as e:
            if isinstance(e.__cause__, IntegrityError):
                raise DuplicateFeed(f"feed already added: {url}") from None
            raise

    def find_feed(self, ref: str | int) -> Feed:
        """A feed by id or by URL. Raises ``NotFound``."""
        with self._session() as s:
            row = _find_feed_row(s, ref)
            return to_feed(row)

    def list_feeds(self) -> list[Feed]:
        with self._session() as s:
            return [to_feed(r) for r in s.scalars(select(FeedRow).order_by(FeedRow.id))]

    def remove_feed(self, ref: str | int) -> Feed:
        """Delete a feed and its articles; stories left with no article go too (with cards)."""
        with self._session() as s:
            row = _find_feed_row(s, ref)
            feed = to_feed(row)
            story_ids = select(ArticleRow.story_id).where(ArticleRow.feed_id == row.id)
            affected = list(s.scalars(story_ids.distinct()))
            s.execute(delete(ArticleRow).where(ArticleRow.feed_id == row.id))
            s.delete(row)
            if affected:
                still_used = select(ArticleRow.story_id).where(ArticleRow.story_id.in_(affected))
                orphans = set(affected) - set(s.scalars(still_used))
                if orphans:
                    s.execute(delete(CardRow).where(CardRow.story_id.in_(orphans)))
                    s.execute(delete(StoryRow).where(StoryRow.id.in_(orphans)))
            return feed

    def enable_feed(self, ref: str | int) -> Feed:
        """Re-enable a disabled feed and make it due now."""
        with self._session() as s:
            row = _find_feed_row(s, ref)
            row.disabled = False
            row.consecutive_failures = 0
            row.next_poll_at = self._clock.now()
            return to_feed(row)

    def claim_due_feeds(
        self, *, force: bool = False, lease: timedelta, feed_ids: Sequence[int] | None = None
    ) -> list[Feed]:
        """Feeds to poll now, each claimed by pushing ``next_poll_at`` out by ``lease``.

        The claim is a compare-and-set, so of two processes asking at once only one gets a
        given feed; a process that dies mid-poll loses its claim when the lease runs out.
        ``force`` claims every enabled feed whatever its schedule; ``feed_ids`` narrows the
        claim to those feeds.
        """
        now = self._clock.now()
        # One UPDATE ... RETURNING claims them all. Two processes cannot both claim a feed:
        # PostgreSQL re-checks the WHERE clause of a row another transaction just updated,
        # and SQLite runs one writer at a time.
        free = (_FEEDS.c.claimed_until.is_(None)) | (_FEEDS.c.claimed_until <= now)
        claim = update(_FEEDS).where(_FEEDS.c.disabled.is_(False), free)
        if not force:
            claim = claim.where(_FEEDS.c.next_poll_at <= now)
        if feed_ids is not None:
            claim = claim.where(_FEEDS.c.id.in_(list(feed_ids)))
        with self._session() as s:
            rows = s.execute(claim.values(claimed_until=now + lease).returning(*_FEEDS.c)).all()
        return sorted((to_feed(row) for row in rows), key=_poll_order)

    def record_not_modified(self, feed_id: int, *, next_poll_at: datetime) -> None:
        """A 304: the feed is unchanged. Releases the claim."""
        with self._session() as s:
            s.execute(
                update(_FEEDS)
                .where(_FEEDS.c.id == feed_id)
                .values(
                    claimed_until=None,
                    next_poll_at=next_poll_at,
                    last_polled_at=self._clock.now(),
                    consecutive_failures=0,
                    last_error=None,
                )
            )

    def record_failure(
        self, feed_id: int, *, error: str, next_poll_at: datetime, disable: bool
    ) -> None:
        """A failed poll: counts it, keeps the reason, and releases the claim."""
        with self._session() as s:
            s.execute(
                update(_FEEDS)
                .where(_FEEDS.c.id == feed_id)
                .values(
                    claimed_until=None,
                    next_poll_at=next_poll_at,
                    last_polled_at=self._clock.now(),
                    consecutive_failures=_FEEDS.c.consecutive_failures + 1,
                    last_error=error,
                    disabled=disable,
                )
            )

    def store_entries(
        self,
        feed_id: int,
        articles: Sequence[NewArticle],
        matcher: StoryMatcher,
        *,
        feed_title: str | None,
        etag: str | None,
        last_modified: str | None,
        next_poll_at: datetime,
    ) -> tuple[int, int]:
        """Store a successful poll in one transaction: the feed's new state and every new
        article, each joined to a story (an existing one when ``matcher`` or an identical URL
        from another feed says so, else a new one). Returns (new articles, new stories).

        Entries already stored (same entry key, or same canonical URL, in this feed) are
        skipped; so are repeats inside ``articles``.
        """
        now = self._clock.now()
        with self._session() as s:
            # Story assignment is serialised across processes (PostgreSQL: an advisory lock;
            # SQLite: the write lock, taken now by a no-op write) and starts by catching up
            # with articles others stored, so two processes never split one event.
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _STORY_LOCK_KEY})
            else:
                s.execute(update(_FEEDS).where(_FEEDS.c.id == feed_id).values(id=feed_id))
            _catch_up(s, matcher)
            keyed = [(url_hash(a.entry_key), url_hash(a.url), a) for a in articles]
            known = _known_hashes(s, feed_id, keyed)
            fresh = []
            for entry_h, url_h, article in keyed:
                if entry_h not in known and url_h not in known:
                    known.update((entry_h, url_h))
                    fresh.append((entry_h, url_h, article))
            # Bulk statements: one poll of a big feed is a handful of round trips, not
            # several per entry. Within one feed's batch no article can join a story made by
            # another article of the batch (stories never hold two articles of one feed), so
            # every story is decided before anything is written.
            same_url = _stories_with_urls(s, feed_id, [u for _, u, _ in fresh])
            story_ids: list[int | None] = []
            taken: set[int] = set()  # a story takes one article of this feed, not two
            for _, url_h, article in fresh:
                found = same_url.get(url_h) or matcher.find(feed_id, article.title, article.text)
                story_ids.append(None if found in taken else found)
                if found is not None:
                    taken.add(found)
            created = [i for i, story_id in enumerate(story_ids) if story_id is None]
            if created:
                new_ids = s.execute(
                    insert(_STORIES).returning(_STORIES.c.id, sort_by_parameter_order=True),
                    [
                        {"title": fresh[i][2].title, "created_at": now, "updated_at": now}
                        for i in created
                    ],
                ).scalars()
                for i, story_id in zip(created, new_ids, strict=True):
                    story_ids[i] = story_id
            joined = {sid for sid in story_ids if sid is not None} - {story_ids[i] for i in created}
            if joined:
                s.execute(update(StoryRow).where(StoryRow.id.in_(joined)).values(updated_at=now))
            if fresh:
                inserted = s.execute(
                    insert(_ARTICLES).returning(_ARTICLES.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "feed_id": feed_id,
                            "story_id": story_id,
                            "entry_key": article.entry_key,
                            "entry_hash": entry_h,
                            "url": article.url,
                            "url_hash": url_h,
                            "title": article.title,
                            "author": article.author,
                            "published_at": article.published_at,
                            "text": article.text,
                            "image_url": article.image_url,
                            "created_at": now,
                        }
                        for (entry_h, url_h, article), story_id in zip(
                            fresh, story_ids, strict=True
                        )
                    ],
                ).scalars()
                # Under the lock nobody else inserts articles, so these are the newest ids.
                matcher.seen_up_to = max(matcher.seen_up_to, *inserted)
            s.execute(
                update(_FEEDS)
                .where(_FEEDS.c.id == feed_id)
                .values(
                    claimed_until=None,
                    title=func.coalesce(feed_title, _FEEDS.c.title),
                    etag=etag,
                    last_modified=last_modified,
                    next_poll_at=next_poll_at,
                    last_polled_at=now,
                    consecutive_failures=0,
                    last_error=None,
                )
            )
        for (_, _, article), story_id in zip(fresh, story_ids, strict=True):
            assert story_id is not None
            matcher.add(story_id, feed_id, article.title, article.text)
        return len(fresh), len(created)

    def unseen_entries(self, feed_id: int, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (entry key, canonical URL) pairs of ``keys`` not stored for this feed yet,
        so the poller fetches full text only for new entries."""
        with self._session() as s:
            hashed = [(url_hash(e), url_hash(u), (e, u)) for e, u in keys]
            known = _known_hashes(s, feed_id, hashed)
        return {pair for e_h, u_h, pair in hashed if e_h not in known and u_h not in known}

    def newest_article_id(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.max(_ARTICLES.c.id))) or 0)

    def recent_articles(self, since: datetime) -> Iterator[tuple[int, int, int, str, str]]:
        """(article_id, story_id, feed_id, title, text) of articles stored since ``since``,
        in id order; the poller builds its clustering index from these."""
        with self._session() as s:
            query = select(
                _ARTICLES.c.id,
                _ARTICLES.c.story_id,
                _ARTICLES.c.feed_id,
                _ARTICLES.c.title,
                _ARTICLES.c.text,
            ).where(_ARTICLES.c.created_at >= since)
            for row in s.execute(query.order_by(_ARTICLES.c.id)):
                yield row.id, row.story_id, row.feed_id, row.title, row.text

    def counts(self) -> dict[str, int]:
        """Row counts for status output and tests."""
        with self._session() as s:
            return {
                name: s.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (
                    ("feeds", FeedRow),
                    ("articles", ArticleRow),
                    ("stories", StoryRow),
                    ("cards", CardRow),
                )
            }


# -- helpers -----------------------------------------------------------------------------


def _poll_order(feed: Feed) -> tuple[datetime, int]:
    """Most overdue first."""
    return (feed.next_poll_at or datetime.min.replace(tzinfo=UTC), feed.id)


def _find_feed_row(s: Session, ref: str | int) -> FeedRow:
    row: FeedRow | None
    if isinstance(ref, int) or str(ref).isdigit():
        row = s.get(FeedRow, int(ref))
    else:
        row = s.scalars(select(FeedRow).where(FeedRow.url_hash == url_hash(str(ref)))).first()
    if row is None:
        raise NotFound(f"no feed {ref!s}; `digest feeds list` shows the feeds")
    return row


def _known_hashes(s: Session, feed_id: int, keyed: Sequence[tuple[str, str, object]]) -> set[str]:
    """Entry and URL hashes of this feed's articles already stored, among ``keyed``."""
    entry_hashes = [k[0] for k in keyed]
    url_hashes = [k[1] for k in keyed]
    known: set[str] = set()
    for start in range(0, len(keyed), 400):  # stay under SQLite's bound-parameter limit
        e_part, u_part = entry_hashes[start : start + 400], url_hashes[start : start + 400]
        rows = s.execute(
            select(ArticleRow.entry_hash, ArticleRow.url_hash).where(
                ArticleRow.feed_id == feed_id,
                ArticleRow.entry_hash.in_(e_part) | ArticleRow.url_hash.in_(u_part),
            )
        )
        for e, u in rows:
            known.update((e, u))
    return known


def _catch_up(s: Session, matcher: StoryMatcher) -> None:
    """Add to ``matcher`` the articles stored (by any process) since it was last told."""
    rows = s.execute(
        select(
            _ARTICLES.c.id,
            _ARTICLES.c.story_id,
            _ARTICLES.c.feed_id,
            _ARTICLES.c.title,
            _ARTICLES.c.text,
        )
        .where(_ARTICLES.c.id > matcher.seen_up_to)
        .order_by(_ARTICLES.c.id)
    )
    for article_id, story_id, feed_id, title, body in rows:
        matcher.add(story_id, feed_id, title, body)
        matcher.seen_up_to = article_id


def _stories_with_urls(s: Session, feed_id: int, url_hashes: Sequence[str]) -> dict[str, int]:
    """Stories of the same articles (same canonical URL) already seen in other feeds."""
    found: dict[str, int] = {}
    for start in range(0, len(url_hashes), 400):  # stay under SQLite's bound-parameter limit
        rows = s.execute(
            select(ArticleRow.url_hash, ArticleRow.story_id).where(
                ArticleRow.url_hash.in_(url_hashes[start : start + 400]),
                ArticleRow.feed_id != feed_id,
            )
        )
        for url_h, story_id in rows:
            found.setdefault(url_h, story_id)
    return found
