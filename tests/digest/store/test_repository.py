"""The repository on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from digest.errors import DuplicateFeed, NotFound
from digest.models import CardDraft, FaqItem, NewArticle
from digest.store.db import make_engine
from digest.store.migrate import is_current, upgrade
from digest.store.repository import Repository
from digest.store.tables import FeedRow
from tests.support.clock import FakeClock

LEASE = timedelta(minutes=5)


class TitleMatcher:
    """Joins articles with identical titles: enough to test the repository's side."""

    def __init__(self) -> None:
        self.stories: dict[str, tuple[int, set[int]]] = {}
        self.seen_up_to = 0

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        found = self.stories.get(title)
        return found[0] if found and feed_id not in found[1] else None

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        self.stories.setdefault(title, (story_id, set()))[1].add(feed_id)


def article(
    n: int, *, key: str | None = None, url: str | None = None, title: str | None = None
) -> NewArticle:
    return NewArticle(
        entry_key=key or f"guid-{n}",
        url=url or f"https://news.example.com/{n}",
        title=title or f"Headline {n}",
        author="Reporter",
        published_at=datetime(2026, 11, 20, 8, n % 60, tzinfo=UTC),
        text=f"Body of article {n}. It has two sentences.",
        image_url=None,
    )


def draft() -> CardDraft:
    return CardDraft(
        category="World",
        summary="A summary. Of two sentences.",
        takeaways=("one", "two", "three"),
        why_it_matters="Because.",
        faq=(FaqItem("What?", "This."), FaqItem("When?", "Now.")),
        engine="offline",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repo(database_url: str, clock: FakeClock) -> Repository:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Repository(engine, clock)
    engine.dispose()


def store(
    repo: Repository,
    feed_id: int,
    articles: list[NewArticle],
    matcher: TitleMatcher | None = None,
    title: str | None = "Feed",
) -> tuple[int, int]:
    return repo.store_entries(
        feed_id,
        articles,
        matcher or TitleMatcher(),
        feed_title=title,
        etag='"v1"',
        last_modified=None,
        next_poll_at=repo._clock.now() + timedelta(minutes=15),
    )


def test_migrations_are_current_and_idempotent(repo: Repository) -> None:
    assert is_current(repo.engine)
    upgrade(repo.engine)  # a second run changes nothing
    assert is_current(repo.engine)


def test_adding_the_same_feed_twice_keeps_one_row(repo: Repository) -> None:
    feed = repo.add_feed("https://example.com/feed.xml", "Example")
    with pytest.raises(DuplicateFeed, match="already added"):
        repo.add_feed("https://example.com/feed.xml")
    assert [f.id for f in repo.list_feeds()] == [feed.id]
    assert repo.find_feed(feed.id).title == "Example"
    assert repo.find_feed("https://example.com/feed.xml").id == feed.id
    with pytest.raises(NotFound):
        repo.find_feed(999)


def test_datetimes_come_back_aware_utc(repo: Repository, clock: FakeClock) -> None:
    feed = repo.add_feed("https://example.com/a.xml")
    assert feed.next_poll_at == clock.now()
    assert feed.next_poll_at.tzinfo is not None


def test_claim_due_feeds_is_exclusive_until_the_lease_runs_out(
    repo: Repository, clock: FakeClock
) -> None:
    a = repo.add_feed("https://example.com/a.xml")
    b = repo.add_feed("https://example.com/b.xml")
    assert {f.id for f in repo.claim_due_feeds(lease=LEASE)} == {a.id, b.id}
    assert repo.claim_due_feeds(lease=LEASE) == []
    clock.advance(minutes=6)
    assert {f.id for f in repo.claim_due_feeds(lease=LEASE)} == {a.id, b.id}
    # force ignores the schedule, never another poller's claim
    assert repo.claim_due_feeds(lease=LEASE, force=True, feed_ids=[b.id]) == []
    repo.record_not_modified(b.id, next_poll_at=clock.now() + timedelta(hours=1))
    assert repo.claim_due_feeds(lease=LEASE) == []
    assert [f.id for f in repo.claim_due_feeds(lease=LEASE, force=True, feed_ids=[b.id])] == [b.id]


def test_disabled_feeds_are_not_claimed_until_enabled(repo: Repository, clock: FakeClock) -> None:
    feed = repo.add_feed("https://example.com/a.xml")
    repo.record_failure(feed.id, error="HTTP 500", next_poll_at=clock.now(), disable=True)
    assert repo.claim_due_feeds(lease=LEASE, force=True) == []
    stored = repo.find_feed(feed.id)
    assert stored.disabled and stored.consecutive_failures == 1 and stored.last_error == "HTTP 500"
    repo.enable_feed(feed.id)
    assert [f.id for f in repo.claim_due_feeds(lease=LEASE)] == [feed.id]


def test_the_same_entries_polled_twice_are_stored_once(repo: Repository) -> None:
    feed = repo.add_feed("https://example.com/a.xml")
    assert store(repo, feed.id, [article(1), article(2)]) == (2, 2)
    assert store(repo, feed.id, [article(1), article(2)]) == (0, 0)
    # a guid that changes while the canonical URL stays is the same article
    assert store(repo, feed.id, [article(1, key="new-guid-1")]) == (0, 0)
    # repeats inside one batch are stored once
    assert store(repo, feed.id, [article(3), article(3)]) == (1, 1)
    assert repo.counts()["articles"] == 3
    stored = repo.find_feed(feed.id)
    assert stored.etag == '"v1"' and stored.title == "Feed" and stored.consecutive_failures == 0


def test_unseen_entries_lists_only_new_pairs(repo: Repository) -> None:
    feed = repo.add_feed("https://example.com/a.xml")
    store(repo, feed.id, [article(1)])
    old = (article(1).entry_key, article(1).url)
    new = (article(2).entry_key, article(2).url)
    same_url = ("other-guid", article(1).url)
    assert repo.unseen_entries(feed.id, [old, new, same_url]) == {new}


def test_articles_from_two_feeds_join_one_story(repo: Repository) -> None:
    a = repo.add_feed("https://a.example.com/feed")
    b = repo.add_feed("https://b.example.com/feed")
    matcher = TitleMatcher()
    store(repo, a.id, [article(1, title="Same event")], matcher, title="A News")
    assert store(repo, b.id, [article(2, title="Same event")], matcher, title="B News") == (1, 0)
    # the same canonical URL carried by a third feed joins without the matcher
    c = repo.add_feed("https://c.example.com/feed")
    assert store(repo, c.id, [article(1, key="c-guid")], TitleMatcher(), title="C News") == (1, 0)
    stories = repo.stories_without_cards()
    assert len(stories) == 1
    # the earliest published article leads; the rest follow in publication order
    assert [s.name for s in stories[0].sources] == ["A News", "C News", "B News"]


def test_a_story_gets_one_card(repo: Repository) -> None:
    feed = repo.add_feed("https://example.com/a.xml")
    store(repo, feed.id, [article(1)])
    (story,) = repo.stories_without_cards()
    card_id = repo.save_card(story.id, draft())
    assert card_id is not None
    assert repo.save_card(story.id, draft()) is None
    assert repo.stories_without_cards() == []
    got = repo.get_card(card_id)
    assert got.title == "Headline 1" and got.source == "Feed"
    assert got.takeaways == ("one", "two", "three")
    assert got.faq[0] == FaqItem("What?", "This.")
    assert [c.id for c in repo.list_cards()] == [card_id]
    with pytest.raises(NotFound):
        repo.get_card(card_id + 100)


def test_removing_a_feed_keeps_stories_other_feeds_share(repo: Repository) -> None:
    a = repo.add_feed("https://a.example.com/feed")
    b = repo.add_feed("https://b.example.com/feed")
    matcher = TitleMatcher()
    store(repo, a.id, [article(1, title="Shared"), article(2, title="Only A")], matcher)
    store(repo, b.id, [article(3, title="Shared")], matcher)
    for story in repo.stories_without_cards():
        repo.save_card(story.id, draft())
    repo.remove_feed(a.id)
    counts = repo.counts()
    assert counts == {"feeds": 1, "articles": 1, "stories": 1, "cards": 1}
    (card,) = repo.list_cards()
    assert card.title == "Shared" and card.url == "https://news.example.com/3"


def test_two_processes_claiming_at_once_never_share_a_feed(
    database_url: str, clock: FakeClock
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    setup = Repository(engine, clock)
    for n in range(40):
        setup.add_feed(f"https://example.com/{n}.xml")
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def claim() -> None:
        repo = Repository(make_engine(database_url), clock)
        barrier.wait()
        results.append([f.id for f in repo.claim_due_feeds(lease=LEASE)])
        repo.engine.dispose()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = results
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40
    engine.dispose()


def test_two_processes_can_share_one_sqlite_file(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """The CLI and a running bot write the same file: WAL lets readers on, and the busy
    timeout makes a second writer wait instead of failing with "database is locked"."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = make_engine(url)
    upgrade(first)
    with first.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        repo = Repository(make_engine(url), clock)
        try:
            feed = repo.add_feed(f"https://example.com/{n}.xml")
            for batch in range(20):
                store(repo, feed.id, [article(batch * 10 + i) for i in range(10)])
        except BaseException as e:  # collected and asserted below
            errors.append(e)
        finally:
            repo.engine.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    with first.connect() as reader:
        reader.exec_driver_sql("BEGIN")
        reader.exec_driver_sql("SELECT count(*) FROM articles").scalar()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reader.exec_driver_sql("COMMIT")
    assert errors == []
    assert Repository(first, clock).counts()["articles"] == 600
    first.dispose()


def test_a_claim_waits_for_another_process_claim_in_flight(
    database_url: str, clock: FakeClock
) -> None:
    """Another process has claimed every feed in a transaction not yet committed: our claim
    must wait for it and then find nothing, not claim the same feeds (PostgreSQL re-checks
    the WHERE clause after the row lock; SQLite makes the second writer wait)."""
    engine = make_engine(database_url)
    upgrade(engine)
    repo = Repository(engine, clock)
    for n in range(5):
        repo.add_feed(f"https://example.com/{n}.xml")
    other = make_engine(database_url)
    results: list[list[int]] = []
    with other.connect() as conn:
        transaction = conn.begin()
        held = conn.execute(
            update(FeedRow)
            .where(FeedRow.disabled.is_(False), FeedRow.next_poll_at <= clock.now())
            .values(claimed_until=clock.now() + LEASE)
            .returning(FeedRow.id)
        ).all()
        assert len(held) == 5
        waiting = threading.Thread(
            target=lambda: results.append([f.id for f in repo.claim_due_feeds(lease=LEASE)])
        )
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # blocked behind the other claim
        transaction.commit()
    waiting.join(timeout=30)
    assert results == [[]]
    other.dispose()
    engine.dispose()
