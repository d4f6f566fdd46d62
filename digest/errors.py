"""One error tree for the whole core.

Third-party errors (httpx, SQLAlchemy, feedparser, pydantic) are wrapped where they cross
into the core (``raise ... from e``), so callers only ever catch these::

    DigestError
    ├── ConfigError            a setting is wrong; the program stops with one line
    ├── InputError             a person typed something we cannot use
    │   ├── InvalidFeedUrl
    │   ├── DuplicateFeed
    │   ├── NotFound
    │   ├── OpmlError
    │   ├── InvalidSubscription
    │   └── DuplicateSubscription
    ├── FetchError             a feed or page could not be fetched
    │   ├── BlockedAddress     SSRF guard: private, loopback, link-local, ... addresses
    │   │   └── UnsupportedScheme   not http(s); also an InvalidFeedUrl
    │   ├── TooManyRedirects
    │   ├── BodyTooLarge
    │   ├── FetchTimeout
    │   └── HttpStatusError    a 4xx/5xx answer (carries status and Retry-After)
    ├── ParseError             the bytes are not a feed we can read
    ├── ModelError             the model API failed (after the SDK's own retries)
    │   └── InvalidModelOutput the model's answer broke the schema or the card rules
    ├── QuestionError          a follow-up question cannot be taken
    │   ├── QuestionTooLong    (also an InputError)
    │   └── RateLimited        too many questions from one asker; carries retry_after
    ├── StorageError           the database refused or is unreachable
    └── DeliveryError          a chat platform did not take a message (raised by senders)
        ├── RetryLater         try again: rate limited (retry_after), 5xx, timeout, network
        ├── DestinationGone    blocked, kicked, chat/channel/thread not found: stop sending there
        └── RejectedContent    the platform refused this message itself: never retried
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error the core raises on purpose."""


class ConfigError(DigestError):
    """A setting is missing or wrong; the message names the setting."""


class InputError(DigestError):
    """Input from a person (CLI argument, chat command) that cannot be used."""


class InvalidFeedUrl(InputError):
    """Not a URL, or not an http(s) URL."""


class DuplicateFeed(InputError):
    """The feed is already subscribed."""


class NotFound(InputError):
    """No such feed, card or story."""


class OpmlError(InputError):
    """An OPML file that cannot be read."""


class FetchError(DigestError):
    """A network fetch failed; ``retry_after`` (seconds) is set when the server asked for it."""

    retry_after: float | None = None


class BlockedAddress(FetchError):
    """The URL's scheme or the address it resolves to is not allowed (SSRF guard)."""


class UnsupportedScheme(BlockedAddress, InvalidFeedUrl):
    """A URL whose scheme is not http(s): ``ftp:``, ``file:``, ``javascript:``...

    Both a refusal of the guard (for the poller and redirect targets) and bad input (for the
    person who typed it), so either kind of caller catches it.
    """


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a redirect loop."""


class BodyTooLarge(FetchError):
    """The body exceeded the configured cap."""


class FetchTimeout(FetchError):
    """Connect, read or total timeout."""


class HttpStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ParseError(DigestError):
    """The document is not a feed (HTML page, empty body, unreadable XML)."""


class ModelError(DigestError):
    """The model API failed: rate limited, overloaded, timed out, or refused the request.

    ``retry_after`` (seconds) is set when the API said when to come back.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidModelOutput(ModelError):
    """The model's output was not valid JSON, broke the schema, or broke the card rules."""


class QuestionError(DigestError):
    """A follow-up question that cannot be answered now."""


class QuestionTooLong(QuestionError, InputError):
    """Longer than ``DIGEST_QUESTION_MAX_CHARS``."""


class RateLimited(QuestionError):
    """The asker has used up their questions for now; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageError(DigestError):
    """The database failed."""


class InvalidSubscription(InputError):
    """A subscription setting that cannot be used: an unknown time zone or topic, an
    impossible time, a bad cron expression, max cards out of range, ... The message says
    what was wrong and what is accepted, in one line."""


class DuplicateSubscription(InputError):
    """The destination (platform, chat, thread) already has a subscription; change that one."""


class DeliveryError(DigestError):
    """A chat platform did not take a message. Senders (``digest.delivery.sender``) raise
    exactly one of the three subclasses; the delivery worker decides what happens next."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(DeliveryError):
    """Try the message again later: rate limited, server error, timeout, network trouble.

    ``retry_after`` (seconds) is the platform's own wait (a 429); ``None`` means "back off
    exponentially". ``scope`` says what the wait applies to: the one chat ("chat") or every
    chat of the platform ("platform", e.g. Discord's global rate limit)."""

    def __init__(
        self, reason: str, retry_after: float | None = None, *, scope: str = "chat"
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.scope = scope


class DestinationGone(DeliveryError):
    """The destination no longer takes messages from the bot: blocked, kicked, chat or
    channel not found. ``thread_only``: only the thread is gone (a deleted forum topic or
    Discord thread), the chat itself still works."""

    def __init__(self, reason: str, *, thread_only: bool = False) -> None:
        super().__init__(reason)
        self.thread_only = thread_only


class RejectedContent(DeliveryError):
    """The platform refused this message (too long, bad markup, ...): sending it again
    would fail again, so it is recorded as "rejected" and not retried."""
