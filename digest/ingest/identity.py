"""Who an entry is: its key within a feed, and the canonical form of its URL.

The rule the rest of the core relies on:

    The same entry polled twice is stored once; an entry whose guid changes but whose
    canonical URL doesn't is not duplicated.

This module only supplies the two keys; the store enforces uniqueness on (feed, ``entry_key``)
and on ``canonical_url``. Both functions are pure and never raise. Callers: the poller (every
entry of every poll) and the service (a URL a person typed, to find a feed or card).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from digest.models import ParsedEntry

__all__ = ["TRACKING_PARAMS", "canonical_url", "entry_key"]

# Query parameters that only say how a reader arrived, never which page they asked for.
# Compared case-insensitively; any name starting with "utm_" is tracking too.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "gclsrc",
        "dclid",  # Google Display
        "gbraid",  # Google Ads, iOS
        "wbraid",
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "twclid",  # X/Twitter
        "ttclid",  # TikTok
        "li_fat_id",  # LinkedIn
        "igshid",  # Instagram
        "mc_cid",  # Mailchimp
        "mc_eid",
        "_hsenc",  # HubSpot
        "_hsmi",
        "mkt_tok",  # Marketo
        "vero_id",  # Vero
        "oly_anon_id",  # Omeda
        "oly_enc_id",
        "_ga",  # Google Analytics cross-domain
        "_gl",
        "ref_src",  # Twitter embeds
        "ref_url",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
# Every character a URL may carry unescaped, plus "%" so existing escapes stay as they are.
_URL_SAFE = "/:@!$&'()*+,;=?%~-._[]"


def canonical_url(url: str) -> str:
    """The canonical form of ``url``: the same page always gives the same string.

    Lower-cases scheme and host, turns an IDN host into punycode, drops the default port, the
    fragment (except ``#!`` / ``#/`` routes, which name the page in single-page sites) and
    tracking parameters (``utm_*`` and ``TRACKING_PARAMS``), keeps every other parameter in its
    order, percent-escapes non-ASCII characters (upper-case hex) and makes an empty path "/".
    Something that is not a URL comes back stripped of surrounding space and otherwise as given.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. "http://[::1" or a port that is not a number
        return url
    scheme = parts.scheme.lower()
    host = _host(parts.hostname or "")
    if not host:
        return url
    netloc = host
    if parts.username is not None or parts.password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = _upper_escapes(parts.path) or "/"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    fragment = _upper_escapes(parts.fragment) if parts.fragment.startswith(("!", "/")) else ""
    return urlunsplit((scheme, netloc, path, _upper_escapes(query), fragment))


def _host(hostname: str) -> str:
    """Lower-case host, IDN labels in punycode (so both spellings of a host are one key)."""
    host = hostname.lower().rstrip(".")
    if ":" in host:  # IPv6: urlsplit dropped the brackets
        return f"[{host}]"
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # a label the IDNA 2003 codec refuses: keep the Unicode form
        return unicodedata.normalize("NFC", host)


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.partition("=")[0]).lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS


def _upper_escapes(text: str) -> str:
    """Percent-escapes in one spelling: non-ASCII and spaces escaped (UTF-8), hex upper-case."""
    return _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), quote(text, safe=_URL_SAFE))


def entry_key(entry: ParsedEntry) -> str:
    """The entry's identity within its feed. Called by the poller for every parsed entry.

    * its guid (``<guid>`` / ``<id>``), if present and not blank — publishers promise it is
      stable, and it survives a changed URL;
    * else its canonical link;
    * else ``"sha256:"`` + the hex digest of its normalised title (case-folded, whitespace
      collapsed) and its published time in ISO 8601 (empty when undated). Two undated entries
      with the same title are then the same entry: better than a duplicate on every poll.

    A guid that changes while the link stays gives a new key but the same ``canonical_url``;
    the store's uniqueness on canonical URL is what keeps that entry from being doubled.
    """
    if entry.guid and entry.guid.strip():
        return entry.guid.strip()
    if entry.link and entry.link.strip():
        return canonical_url(entry.link)
    title = " ".join(unicodedata.normalize("NFKC", entry.title).casefold().split())
    published = entry.published.isoformat() if entry.published else ""
    return "sha256:" + hashlib.sha256(f"{title}\n{published}".encode()).hexdigest()
