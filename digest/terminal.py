"""Terminal output for the ``digest`` CLI (rich).

Every piece of feed text goes into ``rich.text.Text`` objects, never into markup strings:
an article containing ``[bold red]`` or ``[link=...]`` prints as those characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from digest.models import Answer, Card, Feed
from digest.status import Status
from digest.store.ledger import DayUsage

DISCLAIMER = "Summary generated automatically ({engine} engine); read the original: {url}"


def card_panel(card: Card) -> Panel:
    """One card as a panel: the parts and order of the card in DESIGN.md."""
    title = Text(card.title, style="bold")
    meta = Text(f"{card.category} · {card.source} · {format_time(card.published_at)}", style="dim")
    parts: list[Text] = [title, meta]
    others = [s.name for s in card.sources[1:] if s.name and s.name != card.source]
    if others:
        parts.append(Text("Also reported by " + ", ".join(dict.fromkeys(others)), style="dim"))
    parts += [Text(""), Text(card.summary), Text(""), Text("Key takeaways", style="bold")]
    parts += [Text("• " + t) for t in card.takeaways]
    parts += [Text(""), Text("Why it matters", style="bold"), Text(card.why_it_matters)]
    parts += [Text(""), Text("FAQ", style="bold")]
    for item in card.faq:
        parts += [Text("Q: " + item.question, style="italic"), Text("A: " + item.answer)]
    if card.related:
        parts += [Text(""), Text("Related: " + ", ".join(f"card {r}" for r in card.related))]
    if card.checked is False:
        terms = ", ".join(card.unchecked_terms)
        parts += [Text(f"Claim check: not found in the source: {terms}", style="yellow")]
    parts += [Text(""), Text(DISCLAIMER.format(engine=card.engine, url=card.url), style="dim")]
    return Panel(Group(*parts), title=Text(f"card {card.id}"), title_align="left", expand=True)


def feeds_table(feeds: Sequence[Feed]) -> Table:
    table = Table(show_lines=False)
    for column in ("id", "title", "url", "state", "last polled", "next poll", "last error"):
        table.add_column(column, overflow="fold")
    for f in feeds:
        if f.disabled:
            state = Text("disabled", style="red")
        elif f.consecutive_failures:
            state = Text(f"failing ({f.consecutive_failures})", style="yellow")
        else:
            state = Text("ok", style="green")
        table.add_row(
            str(f.id),
            Text(f.title or ""),
            Text(f.url),
            state,
            format_time(f.last_polled_at),
            format_time(f.next_poll_at),
            Text(f.last_error or ""),
        )
    return table


def cards_table(cards: Sequence[Card]) -> Table:
    table = Table()
    for column in ("id", "category", "source", "published", "title", "engine"):
        table.add_column(column, overflow="fold")
    for c in cards:
        table.add_row(
            str(c.id),
            c.category,
            Text(c.source),
            format_time(c.published_at),
            Text(c.title),
            c.engine,
        )
    return table


HOW_FOUND = {
    "why_it_matters": "from the card's why-it-matters",
    "faq": "from the card's FAQ",
    "model": "from the article, by the model",
    "extractive": "quoted from the article",
    "not_covered": "the article does not cover this",
}


def answer_text(answer: Answer) -> Group:
    """``digest ask``: the answer, how it was found, and its supporting quotes."""
    how = HOW_FOUND.get(answer.method, answer.method) + (" (cached)" if answer.cached else "")
    parts = [Text(answer.text), Text(""), Text(f"How: {how}", style="dim")]
    if answer.method != "extractive":  # an extractive answer's text is its quotes already
        parts += [Text(f"> {quote.text}", style="italic") for quote in answer.quotes]
    return Group(*parts)


def usage_table(rows: Sequence[DayUsage], *, days: int) -> Table:
    """``digest usage``: one line per day with model use, then the period's total."""
    table = Table(title=f"Model use, last {days} days (UTC)")
    for column in (
        "day",
        "input tokens",
        "output tokens",
        "cost (USD)",
        "cards by engine",
        "questions",
    ):
        table.add_column(
            column, justify="right" if "tokens" in column or "cost" in column else "left"
        )
    total_in = total_out = total_questions = 0
    total_cost = 0.0
    engines: dict[str, int] = {}
    for row in rows:
        table.add_row(
            row.day.isoformat(),
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"{row.cost_usd:.4f}",
            _engines(row.cards_by_engine),
            str(row.questions),
        )
        total_in += row.input_tokens
        total_out += row.output_tokens
        total_cost += row.cost_usd
        total_questions += row.questions
        for engine, count in row.cards_by_engine.items():
            engines[engine] = engines.get(engine, 0) + count
    table.add_section()
    table.add_row(
        "total",
        f"{total_in:,}",
        f"{total_out:,}",
        f"{total_cost:.4f}",
        _engines(engines),
        str(total_questions),
    )
    return table


def status_text(status: Status) -> Group:
    """``digest status``: a few lines an operator reads at a glance."""
    c = status.counts
    d = status.deliveries
    queued = d.get("pending", 0)
    problems = ", ".join(f"{d[k]} {k}" for k in ("failed", "rejected", "dropped") if d.get(k))
    lines = [
        Text(f"feeds: {c.get('feeds', 0)}", style="bold"),
        Text(
            f"  {status.feeds_failing} failing, {status.feeds_disabled} disabled",
            style="yellow" if status.feeds_failing or status.feeds_disabled else "green",
        ),
    ]
    for feed in status.failing:
        state = "disabled" if feed.disabled else f"failing ({feed.consecutive_failures})"
        lines.append(Text(f"  #{feed.id} {feed.url} — {state}: {feed.last_error or ''}"))
    lines += [
        Text(
            f"stories: {c.get('stories', 0)} ({status.stories_waiting} waiting for a card),"
            f" cards: {c.get('cards', 0)}, articles: {c.get('articles', 0)}"
        ),
        Text(
            f"subscriptions: {status.subscriptions_active} active,"
            f" {status.subscriptions_paused} paused"
        ),
        Text(
            f"deliveries: {queued} queued, {d.get('sent', 0)} sent"
            + (f", {problems}" if problems else "")
        ),
        Text(
            f"model spend today (UTC): ${status.spent_today_usd:.4f}"
            f" of ${status.budget_usd:.2f} budget",
            style="yellow" if status.spent_today_usd >= status.budget_usd > 0 else "",
        ),
    ]
    return Group(*lines)


def _engines(counts: dict[str, int]) -> str:
    return ", ".join(f"{engine} {n}" for engine, n in sorted(counts.items())) or "—"


def format_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def console(*, stderr: bool = False) -> Console:
    # highlight=False: rich would otherwise colour numbers and URLs inside article text.
    return Console(stderr=stderr, highlight=False, soft_wrap=False)
