"""Synthetic feeds for the benchmarks: deterministic, distinct stories, full text inline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

_VOCABULARY = """
    council budget river bridge election harbour vaccine trial satellite launch drought farmers
    exports tariff museum archive festival league striker battery factory railway strike
    ministry reform court ruling hospital nurses wildfire coast airline merger startup chip
    telescope glacier orchard vineyard subway tunnel ferry port bank inflation wages housing
"""
WORDS = tuple(_VOCABULARY.split())


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(12)]
    words[0] = words[0].capitalize()
    return " ".join(words) + f" rose by {rng.randint(2, 90)} percent in district {n}."


def feed_xml(feed_no: int, entries: int = 50) -> bytes:
    """An RSS 2.0 document with ``entries`` full-text items, the same for the same number."""
    rng = random.Random(feed_no)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for i in range(entries):
        uid = f"{feed_no}-{i}"
        title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize() + f" {uid}"
        body = "".join(f"<p>{sentence(rng, i)}</p>" for _ in range(10))
        when = format_datetime(start + timedelta(minutes=feed_no * 50 + i))
        items.append(
            f"<item><title>{title}</title><link>https://bench{feed_no}.example.com/a/{i}</link>"
            f"<guid>urn:bench:{uid}</guid><pubDate>{when}</pubDate>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench feed {feed_no}</title><link>https://bench{feed_no}.example.com/</link>"
        f"<description>benchmark</description>{''.join(items)}</channel></rss>"
    ).encode()
