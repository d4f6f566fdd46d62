"""`digest subs`, run as an operator would run it (click's runner, a real SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import main


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def listed(run) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    result = run("subs", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_add_list_update_pause_resume_remove(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")  # one table row per subscription
    assert "No subscriptions yet" in run("subs", "list").output
    added = run(
        "subs", "add", "--platform", "telegram", "--chat", "-100123", "--thread", "7",
        "--label", "Team [b]news[/b]", "--topics", "business,tech", "--include", "AI,chips",
        "--exclude", "sponsored", "--mode", "digest", "--times", "08:00,18:30",
        "--days", "mon-fri", "--tz", "Europe/Berlin", "--max-cards", "5", "--language", "de",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.startswith("added subscription 1: telegram chat -100123 thread 7")
    assert "digest 08:00, 18:30 mon-fri Europe/Berlin, up to 5 cards, next " in added.output
    [sub] = listed(run)
    assert sub["topics"] == ["Business", "Technology"] and sub["include"] == ["AI", "chips"]
    assert sub["schedule"] == "0 8 * * mon-fri;30 18 * * mon-fri"
    assert (sub["timezone"], sub["max_cards"], sub["language"]) == ("Europe/Berlin", 5, "de")
    assert sub["thread"] == "7" and sub["active"] is True and sub["next_digest"]
    table = run("subs", "list").output
    assert "Team [b]news[/b]" in table and "Business, Technology" in table  # not markup

    updated = run("subs", "update", "1", "--mode", "instant", "--quiet", "22:00-07:00")
    assert updated.exit_code == 0, updated.output
    assert "instant, quiet 22:00-07:00 Europe/Berlin" in updated.output
    assert listed(run)[0]["topics"] == ["Business", "Technology"]  # unchanged

    paused = run("subs", "pause", "1", "--reason", "holiday")
    assert paused.output.startswith("paused subscription 1:")
    assert listed(run)[0]["paused_reason"] == "holiday"
    assert "paused: holiday" in run("subs", "list").output
    assert run("subs", "resume", "1").output.startswith("resumed subscription 1:")
    assert listed(run)[0]["active"] is True

    second = run("subs", "add", "--platform", "discord", "--chat", "42", "--cron", "0 8 * * 1-5")
    assert second.exit_code == 0, second.output
    assert "instant" in second.output  # a schedule alone does not switch the mode
    assert [s["platform"] for s in listed(run)] == ["telegram", "discord"]
    assert listed(run)[1]["schedule"] == "0 8 * * mon-fri"  # crontab's 1-5
    assert [
        s["id"] for s in json.loads(run("subs", "list", "--json", "--platform", "discord").output)
    ] == [2]

    assert run("subs", "remove", "2").output.startswith("removed subscription 2: discord chat 42")
    assert len(listed(run)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tz", "Mars/Olympus"), "error: unknown time zone 'Mars/Olympus'"),
        (("--times", "25:00"), "error: impossible time '25:00'"),
        (("--times", "8:61"), "error: impossible time '8:61'"),
        (("--cron", "0 0 8 * * *"), "error: a cron expression has 5 fields"),
        (("--topics", ""), "error: give at least one topic"),
        (("--topics", ",,"), "error: give at least one topic"),
        (("--topics", "Gossip"), "error: unknown topic 'Gossip'; topics: World, Policy"),
        (("--max-cards", "0"), "error: max cards must be a whole number from 1 to 50"),
        (("--max-cards", "51"), "error: max cards must be a whole number from 1 to 50"),
        (("--mode", "weekly"), "error: mode must be instant or digest"),
        (("--cron", "0 8 * * *", "--times", "09:00"), "error: give either --times/--days"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(run, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run("subs", "add", "--platform", "telegram", "--chat", "1", *args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert listed(run) == []


def test_the_same_destination_twice_and_unknown_ids(run) -> None:  # type: ignore[no-untyped-def]
    assert run("subs", "add", "--platform", "telegram", "--chat", "1").exit_code == 0
    again = run("subs", "add", "--platform", "telegram", "--chat", "1", "--mode", "digest")
    assert again.exit_code == 1
    assert again.output.strip() == (
        "error: telegram chat 1 already has subscription 1; change it with `digest subs update 1`"
    )
    for command in ("remove", "pause", "resume"):
        result = run("subs", command, "9")
        assert result.exit_code == 1 and result.output.startswith("error: no subscription 9")
    bad = run("subs", "remove", "abc")
    assert bad.exit_code == 1 and bad.output.startswith("error: give a subscription id")
    update = run("subs", "update", "1", "--times", "24:00")
    assert update.exit_code == 1 and update.output.startswith("error: impossible time")


def test_every_subs_command_has_help(run) -> None:  # type: ignore[no-untyped-def]
    for command in ("list", "add", "update", "remove", "pause", "resume"):
        result = run("subs", command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output
    assert "--max-cards" in run("subs", "add", "--help").output
