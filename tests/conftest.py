"""Shared fixtures. The network guard fails any test that tries to leave this machine.

Code under test may swallow the guard's exception (a fetcher turns it into a FetchError), so
the guard also records every attempt and fails the test at teardown.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from digest.config import Settings
from digest.store.db import make_engine

DATA = Path(__file__).parent / "data"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkGuardError(OSError):
    pass


_violations: list[str] = []


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES or host == "":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_local_host(address[0]):
        _violations.append(f"connect to {address!r}")
        raise NetworkGuardError(f"network guard: test tried to connect to {address!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if not _is_local_host(host):
        _violations.append(f"DNS lookup of {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"network guard: test tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[None]:
    _violations.clear()
    yield
    if _violations:
        found = ", ".join(_violations)
        _violations.clear()
        pytest.fail(f"test tried to reach the network: {found}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test: a fresh SQLite file, nothing read from the environment or .env,
    no starter feeds (they are real sites)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        starter_feeds="none",
    )


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend. PostgreSQL tests get a schema of their own
    (dropped afterwards) and are skipped, visibly, when TEST_DATABASE_URL is not set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (CI sets it)")
    schema = "t_" + uuid.uuid4().hex[:12]
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def db_settings(database_url: str) -> Settings:
    """Settings for a test on each database backend."""
    return Settings(_env_file=None, database_url=database_url, starter_feeds="none")  # type: ignore[call-arg]
