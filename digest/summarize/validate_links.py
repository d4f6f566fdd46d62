"""Which links in a model's text may not be there: the link rule of ``validate``.

Called by ``digest.summarize.validate`` (``parse_card``, ``parse_answer``), which re-exports
``foreign_urls``. Pure: no I/O.

A link is anything a chat client would make clickable: ``scheme://...``, ``www....``, and a
bare host name, i.e. a dotted run of labels whose last label is a top-level domain in the
DNS root (``digest.summarize.tlds``, the whole IANA list rather than a few common ones, so
"claim.news" or "bonus.shop" count as much as "evil.com"). By design the rule errs on the
side of refusing: a refused card costs one retry, a foreign link reaches every subscriber.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import urlsplit

from digest.summarize.tlds import TLDS

# Links a chat client would make clickable: any scheme://, www., and host names: a dotted
# run of labels whose last label is a top-level domain in the DNS root ("evil.com/path",
# "claim.news", "t.me/x"). Runs like "U.S", "e.g", "3.5" or "Node.js" end in no TLD.
_FULL_URL = re.compile(
    r"\b[a-z][a-z0-9+.-]{1,15}://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+", re.IGNORECASE
)
_DOTTED = re.compile(r"(?<![\w-])[\w-]+(?:\.[\w-]+)+")
_PATH = re.compile(r"(?::\d{1,5})?[/?#][^\s<>\"'`]*")  # what may follow a host: "/claim?x=1"
# Product names that end in a TLD but name no web site anyone links to. Listed one by one:
# a rule like "upper case is not a host" would let "EVIL.COM" through.
_NOT_HOSTS = frozenset({"asp.net", "vb.net", "ado.net"})
_WEB_SCHEMES = frozenset({"http", "https"})
_URL_TAIL = ".,;:!?)]}'\"”’»"


def foreign_urls(text: str, source: str, *, allowed: Sequence[str] | None = None) -> list[str]:
    """Links in ``text`` that may not be there, in order: full links (``scheme://``,
    ``www.``) and host names (``evil.example``, ``evil.example/path``, the host of
    ``me@evil.example``).

    With ``allowed`` (the story's own links), a link may be there only when it is one of
    them or names the host of one of them (``www.`` aside), whatever ``source`` says: a link
    or host an article asks to have "added" never reaches a card. Without ``allowed``, a
    link may be there when ``source`` contains it as written (case-insensitive).
    """
    ok: Callable[[str, str | None], bool]
    if allowed is None:
        haystack = source.casefold()

        def ok(link: str, host: str | None) -> bool:
            return link.casefold() in haystack

    else:
        links = {a.casefold().rstrip("/") for a in allowed}
        hosts = {_same_host(h) for a in allowed if (h := _web_host(a))}

        def ok(link: str, host: str | None) -> bool:
            return link.casefold().rstrip("/") in links or (
                host is not None and _same_host(host) in hosts
            )

    found = []
    spans: list[tuple[int, int]] = []
    for match in _FULL_URL.finditer(text):
        spans.append(match.span())
        url = match.group(0).rstrip(_URL_TAIL)
        if not ok(url, _web_host(url)):
            found.append(url)
    for start, host, link in _hosts(text):
        if any(begin <= start < end for begin, end in spans):
            continue  # part of a full link, judged above
        if not ok(link, host):
            found.append(link)
    return found


def _hosts(text: str) -> Iterator[tuple[int, str, str]]:
    """(start, host, host with any path) for each host name in ``text``."""
    for match in _DOTTED.finditer(text):
        labels = match.group(0).split(".")
        # The last label that is a TLD ends the host: "news.bbc.co.uk", and "evil.com" in
        # "evil.com.Then" (a missing space must not hide it).
        last = max((i for i in range(1, len(labels)) if _is_tld(labels[i])), default=0)
        if not last:
            continue
        host = ".".join(labels[: last + 1])
        if host.casefold() in _NOT_HOSTS:
            continue
        link = host
        if last == len(labels) - 1 and (path := _PATH.match(text, match.end())):
            link += path.group(0)
        yield match.start(), host, link.rstrip(_URL_TAIL)


def _is_tld(label: str) -> bool:
    label = label.casefold()
    if not label.isascii():  # "рф": the list holds the ASCII form, "xn--p1ai"
        try:
            label = "xn--" + label.encode("punycode").decode("ascii")
        except UnicodeError:
            return False
    return label in TLDS


def _web_host(url: str) -> str | None:
    """The host a web link points at (``https://a.example@evil.example/`` points at
    ``evil.example``); ``None`` for other schemes (``tg://``, ``javascript:``)."""
    if url[:4].casefold() == "www.":
        url = "http://" + url
    try:
        parts = urlsplit(url)
        return parts.hostname if parts.scheme.casefold() in _WEB_SCHEMES else None
    except ValueError:  # a malformed port or IPv6 address
        return None


def _same_host(host: str) -> str:
    return host.casefold().rstrip(".").removeprefix("www.")
