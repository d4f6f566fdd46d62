"""The SSRF guard: address policy, URL check, and the connect-time backend."""

from __future__ import annotations

import asyncio
import ipaddress

import httpcore
import pytest

from digest.errors import BlockedAddress, InvalidFeedUrl, UnsupportedScheme
from digest.ingest.netguard import (
    GuardedBackend,
    address_policy,
    allow_all,
    check_url,
    is_blocked_ip,
    system_resolver,
)
from tests.support.http_server import FakeResolver, RecordingBackend

BLOCKED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.0.8",
    "198.18.0.1",
    "192.0.2.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34: what DNS64 networks hand out
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked_addresses(address: str) -> None:
    assert is_blocked_ip(address)
    assert is_blocked_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert not is_blocked_ip(address)


def test_not_an_address_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        is_blocked_ip("example.com")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/feed.xml",
        "http://example.com:8080/rss",
        "https://user:pw@example.com/feed",
        "HTTPS://EXAMPLE.COM/",
        "https://93.184.216.34/feed",
        "https://[2606:4700:4700::1111]/feed",
        "https://xn--bcher-kva.example/feed",
    ],
)
def test_good_urls_pass(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "example.com/feed",
        "example.com:8080/feed",
        "localhost:8080/feed",
        "//example.com/feed",
        "http://",
        "https:///feed",
        "http://exa mple.com/",
        " http://example.com/",
        "http://example.com/\nHost: evil",
        "http://example.com:99999/",
        "http://[::1/",
    ],
)
def test_not_a_url(url: str) -> None:
    with pytest.raises(InvalidFeedUrl):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed.xml",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/xml,<rss/>",
        "gopher://example.com/",
        "mailto:someone@example.com",
    ],
)
def test_other_schemes_are_blocked(url: str) -> None:
    with pytest.raises(UnsupportedScheme, match="only http and https") as caught:
        check_url(url)
    # a refusal for the fetcher and its callers, bad input for the person who typed it
    assert isinstance(caught.value, BlockedAddress)
    assert isinstance(caught.value, InvalidFeedUrl)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/feed",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://[fe80::1%25eth0]/",
        # spellings the system resolver reads as 127.0.0.1
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://017700000001/",
        "http://127.0.0.1./",
        # names that always mean this machine
        "http://localhost/",
        "http://LOCALHOST./feed",
        "http://feeds.localhost/",
    ],
)
def test_private_hosts_are_blocked(url: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(url)


def test_address_policy_follows_the_setting() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert address_policy(False)(loopback)
    assert not address_policy(True)(loopback)


def test_a_wider_policy_lets_private_hosts_through() -> None:
    check_url("http://127.0.0.1:8080/feed", is_blocked=allow_all)
    check_url("http://localhost/feed", is_blocked=allow_all)
    with pytest.raises(BlockedAddress):  # the scheme rule stays
        check_url("file:///etc/passwd", is_blocked=allow_all)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://alice:s3cret-pw@example.com/",
        "http://alice:s3cret-pw@10.0.0.1/",
        "http://alice:s3cret-pw@exa mple.com/",
        "http://alice:s3cret-pw@example.com:99999/",
    ],
)
def test_messages_never_repeat_credentials(url: str) -> None:
    with pytest.raises((BlockedAddress, InvalidFeedUrl)) as caught:
        check_url(url)
    assert "s3cret" not in str(caught.value)
    assert "alice" not in str(caught.value)


# -- GuardedBackend -------------------------------------------------------------------------


def guarded(resolver: FakeResolver) -> tuple[GuardedBackend, RecordingBackend]:
    inner = RecordingBackend(httpcore.AsyncMockBackend([]))
    return GuardedBackend(inner, resolver=resolver), inner


async def test_connects_to_the_address_it_checked() -> None:
    resolver = FakeResolver({"feed.example": [["93.184.216.34"]]})
    backend, inner = guarded(resolver)
    await backend.connect_tcp("feed.example", 443, timeout=1)
    assert inner.connects == [("93.184.216.34", 443)]
    assert resolver.calls == ["feed.example"]


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["10.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["93.184.216.34", "10.0.0.1"],  # one bad answer spoils the name
    ],
)
async def test_refuses_names_that_resolve_to_blocked_addresses(answer: list[str]) -> None:
    backend, inner = guarded(FakeResolver({"feed.example": [answer]}))
    with pytest.raises(BlockedAddress, match=r"feed\.example"):
        await backend.connect_tcp("feed.example", 80, timeout=1)
    assert inner.connects == []


async def test_refuses_blocked_ip_literals_without_resolving() -> None:
    resolver = FakeResolver({})
    backend, inner = guarded(resolver)
    for host in ("127.0.0.1", "::1", "169.254.169.254", "127.1"):
        with pytest.raises(BlockedAddress):
            await backend.connect_tcp(host, 80, timeout=1)
    assert inner.connects == []
    assert resolver.calls == []


async def test_unresolvable_name_is_a_connect_error() -> None:
    backend, inner = guarded(FakeResolver({}))
    with pytest.raises(httpcore.ConnectError, match="could not resolve"):
        await backend.connect_tcp("nowhere.example", 80, timeout=1)
    assert inner.connects == []


@pytest.mark.parametrize("answer", [[], ["not-an-ip"]])
async def test_bad_resolver_answers_are_connect_errors(answer: list[str]) -> None:
    backend, _ = guarded(FakeResolver({"feed.example": [answer]}))
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("feed.example", 80, timeout=1)


async def test_slow_resolver_times_out() -> None:
    async def never(host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        return []

    backend = GuardedBackend(RecordingBackend(httpcore.AsyncMockBackend([])), resolver=never)
    with pytest.raises(httpcore.ConnectTimeout):
        await backend.connect_tcp("feed.example", 80, timeout=0.05)


async def test_tries_the_next_address_when_one_fails() -> None:
    class FirstFails(RecordingBackend):
        async def connect_tcp(self, host: str, port: int, **kwargs: object) -> object:  # type: ignore[override]
            self.connects.append((host, port))
            if len(self.connects) == 1:
                raise httpcore.ConnectError("refused")
            return object()

    inner = FirstFails()
    backend = GuardedBackend(
        inner, resolver=FakeResolver({"feed.example": [["93.184.216.34", "93.184.216.35"]]})
    )
    await backend.connect_tcp("feed.example", 80, timeout=1)
    assert inner.connects == [("93.184.216.34", 80), ("93.184.216.35", 80)]


async def test_unix_sockets_are_refused() -> None:
    backend, _ = guarded(FakeResolver({}))
    with pytest.raises(BlockedAddress):
        await backend.connect_unix_socket("/var/run/docker.sock")


async def test_a_wider_policy_allows_private_answers() -> None:
    inner = RecordingBackend(httpcore.AsyncMockBackend([]))
    backend = GuardedBackend(
        inner, resolver=FakeResolver({"intranet": [["10.1.2.3"]]}), is_blocked=allow_all
    )
    await backend.connect_tcp("intranet", 80, timeout=1)
    assert inner.connects == [("10.1.2.3", 80)]


async def test_system_resolver_resolves_localhost() -> None:
    found = await system_resolver("localhost", 80)
    assert found
    assert all(ipaddress.ip_address(a).is_loopback for a in found)


def test_a_malformed_host_name_is_an_invalid_url() -> None:
    with pytest.raises(InvalidFeedUrl, match="host name is not valid"):
        check_url("http://" + "a" * 64 + ".example.com/feed")
