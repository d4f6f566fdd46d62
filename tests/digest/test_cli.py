"""The `digest` command, run as a user would run it (click's runner, a real SQLite file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from digest import terminal
from digest.cli import main
from digest.models import Card, FaqItem

CARD_KEYS = {
    "id",
    "title",
    "url",
    "source",
    "published_at",
    "category",
    "summary",
    "takeaways",
    "why_it_matters",
    "faq",
    "sources",
    "image_url",
    "engine",
    "language",
    "checked",
    "unchecked_terms",
    "related",
}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_demo_prints_cards_and_a_second_run_duplicates_nothing(run) -> None:  # type: ignore[no-untyped-def]
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "Key takeaways" in first.output and "Why it matters" in first.output
    assert "0 failed" in first.output
    listed = json.loads(run("cards", "list", "--json", "--limit", "1000").output)
    assert listed and all(set(card) == CARD_KEYS for card in listed)
    assert any(len(card["sources"]) > 1 for card in listed), "sample stories span feeds"

    second = run("demo")
    assert second.exit_code == 0
    assert "0 new articles, 0 new stories, 0 new cards" in second.output
    again = json.loads(run("cards", "list", "--json", "--limit", "1000").output)
    assert sorted(c["id"] for c in again) == sorted(c["id"] for c in listed)

    shown = json.loads(run("cards", "show", str(listed[0]["id"]), "--json").output)
    assert shown == listed[0]
    assert len(shown["takeaways"]) == 3 and 2 <= len(shown["faq"]) <= 4
    feeds = json.loads(run("feeds", "list", "--json").output)
    assert feeds and all(f["last_error"] is None for f in feeds)


def test_expected_errors_are_one_line_without_traceback(run) -> None:  # type: ignore[no-untyped-def]
    for args, message in [
        (("feeds", "add", "not a url"), "error: "),
        (("feeds", "add", "http://10.0.0.1/feed.xml"), "error: "),
        (("cards", "show", "999"), "error: no card with id 999"),
        (("feeds", "remove", "42"), "error: no feed 42"),
    ]:
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith(message), result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_wrong_setting_stops_with_exit_code_2(run) -> None:  # type: ignore[no-untyped-def]
    result = run("cards", "list", env={"DIGEST_POLL_INTERVAL": "often"})
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: setting DIGEST_POLL_INTERVAL:")


def test_opml_import_and_export(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="One" xmlUrl="https://one.example.com/rss"/>'
        '<outline text="One again" xmlUrl="https://ONE.example.com/rss#x"/>'
        '<outline text="Bad" xmlUrl="ftp://bad.example.com/rss"/>'
        '<outline text="Private" xmlUrl="http://10.0.0.1/rss"/>'
        '<outline text="Two" xmlUrl="https://two.example.com/rss"/>'
        "</body></opml>"
    )
    result = run("feeds", "import", str(opml))
    assert result.exit_code == 0, result.output
    assert "imported 2 feeds; 1 already present; 2 invalid" in result.output
    exported = run("feeds", "export").output
    assert 'xmlUrl="https://one.example.com/rss"' in exported

    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body><outline")
    result = run("feeds", "import", str(broken))
    assert result.exit_code == 1 and "not well-formed XML" in result.output
    result = run("feeds", "import", str(tmp_path / "missing.opml"))
    assert result.exit_code != 0


def test_every_command_has_help(run) -> None:  # type: ignore[no-untyped-def]
    for args in [
        (),
        ("feeds",),
        ("feeds", "add"),
        ("cards", "show"),
        ("poll",),
        ("demo",),
        ("db",),
    ]:
        result = run(*args, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_card_text_is_never_read_as_terminal_markup() -> None:
    console = Console(record=True, width=100)
    card = Card(
        id=1,
        story_id=1,
        title="[bold red]Ignore[/bold red] this",
        url="https://x.example.com/",
        source="[link=https://evil.example.com]Src[/link]",
        published_at=None,
        category="World",
        summary="Text with [blink]tags[/blink].",
        takeaways=("[a]", "[b]", "[c]"),
        why_it_matters="[/]",
        faq=(FaqItem("[q]?", "[x]"),),
        engine="offline",
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    console.print(terminal.card_panel(card))
    text = console.export_text()
    assert "[bold red]Ignore[/bold red] this" in text
    assert "[link=https://evil.example.com]Src[/link]" in text
    assert "[blink]tags[/blink]" in text


def test_an_unusable_database_path_is_one_line(run) -> None:  # type: ignore[no-untyped-def]
    result = run("cards", "list", env={"DATABASE_URL": "sqlite:////proc/no/such/digest.db"})
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot create the folder for the SQLite file")
    assert len(result.output.strip().splitlines()) == 1


def test_a_card_panel_shows_related_cards_and_a_failed_claim_check() -> None:
    console = Console(record=True, width=120)
    card = Card(
        id=5,
        story_id=5,
        title="T",
        url="https://x.example.com/",
        source="S",
        published_at=None,
        category="World",
        summary="S.",
        takeaways=("a", "b", "c"),
        why_it_matters="W.",
        faq=(),
        engine="claude",
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
        checked=False,
        unchecked_terms=("$4 billion", "Tuesday"),
        related=(2, 3),
    )
    console.print(terminal.card_panel(card))
    text = console.export_text()
    assert "Related: card 2, card 3" in text
    assert "not found in the source: $4 billion, Tuesday" in text


def test_status_shows_feeds_errors_subscriptions_deliveries_and_spend(run) -> None:  # type: ignore[no-untyped-def]
    assert run("demo").exit_code == 0
    assert run("feeds", "add", "--no-check", "https://news.example.com/feed.xml").exit_code == 0
    assert run("subs", "add", "--platform", "telegram", "--chat", "42").exit_code == 0
    sub2 = run("subs", "add", "--platform", "discord", "--chat", "7")
    assert sub2.exit_code == 0
    assert run("subs", "pause", "2").exit_code == 0

    report = json.loads(run("status", "--json").output)
    assert report["counts"]["feeds"] == 4 and report["counts"]["cards"] >= 1
    assert report["stories_waiting_for_cards"] == 0
    assert report["subscriptions"] == {"active": 1, "paused": 1}
    assert report["feeds"] == {"failing": 0, "disabled": 0, "errors": []}
    assert report["daily_budget_usd"] == 1.0 and report["spend_today_usd"] == 0.0

    text = run("status").output
    assert "feeds: 4" in text and "subscriptions: 1 active, 1 paused" in text
    assert "model spend today (UTC): $0.0000 of $1.00 budget" in text
