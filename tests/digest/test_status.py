"""``digest status`` figures from a real database (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from digest import terminal
from digest.app import open_app
from digest.config import Settings
from digest.status import gather
from tests.digest.store.test_subscriptions import make_card, new_story


async def test_status_counts_failing_feeds_waiting_stories_and_queued_deliveries(
    db_settings: Settings,
) -> None:
    async with open_app(db_settings) as app:
        app.service.add_subscription("telegram", "42")
        make_card(app.repo, "Markets rally")  # fans out to the instant subscription
        new_story(app.repo, "No card yet")
        broken = app.repo.add_feed("https://broken.example.com/feed.xml")
        gone = app.repo.add_feed("https://gone.example.com/feed.xml")
        later = datetime(2030, 1, 1, tzinfo=UTC)
        app.repo.record_failure(broken.id, error="HTTP 500", next_poll_at=later, disable=False)
        app.repo.record_failure(gone.id, error="HTTP 410", next_poll_at=later, disable=True)

        status = gather(app)

    assert (status.feeds_failing, status.feeds_disabled) == (1, 1)
    assert {f.last_error for f in status.failing} == {"HTTP 500", "HTTP 410"}
    assert status.stories_waiting == 1
    assert status.deliveries == {"pending": 1}
    assert (status.subscriptions_active, status.subscriptions_paused) == (1, 0)

    console = Console(width=200, record=True)
    console.print(terminal.status_text(status))
    text = console.export_text()
    assert "1 failing, 1 disabled" in text and "HTTP 410" in text
    assert "1 waiting for a card" in text and "deliveries: 1 queued, 0 sent" in text
