"""One poll cycle: claim due feeds, fetch, parse, work out identity, fetch full text for
teasers, cluster into stories and store — each feed in its own transaction.

Called by ``digest.service.DigestService.poll`` (CLI ``digest poll``, the scheduler, the demo).
Never raises for a feed's own failure: it is recorded on the feed (error, backoff, disabled
after too many) and reported in the returned ``PollReport``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from digest.config import Settings
from digest.errors import DigestError, FetchError, ParseError, StorageError
from digest.ingest.cluster import StoryIndex
from digest.ingest.identity import canonical_url, entry_key
from digest.ingest.pacing import next_poll_at, should_disable
from digest.models import Feed, FetchResult, NewArticle, ParsedEntry, ParsedFeed, PollReport
from digest.ports import ArticleExtractor, Clock, FeedParser, Fetcher
from digest.store.repository import Repository

log = logging.getLogger(__name__)

# How far ahead a future-dated entry may be before its date is replaced by the time we saw it.
FUTURE_TOLERANCE = timedelta(minutes=10)
# Limits per poll of one feed: new entries stored, article pages fetched for full text.
MAX_NEW_PER_POLL = 500
MAX_PAGES_PER_POLL = 20
# An article page larger than this is not worth extracting (the feed text is kept), and no
# article keeps more text than this (a card needs the first few thousand characters).
MAX_PAGE_BYTES = 3 * 1024 * 1024
MAX_TEXT_CHARS = 100_000


class Poller:
    def __init__(
        self,
        *,
        settings: Settings,
        repo: Repository,
        fetcher: Fetcher,
        parse: FeedParser,
        extract: ArticleExtractor,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._repo = repo
        self._fetcher = fetcher
        self._parse = parse
        self._extract = extract
        self._clock = clock
        self._rng = rng or random.Random()
        self._index: TrackedIndex | None = None

    async def poll(
        self,
        *,
        force: bool = False,
        feed_ids: Sequence[int] | None = None,
        on_feed_done: Callable[[PollReport], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> list[PollReport]:
        """Poll every due feed (every enabled feed with ``force``; only ``feed_ids`` when
        given) concurrently; the fetcher's limits bound the concurrency."""
        feeds = self._repo.claim_due_feeds(force=force, lease=self.lease, feed_ids=feed_ids)
        if on_start:
            on_start(len(feeds))
        self._index = None  # rebuilt lazily: a cycle of 304s never needs it

        async def one(feed: Feed) -> PollReport:
            report = await self._poll_feed(feed)
            if on_feed_done:
                on_feed_done(report)
            return report

        return list(await asyncio.gather(*(one(f) for f in feeds)))

    @property
    def lease(self) -> timedelta:
        """How long a claimed feed stays ours: the feed's own fetch, then the article pages
        (at most ``MAX_PAGES_PER_POLL``, ``fetch_per_host`` at a time), each within the total
        timeout, with a minute to spare for parsing and storing."""
        rounds = 1 + -(-MAX_PAGES_PER_POLL // self._settings.fetch_per_host)
        return timedelta(seconds=self._settings.fetch_total_timeout * rounds + 60)

    async def _poll_feed(self, feed: Feed) -> PollReport:
        try:
            return await self._poll_feed_or_raise(feed)
        except (FetchError, ParseError) as e:
            return self._failed(feed, e)
        except StorageError as e:
            self._index = None  # it may name stories of a rolled-back transaction
            log.error("storing feed %s failed: %s", feed.id, e)
            return self._failed(feed, e)
        except Exception as e:  # a bug must cost one feed's poll, never the whole cycle
            log.exception("polling feed %s failed unexpectedly", feed.id)
            self._index = None
            return self._failed(feed, DigestError(f"internal error: {type(e).__name__}"))

    async def _poll_feed_or_raise(self, feed: Feed) -> PollReport:
        result = await self._fetcher.fetch(
            feed.url, etag=feed.etag, last_modified=feed.last_modified
        )
        if result.not_modified:
            when = self._next_poll(result, None)
            self._repo.record_not_modified(feed.id, next_poll_at=when)
            return PollReport(feed.id, feed.url, "not_modified", next_poll_at=when)
        parsed = self._parse(result.content, url=result.url, content_type=result.content_type)
        articles = await self._new_articles(feed, parsed)
        when = self._next_poll(result, parsed.ttl_minutes)
        new_articles, new_stories = self._repo.store_entries(
            feed.id,
            articles,
            self._story_index(),
            feed_title=parsed.title,
            etag=result.etag,
            last_modified=result.last_modified,
            next_poll_at=when,
        )
        if parsed.warning:
            log.info("feed %s is malformed but readable: %s", feed.id, parsed.warning)
        return PollReport(feed.id, feed.url, "ok", new_articles, new_stories, next_poll_at=when)

    def _failed(self, feed: Feed, error: DigestError) -> PollReport:
        failures = feed.consecutive_failures + 1
        disable = should_disable(failures, self._settings)
        fetch_error = error if isinstance(error, FetchError) else None
        when = next_poll_at(
            self._clock.now(),
            settings=self._settings,
            result=None,
            ttl_minutes=None,
            failures=failures,
            error=fetch_error,
            rng=self._rng,
        )
        message = str(error) or type(error).__name__
        try:
            self._repo.record_failure(feed.id, error=message, next_poll_at=when, disable=disable)
        except StorageError as e:
            log.error("could not record the failure of feed %s: %s", feed.id, e)
        # Feeds are named by id in logs: a feed URL may carry a private token.
        if disable:
            log.warning("feed %s disabled after %d failures: %s", feed.id, failures, message)
        else:
            log.info("feed %s failed (%d in a row): %s", feed.id, failures, message)
        return PollReport(feed.id, feed.url, "error", error=message, next_poll_at=when)

    def _next_poll(self, result: FetchResult, ttl_minutes: int | None) -> datetime:
        return next_poll_at(
            self._clock.now(),
            settings=self._settings,
            result=result,
            ttl_minutes=ttl_minutes,
            failures=0,
            error=None,
            rng=self._rng,
        )

    def _story_index(self) -> TrackedIndex:
        if self._index is None:
            index = TrackedIndex()
            # Older articles are out of the window: catching up must not read them either.
            index.seen_up_to = self._repo.newest_article_id()
            since = self._clock.now() - timedelta(hours=self._settings.cluster_window_hours)
            for article_id, story_id, feed_id, title, text in self._repo.recent_articles(since):
                index.add(story_id, feed_id, title, text)
                index.seen_up_to = max(index.seen_up_to, article_id)
            self._index = index
        return self._index

    async def _new_articles(self, feed: Feed, parsed: ParsedFeed) -> list[NewArticle]:
        """Entries not stored yet, ready to store; teasers get their page's full text."""
        now = self._clock.now()
        prepared = [self._prepare(feed, entry, now) for entry in parsed.entries]
        unseen = self._repo.unseen_entries(
            feed.id, [(article.entry_key, article.url) for article, _ in prepared]
        )
        fresh = [(a, e) for a, e in prepared if (a.entry_key, a.url) in unseen]
        if len(fresh) > MAX_NEW_PER_POLL:  # feeds list newest first; the rest wait or go
            log.info("feed %s: keeping %d of %d new entries", feed.id, MAX_NEW_PER_POLL, len(fresh))
            fresh = fresh[:MAX_NEW_PER_POLL]
        if not self._settings.full_text:
            return [a for a, _ in fresh]
        # A hostile feed of thousands of teasers must not make us fetch thousands of pages.
        pages = iter(range(MAX_PAGES_PER_POLL))
        return list(
            await asyncio.gather(
                *(
                    self._with_full_text(a, e)
                    if e.is_teaser and next(pages, None) is not None
                    else _same(a)
                    for a, e in fresh
                )
            )
        )

    def _prepare(
        self, feed: Feed, entry: ParsedEntry, now: datetime
    ) -> tuple[NewArticle, ParsedEntry]:
        key = entry_key(entry)
        if entry.link:
            url = canonical_url(entry.link)
        else:
            # No link: point at the feed, made unique per entry so the article still stores.
            digest = hashlib.sha256(key.encode()).hexdigest()[:16]
            url = f"{canonical_url(feed.url)}#entry-{digest}"
        published = entry.published
        if published is None or published > now + FUTURE_TOLERANCE:
            published = now  # undated or future-dated: the time we first saw it
        article = NewArticle(
            entry_key=key,
            url=url,
            title=entry.title,
            author=entry.author,
            published_at=published,
            text=entry.text[:MAX_TEXT_CHARS],
            image_url=entry.image_url,
        )
        return article, entry

    async def _with_full_text(self, article: NewArticle, entry: ParsedEntry) -> NewArticle:
        if not entry.is_teaser or not entry.link:
            return article
        try:
            page = await self._fetcher.fetch(entry.link)
        except FetchError as e:
            log.info("full text not fetched, the feed's text is kept: %s", e)
            return article
        if len(page.content) > MAX_PAGE_BYTES:
            return article
        # Extraction is CPU-bound (seconds for a huge page): off the event loop, so other
        # feeds' fetches keep their timeouts.
        extracted = await asyncio.to_thread(self._extract, page.content, url=page.url)
        if extracted is None or len(extracted.text) <= len(article.text):
            return article
        return NewArticle(
            entry_key=article.entry_key,
            url=article.url,
            title=article.title,
            author=article.author,
            published_at=article.published_at,
            text=extracted.text[:MAX_TEXT_CHARS],
            image_url=article.image_url or extracted.image_url,
        )


async def _same(article: NewArticle) -> NewArticle:
    return article


class TrackedIndex(StoryIndex):
    """A story index that knows the newest article it holds (see ``StoryMatcher``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_up_to = 0


def summarize_reports(reports: Sequence[PollReport]) -> dict[str, int]:
    """Totals for one cycle, for logs and the CLI."""
    return {
        "feeds": len(reports),
        "ok": sum(r.status == "ok" for r in reports),
        "not_modified": sum(r.status == "not_modified" for r in reports),
        "errors": sum(r.status == "error" for r in reports),
        "new_articles": sum(r.new_articles for r in reports),
        "new_stories": sum(r.new_stories for r in reports),
    }
