"""Poll pacing: server hints, backoff, clamping, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from digest.config import Settings
from digest.errors import FetchTimeout, HttpStatusError
from digest.ingest.pacing import next_poll_at, should_disable
from digest.models import FetchResult

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def steady(settings: Settings) -> Settings:
    """Defaults (900 s, clamp to 300..21600 s) without jitter, so delays are exact."""
    return settings.model_copy(update={"poll_jitter": 0.0})


def ok(**hints: float | None) -> FetchResult:
    return FetchResult(url="https://example.com/feed", status=200, content=b"<rss/>", **hints)  # type: ignore[arg-type]


def delay_after_success(
    settings: Settings, result: FetchResult | None = None, ttl: int | None = None
) -> float:
    when = next_poll_at(
        NOW, settings=settings, result=result, ttl_minutes=ttl, failures=0, error=None
    )
    return (when - NOW).total_seconds()


def delay_after_failure(settings: Settings, failures: int, error: Exception) -> float:
    when = next_poll_at(
        NOW,
        settings=settings,
        result=None,
        ttl_minutes=None,
        failures=failures,
        error=error,  # type: ignore[arg-type]
    )
    return (when - NOW).total_seconds()


def test_no_hints_means_the_base_interval(steady: Settings) -> None:
    assert delay_after_success(steady, ok()) == 900
    assert delay_after_success(steady, None) == 900


def test_not_modified_paces_like_success(steady: Settings) -> None:
    result = FetchResult(url="https://example.com/feed", status=304, max_age=1800)
    assert delay_after_success(steady, result) == 1800


@pytest.mark.parametrize(
    ("result", "ttl", "expected"),
    [
        (ok(max_age=1800), None, 1800),
        (ok(), 60, 3600),  # RSS <ttl> is in minutes
        (ok(retry_after=2000), None, 2000),
        (ok(max_age=1800, retry_after=2000), 90, 5400),  # the largest hint wins
        (ok(max_age=60), 1, 900),  # hints only lengthen the wait
        (ok(max_age=0), None, 900),
    ],
)
def test_server_hints(
    steady: Settings, result: FetchResult, ttl: int | None, expected: float
) -> None:
    assert delay_after_success(steady, result, ttl) == expected


def test_hints_are_clamped_to_the_maximum(steady: Settings) -> None:
    assert delay_after_success(steady, ok(max_age=10**9), 10**6) == 21600


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 900), (2, 1800), (3, 3600), (4, 7200), (5, 14400), (6, 21600), (10, 21600)],
)
def test_exponential_backoff(steady: Settings, failures: int, expected: float) -> None:
    assert delay_after_failure(steady, failures, FetchTimeout("slow")) == expected


def test_backoff_survives_absurd_failure_counts(steady: Settings) -> None:
    assert delay_after_failure(steady, 10**6, FetchTimeout("slow")) == 21600


def test_failure_count_of_zero_counts_as_the_first(steady: Settings) -> None:
    assert delay_after_failure(steady, 0, FetchTimeout("slow")) == 900


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [
        (1, 7200.0, 7200),  # larger than the backoff: honoured
        (3, 10.0, 3600),  # smaller: the backoff stands
        (1, 1e9, 21600),  # a hostile Retry-After cannot park the feed for good
    ],
)
def test_retry_after_on_failure(
    steady: Settings, failures: int, retry_after: float, expected: float
) -> None:
    error = HttpStatusError(429, "slow down", retry_after=retry_after)
    assert delay_after_failure(steady, failures, error) == expected


def test_jitter_spreads_within_bounds(settings: Settings) -> None:
    rng = random.Random(7)
    delays = {
        (
            next_poll_at(
                NOW,
                settings=settings,
                result=ok(),
                ttl_minutes=None,
                failures=0,
                error=None,
                rng=rng,
            )
            - NOW
        ).total_seconds()
        for _ in range(200)
    }
    assert all(810 <= d <= 990 for d in delays)  # 900 ± 10 %
    assert len(delays) > 100


def test_jitter_is_reproducible_with_a_seeded_rng(settings: Settings) -> None:
    def once() -> datetime:
        return next_poll_at(
            NOW,
            settings=settings,
            result=ok(),
            ttl_minutes=None,
            failures=0,
            error=None,
            rng=random.Random(42),
        )

    assert once() == once()


def test_jitter_never_lands_before_retry_after(settings: Settings) -> None:
    wide = settings.model_copy(update={"poll_jitter": 0.5})
    rng = random.Random(1)
    for _ in range(200):
        when = next_poll_at(
            NOW,
            settings=wide,
            result=ok(retry_after=1200),
            ttl_minutes=None,
            failures=0,
            error=None,
            rng=rng,
        )
        assert when - NOW >= timedelta(seconds=1200)


def test_jitter_never_goes_below_the_minimum(settings: Settings) -> None:
    tight = settings.model_copy(
        update={"poll_jitter": 0.5, "poll_interval": 300, "poll_min_interval": 300}
    )
    rng = random.Random(3)
    for _ in range(200):
        when = next_poll_at(
            NOW, settings=tight, result=ok(), ttl_minutes=None, failures=0, error=None, rng=rng
        )
        assert when - NOW >= timedelta(seconds=300)


def test_result_keeps_the_time_zone(steady: Settings) -> None:
    when = next_poll_at(NOW, settings=steady, result=ok(), ttl_minutes=None, failures=0, error=None)
    assert when.tzinfo is UTC


@pytest.mark.parametrize(("failures", "disabled"), [(0, False), (9, False), (10, True), (11, True)])
def test_should_disable_after_max_failures(
    settings: Settings, failures: int, disabled: bool
) -> None:
    assert settings.max_failures == 10
    assert should_disable(failures, settings) is disabled
