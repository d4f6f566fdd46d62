"""The ``digest`` command.

Each command reads settings, opens the app (``digest.app.open_app``), does one thing and
exits. Expected failures print one line starting with ``error:`` and exit 1 (2 for a bad
setting); there is no traceback unless ``DIGEST_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from digest import terminal
from digest.app import App, open_app
from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError, DuplicateFeed, InputError
from digest.models import Feed, PollReport, Subscription
from digest.poller import summarize_reports
from digest.sample_feeds import NoNetwork, SampleFetcher, sample_feed_urls
from digest.store.ledger import DayUsage
from digest.subscription_text import (
    delivery_text,
    destination_text,
    filters_text,
    subscription_json,
    summary,
)
from digest.subscriptions import SubscriptionOptions

T = TypeVar("T")
log = logging.getLogger("digest")


def _settings() -> Settings:
    settings = load_settings()
    setup_logging(settings.log_level)
    return settings


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # httpx logs every request URL at INFO; URLs can carry secrets (bot tokens in paths).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." on every start
    # trafilatura logs an ERROR for every page it cannot use; the poller already keeps the
    # feed's text then, so these lines are noise to an operator.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def _fail(message: str, code: int = 1) -> None:
    # Plain echo, not rich: one line however narrow the terminal (or pipe) is.
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def command(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T | None]:
    """Run an async command with the app open, turning expected errors into one line."""
    return _command(func, offline=False)


def offline_command(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T | None]:
    """Like ``command``, with an app that cannot reach the network nor use a model: only
    the bundled sample feeds are served, and cards are written offline."""
    return _command(func, offline=True)


def _command(
    func: Callable[..., Coroutine[Any, Any, T]], *, offline: bool
) -> Callable[..., T | None]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            settings = _settings()
        except ConfigError as e:
            _fail(str(e), 2)
            return None

        async def run() -> T:
            if offline:
                demo = settings.model_copy(update={"full_text": False, "summarizer": "offline"})
                async with open_app(demo, fetcher=SampleFetcher(NoNetwork())) as app:
                    return await func(app, *args, **kwargs)
            async with open_app(settings) as app:
                return await func(app, *args, **kwargs)

        try:
            return asyncio.run(run())
        except DigestError as e:
            if log.isEnabledFor(logging.DEBUG):
                log.exception("command failed")
            _fail(str(e))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        return None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsdigest-bot")
def main() -> None:
    """News digest: feeds in, story cards out. Settings come from the environment and .env
    (see .env.example)."""


# -- demo ------------------------------------------------------------------------------------


@main.command()
@click.option("--limit", default=6, show_default=True, help="How many cards to print in full.")
@offline_command
async def demo(app: App, limit: int) -> None:
    """Subscribe to the bundled sample feeds, poll them offline, print the cards."""
    out = terminal.console()
    feed_ids = []
    for url in sample_feed_urls():
        try:
            feed_ids.append(app.service.add_feed_unchecked(url).id)
        except DuplicateFeed:
            feed_ids.append(app.service.repo.find_feed(url).id)
    reports = await app.service.poll(force=True, feed_ids=feed_ids)
    cards = await app.service.make_cards()
    totals = summarize_reports(reports)
    click.echo(
        f"Polled {totals['feeds']} sample feeds: {totals['new_articles']} new articles,"
        f" {totals['new_stories']} new stories, {len(cards)} new cards"
        f" ({totals['not_modified']} unchanged, {totals['errors']} failed)."
    )
    shown = app.service.list_cards(limit=limit)
    for card in shown:
        out.print(terminal.card_panel(card))
    click.echo('Next: `digest cards list`, `digest cards show ID --json`, `digest ask ID "why?"`.')


# -- feeds -----------------------------------------------------------------------------------


@main.group()
def feeds() -> None:
    """Manage the feeds the digest polls."""


@feeds.command("add")
@click.argument("url")
@click.option("--no-check", is_flag=True, help="Store it without fetching it first.")
@command
async def feeds_add(app: App, url: str, no_check: bool) -> None:
    """Subscribe to a feed URL (fetched once to check that it is a feed)."""
    feed = await app.service.add_feed(url, check=not no_check)
    click.echo(f"added feed {feed.id}: {feed.title or feed.url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@command
async def feeds_list(app: App, as_json: bool) -> None:
    """Show feeds with their state and last error."""
    items = app.service.list_feeds()
    if as_json:
        click.echo(json.dumps([_feed_json(f) for f in items], indent=2))
    elif not items:
        click.echo("No feeds yet. Add one with `digest feeds add URL` or try `digest demo`.")
    else:
        terminal.console().print(terminal.feeds_table(items))


@feeds.command("remove")
@click.argument("feed")
@command
async def feeds_remove(app: App, feed: str) -> None:
    """Remove a feed (by id or URL) and its articles."""
    removed = app.service.remove_feed(feed)
    click.echo(f"removed feed {removed.id}: {removed.url}")


@feeds.command("enable")
@click.argument("feed")
@command
async def feeds_enable(app: App, feed: str) -> None:
    """Re-enable a feed that was disabled after repeated failures."""
    enabled = app.service.enable_feed(feed)
    click.echo(f"enabled feed {enabled.id}; it will be polled on the next run")


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@command
async def feeds_import(app: App, file: Path) -> None:
    """Add the feeds listed in an OPML file."""
    try:
        data = file.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {file}: {e.strerror}") from e
    result = app.service.import_opml(data)
    click.echo(
        f"imported {len(result.added)} feeds; {len(result.duplicates)} already present;"
        f" {len(result.invalid)} invalid"
    )
    for url, reason in result.invalid:
        click.echo(f"  skipped {url}: {reason}")


@feeds.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@command
async def feeds_export(app: App, output: Path | None) -> None:
    """Print the feeds as OPML (or write them to a file)."""
    document = app.service.export_opml()
    if output is None:
        click.echo(document, nl=False)
    else:
        output.write_text(document, encoding="utf-8")
        click.echo(f"wrote {output}")


# -- poll and cards --------------------------------------------------------------------------


@main.command()
@click.option("--force", is_flag=True, help="Poll every enabled feed, due or not.")
@command
async def poll(app: App, force: bool) -> None:
    """Poll due feeds, store new articles and stories, and write their cards."""
    with Progress(
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        console=terminal.console(stderr=True),
    ) as progress:
        task = progress.add_task("poll", total=None)

        def started(count: int) -> None:
            progress.update(task, total=count)

        def done(_report: PollReport) -> None:
            progress.advance(task)

        reports = await app.service.poll(force=force, on_start=started, on_feed_done=done)
    cards = await app.service.make_cards()
    totals = summarize_reports(reports)
    click.echo(
        f"polled {totals['feeds']} feeds: {totals['new_articles']} new articles,"
        f" {totals['new_stories']} new stories, {len(cards)} new cards;"
        f" {totals['not_modified']} unchanged, {totals['errors']} failed"
    )
    for report in reports:
        if report.status == "error":
            click.echo(f"  feed {report.feed_id} ({report.url}): {report.error}")


@main.group()
def cards() -> None:
    """Read story cards."""


@cards.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of cards.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@command
async def cards_list(app: App, as_json: bool, limit: int) -> None:
    """The newest cards."""
    items = app.service.list_cards(limit=limit)
    if as_json:
        click.echo(json.dumps([c.to_json() for c in items], indent=2, ensure_ascii=False))
    elif not items:
        click.echo("No cards yet. Run `digest poll` (or `digest demo`).")
    else:
        terminal.console().print(terminal.cards_table(items))


@cards.command("show")
@click.argument("card_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
@command
async def cards_show(app: App, card_id: int, as_json: bool) -> None:
    """One card in full."""
    card = app.service.get_card(card_id)
    if as_json:
        click.echo(json.dumps(card.to_json(), indent=2, ensure_ascii=False))
    else:
        terminal.console().print(terminal.card_panel(card))


@main.command()
@click.argument("card_id", type=int)
@click.argument("question")
@click.option("--asker", default=None, help="Who asks (for the rate limit); default: cli:$USER.")
@command
async def ask(app: App, card_id: int, question: str, asker: str | None) -> None:
    """Ask a follow-up question about a card, e.g. digest ask 3 "why does this matter?"."""
    who = asker or f"cli:{getpass.getuser()}"
    answer = await app.service.ask(card_id, question, who)
    terminal.console().print(terminal.answer_text(answer))


@main.command()
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@command
async def usage(app: App, days: int, as_json: bool) -> None:
    """Model tokens, cost and cards by engine: today and the last days (UTC)."""
    rows = app.service.usage(days)
    if as_json:
        click.echo(json.dumps([_usage_json(r) for r in rows], indent=2))
        return
    terminal.console().print(terminal.usage_table(rows, days=days))


# -- subscriptions ---------------------------------------------------------------------------


@main.group()
def subs() -> None:
    """Manage subscriptions: which chats get which cards, instantly or as digests."""


def _subscription_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The settings ``subs add`` and ``subs update`` share; left out = default / unchanged."""
    options = [
        click.option("--label", help="A name for people, e.g. the chat's title."),
        click.option("--topics", help='Categories, comma-separated, or "all" (default).'),
        click.option("--include", help="Only cards with one of these words (comma-separated)."),
        click.option("--exclude", help="No cards with any of these words (comma-separated)."),
        click.option(
            "--mode", help="instant (default): each card as it comes; digest: on a schedule."
        ),
        click.option("--times", help='Digest times of day, e.g. "08:00,18:30" (default 08:00).'),
        click.option("--days", help='Digest days: "daily" (default), "mon-fri", "mon,wed,fri".'),
        click.option("--cron", help='Digest schedule as a cron expression, e.g. "0 8 * * 1-5".'),
        click.option("--tz", help="IANA time zone of the schedule and quiet hours (default UTC)."),
        click.option("--max-cards", help="Cards per digest, 1-50 (default 10)."),
        click.option("--language", help="The subscriber's language, e.g. German or de."),
        click.option("--quiet", help='Quiet hours for instant mode, e.g. "22:00-07:00"; "off".'),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(values: dict[str, Any]) -> SubscriptionOptions:
    return SubscriptionOptions(**{k: values[k] for k in _OPTION_NAMES})


_OPTION_NAMES = (
    "label", "topics", "include", "exclude", "mode", "times", "days", "cron", "tz",
    "max_cards", "language", "quiet",
)  # fmt: skip


def _subscription_id(ref: str) -> int:
    if not ref.strip().isdigit():
        raise InputError(f"give a subscription id, not {ref!r}; `digest subs list` shows them")
    return int(ref)


@subs.command("list")
@click.option("--platform", help="Only this platform's subscriptions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@command
async def subs_list(app: App, platform: str | None, as_json: bool) -> None:
    """Subscriptions with their filters, schedule and state."""
    items = app.service.list_subscriptions(platform=platform)
    now = datetime.now(UTC)
    if as_json:
        click.echo(json.dumps([subscription_json(s, now) for s in items], indent=2))
    elif not items:
        click.echo("No subscriptions yet. Add one with `digest subs add --platform P --chat ID`.")
    else:
        terminal.console().print(_subscriptions_table(items, now))


@subs.command("add")
@click.option("--platform", required=True, help="telegram, discord, ...")
@click.option("--chat", required=True, help="The chat or channel id.")
@click.option("--thread", help="A thread (topic) id in the chat.")
@_subscription_options
@command
async def subs_add(app: App, platform: str, chat: str, thread: str | None, **values: Any) -> None:
    """Subscribe a chat or channel. Adding a destination twice is an error: change the
    existing subscription with `digest subs update ID`."""
    sub = app.service.add_subscription(platform, chat, thread=thread, options=_options(values))
    click.echo(f"added subscription {sub.id}: {summary(sub, datetime.now(UTC))}")


@subs.command("update")
@click.argument("subscription")
@_subscription_options
@command
async def subs_update(app: App, subscription: str, **values: Any) -> None:
    """Change a subscription's mode, schedule, filters, ... (only the options given)."""
    sub = app.service.update_subscription(_subscription_id(subscription), _options(values))
    click.echo(f"updated subscription {sub.id}: {summary(sub, datetime.now(UTC))}")


@subs.command("remove")
@click.argument("subscription")
@command
async def subs_remove(app: App, subscription: str) -> None:
    """Unsubscribe (messages not yet sent are dropped)."""
    sub = app.service.remove_subscription(_subscription_id(subscription))
    click.echo(f"removed subscription {sub.id}: {destination_text(sub)}")


@subs.command("pause")
@click.argument("subscription")
@click.option("--reason", default="paused by an operator", show_default=True)
@command
async def subs_pause(app: App, subscription: str, reason: str) -> None:
    """Stop sending to a subscription for now; messages not yet sent are dropped."""
    sub = app.service.pause_subscription(_subscription_id(subscription), reason)
    click.echo(f"paused subscription {sub.id}: {destination_text(sub)}")


@subs.command("resume")
@click.argument("subscription")
@command
async def subs_resume(app: App, subscription: str) -> None:
    """Send again to a paused subscription (a digest schedule restarts now)."""
    sub = app.service.resume_subscription(_subscription_id(subscription))
    click.echo(f"resumed subscription {sub.id}: {summary(sub, datetime.now(UTC))}")


def _subscriptions_table(items: list[Subscription], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False)
    for name in ("id", "destination", "delivery", "cards", "state"):
        table.add_column(name, overflow="fold")
    for sub in items:
        state = "active" if sub.active else f"paused: {sub.paused_reason}"
        table.add_row(
            str(sub.id),
            Text(destination_text(sub)),  # Text: chat titles are never read as markup
            delivery_text(sub, now),
            Text(filters_text(sub)),
            Text(state),
        )
    return table


# -- database --------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@command
async def db_upgrade(app: App) -> None:
    """Apply database migrations (also done automatically at start)."""
    counts = app.repo.counts()
    click.echo("database is up to date: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def _usage_json(row: DayUsage) -> dict[str, Any]:
    return {
        "day": row.day.isoformat(),
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost_usd": round(row.cost_usd, 6),
        "cards_by_engine": row.cards_by_engine,
        "questions": row.questions,
    }


def _feed_json(feed: Feed) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "disabled": feed.disabled,
        "consecutive_failures": feed.consecutive_failures,
        "last_error": feed.last_error,
        "last_polled_at": feed.last_polled_at.isoformat() if feed.last_polled_at else None,
        "next_poll_at": feed.next_poll_at.isoformat() if feed.next_poll_at else None,
    }
