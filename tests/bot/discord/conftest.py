"""The delivery world (outbox, subscriptions, clock on SQLite and PostgreSQL) of the worker
tests, for the Discord sender's tests."""

from tests.digest.delivery.conftest import world

__all__ = ["world"]
