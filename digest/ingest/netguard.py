"""The SSRF guard: which URLs and addresses the fetcher may reach.

Two checks, because a feed URL is written by whoever subscribes it:

* ``check_url`` looks at the URL alone (scheme, IP-literal host). The service calls it when a
  feed is added, and the fetcher calls it for the first URL and for every redirect target.
* ``GuardedBackend`` checks the address actually connected to. It resolves the host itself,
  refuses when *any* resolved address is blocked, and then connects to the very address it
  checked, so a DNS answer that changes between check and connect (DNS rebinding) cannot
  slip a private address in.

Both take an ``AddressPolicy`` (``is_blocked_ip`` unless private networks are allowed), so
the fetcher and its tests can widen the policy without turning the guard off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import SplitResult, urlsplit

import httpcore

from digest.errors import BlockedAddress, InvalidFeedUrl, UnsupportedScheme

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

AddressPolicy = Callable[[IPAddress], bool]
"""Answers "is this address blocked?"."""

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves ``(host, port)`` to IP address strings; raises ``OSError`` when it cannot."""

ALLOWED_SCHEMES = frozenset({"http", "https"})


# Ranges Python's ``is_global``/``is_private`` miss or got wrong in some 3.11.x releases;
# listed so the answer does not depend on the interpreter's patch level.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. the 169.254.169.254 cloud metadata service
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/32",  # Teredo: the embedded client address is obfuscated, so refuse it whole
        "2001:db8::/32",
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # old site-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Hosts that ``inet_aton`` (and so the system resolver) reads as IPv4 although they are not
# dotted quads: "2130706433", "0x7f.1", "127.1". Only digits, hex and dots get this far.
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")


