"""``digest subs``: which chats get which cards, instantly or as digests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from digest import terminal
from digest.app import App
from digest.cli_runner import command
from digest.errors import InputError
from digest.models import Subscription
from digest.subscription_text import (
    delivery_text,
    destination_text,
    filters_text,
    subscription_json,
    summary,
)
from digest.subscriptions import SubscriptionOptions


@click.group()
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
