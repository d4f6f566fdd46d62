"""Pure helpers for response bodies and headers, used by ``digest.ingest.fetch.HttpFetcher``.

``BoundedDecoder`` undoes Content-Encoding under the size cap (``ACCEPT_ENCODING`` offers
only what it can undo); ``parse_retry_after`` and ``parse_max_age`` read the Retry-After and
Cache-Control headers of every response; ``conditional_headers`` builds the
If-None-Match/If-Modified-Since headers of a conditional GET from stored validators.

No I/O here. Only ``BoundedDecoder`` raises: ``BodyTooLarge`` once the decoded body passes
the limit, plain ``FetchError`` for an unsupported or corrupt encoding (both
``digest.errors.FetchError`` with the host in the message). The parsers return ``None`` for
a value they cannot read rather than raising.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from digest.errors import BodyTooLarge, FetchError

# Only what BoundedDecoder can inflate under the size cap; HttpFetcher sends it on every request.
ACCEPT_ENCODING = "gzip, deflate"


class BoundedDecoder:
    """Undoes Content-Encoding while counting output bytes, raising ``BodyTooLarge`` as soon
    as the count passes the limit. Each inflate step asks zlib for at most the room left
    plus one byte, so memory stays bounded whatever the compression ratio."""

    def __init__(self, content_encoding: str, limit: int, host: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in {"gzip", "x-gzip", "deflate"}):
            raise FetchError(f"{host}: unsupported content encoding {content_encoding!r}")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._host = host
        self._count = 0
        self._started = False
        wbits = zlib.MAX_WBITS | 16 if self._coding in {"gzip", "x-gzip"} else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)

    def decode(self, data: bytes) -> bytes:
        if self._coding is None or not data:
            return self._counted(data)
        room = self._limit - self._count + 1
        try:
            out = self._inflater.decompress(data, room)
        except zlib.error as e:
            if self._coding != "deflate" or self._started:
                raise FetchError(f"{self._host}: the compressed body is corrupt") from e
            # Some servers send "deflate" as a bare deflate stream without the zlib header.
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, room)
        self._started = True
        return self._counted(out)

    def flush(self) -> bytes:
        return self._counted(self._inflater.flush() if self._coding else b"")

    def _counted(self, out: bytes) -> bytes:
        self._count += len(out)
        if self._count > self._limit:
            raise BodyTooLarge(f"{self._host}: body is larger than {self._limit} bytes")
        return out


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date).

    Called for every response; ``None`` when absent or unreadable, 0 for a past date.
    """
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    """The ``max-age`` of a Cache-Control header, in seconds; ``None`` when absent."""
    if not cache_control:
        return None
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cache_control, re.IGNORECASE)
    return float(match.group(1)) if match else None


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if (value := _header_value(etag)) is not None:
        headers["If-None-Match"] = value
    if (value := _header_value(last_modified)) is not None:
        headers["If-Modified-Since"] = value
    return headers


def _header_value(value: str | None) -> str | None:
    """A stored validator fit to send back: printable ASCII only (a stored value with a
    newline or non-ASCII bytes would make httpx refuse the whole request)."""
    if value is None:
        return None
    value = value.strip()
    if not value or not all(" " <= c <= "~" for c in value):
        return None
    return value