def is_blocked_ip(ip: str | IPAddress) -> bool:
    """True when ``ip`` is not a public unicast address.

    The default ``AddressPolicy``. Blocks loopback, private, link-local, CGNAT, multicast,
    reserved and unspecified addresses of both families, and judges IPv6 addresses that
    embed an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
    ``2002::/16``) by the IPv4 address inside. Raises ``ValueError`` for a string that is
    not an IP address.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address):
        return _is_blocked_v6(address)
    return _is_blocked_v4(address)


def allow_all(ip: IPAddress) -> bool:
    """The policy when ``allow_private_networks`` is set: nothing is blocked."""
    return False


def address_policy(allow_private_networks: bool) -> AddressPolicy:
    """The policy ``Settings.allow_private_networks`` asks for; ``HttpFetcher`` uses it, and
    so should anything else that calls ``check_url`` with settings at hand."""
    return allow_all if allow_private_networks else is_blocked_ip


def _is_blocked_v4(address: ipaddress.IPv4Address) -> bool:
    return (
        not address.is_global
        or address.is_multicast  # is_global is True for most of 224.0.0.0/4
        or address.is_reserved
        or any(address in net for net in _BLOCKED_V4)
    )


def _is_blocked_v6(address: ipaddress.IPv6Address) -> bool:
    if address.ipv4_mapped is not None:
        return _is_blocked_v4(address.ipv4_mapped)
    if address in _NAT64:
        # On an IPv6-only network with DNS64 every IPv4-only site looks like this, so judge
        # the IPv4 address it carries rather than refusing the whole prefix.
        return _is_blocked_v4(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None and _is_blocked_v4(address.sixtofour):
        return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or address.is_site_local
        or any(address in net for net in _BLOCKED_V6)
    )


def check_url(url: str, *, is_blocked: AddressPolicy = is_blocked_ip) -> None:
    """Refuse a URL the fetcher must not request, judging the URL alone (no DNS).

    Called by ``DigestService`` when a feed is subscribed and by ``HttpFetcher`` for the
    first URL and each redirect target. Raises ``InvalidFeedUrl`` when ``url`` is not an
    absolute URL with a host, ``UnsupportedScheme`` (both an ``InvalidFeedUrl`` and a
    ``BlockedAddress``) when its scheme is not http(s), and ``BlockedAddress`` when its
    host is an IP address (in any spelling the resolver accepts) or a ``localhost`` name that
    ``is_blocked`` refuses. Names that resolve to blocked addresses are caught later, at
    connect time, by ``GuardedBackend``. Messages never repeat the URL, so credentials in
    it cannot leak.
    """
    if not isinstance(url, str) or not url:
        raise InvalidFeedUrl("not a URL: it is empty")
    # A raw space or control character is never valid in a URL, and parsers disagree about
    # where they end one, so refuse them rather than guess.
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidFeedUrl("not a URL: it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # reading it validates it: ValueError when out of range
    except ValueError as e:
        raise InvalidFeedUrl("not a URL: the host or port is malformed") from e
    if not parts.scheme or _missing_scheme(url, parts):
        raise InvalidFeedUrl("not a URL: it needs to start with https:// or http://")
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsupportedScheme(f"only http and https URLs can be fetched, not {parts.scheme}:")
    if not host:
        raise InvalidFeedUrl("not a URL: it has no host")
    try:
        host.encode("idna")
    except UnicodeError:
        raise InvalidFeedUrl("not a URL: the host name is not valid") from None
    address = _literal_address(host)
    if address is not None:
        if is_blocked(address):
            raise BlockedAddress(f"{host} is a private or reserved address")
    elif _is_localhost_name(host) and is_blocked(ipaddress.IPv4Address("127.0.0.1")):
        raise BlockedAddress(f"{host} is this machine")


def _missing_scheme(url: str, parts: SplitResult) -> bool:
    """``example.com:8080/feed`` parses with scheme ``example.com``; treat it as schemeless."""
    if "://" in url:
        return False
    return "." in parts.scheme or parts.path[:1].isdigit()


def _literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is an IP literal rather than a name."""
    host = host.rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _is_localhost_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")  # RFC 6761: always loopback


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (``getaddrinfo`` in a worker thread).

    The default ``Resolver`` of ``GuardedBackend``. Raises ``OSError`` (``socket.gaierror``)
    when the name does not resolve.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except UnicodeError as e:  # a label over 63 characters, a broken xn-- label, ...
        raise socket.gaierror(socket.EAI_NONAME, f"not a valid host name: {e}") from e
    found: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows.

    ``HttpFetcher`` builds its connection pool on this. httpcore calls ``connect_tcp`` with
    the URL's host; this resolves it once through ``resolver``, raises ``BlockedAddress``
    when any answer is blocked (a name with one private answer is not trustworthy), and
    hands the inner backend the checked IP. TLS is unaffected: httpcore passes the URL's
    host name to ``start_tls`` as ``server_hostname``, so SNI and certificate checks still
    use the name. Resolution failures and timeouts come out as ``httpcore.ConnectError``
    and ``httpcore.ConnectTimeout``, like the inner backend's own.
    """

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend,
        *,
        resolver: Resolver = system_resolver,
        is_blocked: AddressPolicy = is_blocked_ip,
    ) -> None:
        self._inner = inner
        self._resolver = resolver
        self._is_blocked = is_blocked

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, limit=timeout)
        for address in addresses:
            if self._is_blocked(address):
                raise BlockedAddress(f"{host} resolves to a blocked address ({address})")
        last_error: Exception | None = None
        for address in addresses:  # in resolver order, like the system's own connect loop
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last_error = e
        assert last_error is not None  # _resolve never returns an empty list
        raise last_error

    async def _resolve(self, host: str, port: int, *, limit: float | None) -> list[IPAddress]:
        literal = _literal_address(host)
        if literal is not None:
            return [literal]
        try:
            async with asyncio.timeout(limit):
                answers = await self._resolver(host, port)
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(f"looking up {host} timed out") from e
        except OSError as e:
            raise httpcore.ConnectError(f"could not resolve {host}") from e
        try:
            addresses = [ipaddress.ip_address(a) for a in answers]
        except ValueError as e:
            raise httpcore.ConnectError(f"could not resolve {host}: bad answer") from e
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve {host}: no addresses")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # The fetcher never asks for one; refuse rather than reach a local service.
        raise BlockedAddress("unix sockets cannot be fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
