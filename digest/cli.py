"""The ``digest`` command.

Each command reads settings, opens the app (``digest.app.open_app``), does one thing and
exits. Expected failures print one line starting with ``error:`` and exit 1 (2 for a bad
setting); there is no traceback unless ``DIGEST_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from digest import terminal
from digest.app import App
from digest.cli_runner import command, offline_command
from digest.cli_subs import subs
from digest.errors import DuplicateFeed, InputError
from digest.models import Feed, PollReport
from digest.poller import summarize_reports
from digest.sample_feeds import sample_feed_urls
from digest.status import gather
from digest.store.ledger import DayUsage

log = logging.getLogger("digest")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsdigest-bot")
def main() -> None:
    """News digest: feeds in, story cards out. Settings come from the environment and .env
    (see .env.example)."""


main.add_command(subs)


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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@command
async def status(app: App, as_json: bool) -> None:
    """The bot's state at a glance: feeds and their errors, stories waiting for cards,
    subscriptions, queued deliveries, today's model spend."""
    report = gather(app)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    terminal.console().print(terminal.status_text(report))


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
