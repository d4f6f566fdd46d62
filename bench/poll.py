"""Poll benchmark: poll 500 local feeds of 50 entries and compare with feedparser alone.

Prints the cold cycle (everything new), the warm cycle (every feed answers 304), and the
ratio of the cold cycle's CPU time to the CPU time feedparser alone needs for the same bytes,
measured in the same run. CPU time is this process's (`time.process_time`); the feed server
runs in another process.
"""

from __future__ import annotations

import asyncio
import io
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedparser

from bench.feeds import feed_xml
from digest.app import open_app
from digest.config import Settings
from digest.poller import summarize_reports

FEEDS = 500
ENTRIES = 50


def parse_floor(count: int) -> float:
    """CPU seconds feedparser alone takes to parse every benchmark document."""
    documents = [feed_xml(n, ENTRIES) for n in range(count)]
    start = time.process_time()
    for doc in documents:
        feedparser.parse(io.BytesIO(doc))
    return time.process_time() - start


async def poll_cycles(port: int, folder: Path, count: int) -> dict[str, float]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder / 'bench.db'}",
        allow_private_networks=True,  # the feeds are on 127.0.0.1
        fetch_per_host=20,  # every feed shares one host here; real feeds spread out
        fetch_concurrency=20,
        full_text=False,
    )
    figures: dict[str, float] = {}
    async with open_app(settings) as app:
        for n in range(count):
            app.service.add_feed_unchecked(f"http://127.0.0.1:{port}/feed/{n}.xml")
        for label in ("cold", "warm"):
            wall, cpu = time.perf_counter(), time.process_time()
            reports = await app.service.poll(force=True)
            figures[f"{label}_wall"] = time.perf_counter() - wall
            figures[f"{label}_cpu"] = time.process_time() - cpu
            totals = summarize_reports(reports)
            figures[f"{label}_articles"] = totals["new_articles"]
            figures[f"{label}_errors"] = totals["errors"]
            figures[f"{label}_not_modified"] = totals["not_modified"]
        wall, cpu = time.perf_counter(), time.process_time()
        cards = await app.service.make_cards(limit=1000)
        figures["cards_cpu"] = time.process_time() - cpu
        figures["cards_wall"] = time.perf_counter() - wall
        figures["cards"] = len(cards)
        # Peak resident memory of the whole run (ru_maxrss is in KiB on Linux).
        figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main(count: int = FEEDS) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.feed_server", str(count)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory() as folder:
            f = asyncio.run(poll_cycles(port, Path(folder), count))
        floor = parse_floor(count)
    finally:
        server.terminate()
        server.wait()
    entries = count * ENTRIES
    print(f"poll benchmark: {count} feeds x {ENTRIES} entries on 127.0.0.1 (SQLite)")
    print(f"  feedparser alone (parse floor): {floor:7.2f} s CPU")
    print(
        f"  cold cycle: {f['cold_wall']:7.2f} s wall, {f['cold_cpu']:7.2f} s CPU,"
        f" {f['cold_articles']:.0f}/{entries} articles stored, {f['cold_errors']:.0f} errors"
    )
    print(
        f"  warm cycle: {f['warm_wall']:7.2f} s wall, {f['warm_cpu']:7.2f} s CPU,"
        f" {f['warm_not_modified']:.0f}/{count} answered 304, {f['warm_articles']:.0f} new"
    )
    print(f"  cold CPU / parse floor: {f['cold_cpu'] / floor:5.2f}x  (aim <= 1.5x)")
    print(f"  warm wall / cold wall:  {100 * f['warm_wall'] / f['cold_wall']:5.1f}%  (aim <= 5%)")
    print(
        f"  cards written after the cold cycle (offline engine, related cards, storage):"
        f" {f['cards']:.0f} in {f['cards_cpu']:.2f} s CPU"
        f" = {f['cards'] / max(f['cards_cpu'], 1e-9):.0f} cards/s"
    )
    print(f"  peak resident memory of the benchmark process: {f['peak_rss_mib']:.0f} MiB")
