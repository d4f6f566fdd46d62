"""The bundled sample feeds, served without any network.

``digest demo`` subscribes to these. They live under a reserved ``.invalid`` host that can
never resolve, and ``SampleFetcher`` answers for that host from the package's own files,
so the demo runs the real ingest path (fetch port, parse, identity, stories) offline.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from digest.errors import FetchError, HttpStatusError
from digest.models import FetchResult
from digest.ports import Fetcher

SAMPLE_PREFIX = "https://samples.newsdigest.invalid/"


def sample_feed_urls() -> list[str]:
    """URLs of every bundled sample feed, in a stable order."""
    folder = resources.files("digest") / "samples"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".xml"))
    return [SAMPLE_PREFIX + name for name in names]


class NoNetwork:
    """A ``Fetcher`` that refuses everything: what ``SampleFetcher`` wraps in the demo, so
    the demo is offline by construction, not because no sample entry needs a page."""

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        raise FetchError("the offline demo serves only the bundled sample feeds")


class SampleFetcher:
    """A ``Fetcher`` that serves the sample feeds itself and passes every other URL on.

    Answers conditional requests with 304 like a well-behaved server, so polling the
    samples again parses nothing.
    """

    def __init__(self, inner: Fetcher) -> None:
        self._inner = inner

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        if not url.startswith(SAMPLE_PREFIX):
            return await self._inner.fetch(url, etag=etag, last_modified=last_modified)
        name = url[len(SAMPLE_PREFIX) :]
        if "/" in name or not name.endswith(".xml"):
            raise HttpStatusError(404, f"no sample feed {name!r}")
        resource = resources.files("digest") / "samples" / name
        if not resource.is_file():
            raise HttpStatusError(404, f"no sample feed {name!r}")
        content = resource.read_bytes()
        tag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        if etag == tag:
            return FetchResult(url=url, status=304, etag=tag)
        return FetchResult(
            url=url, status=200, content=content, content_type="application/xml", etag=tag
        )
