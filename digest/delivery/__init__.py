"""Delivering cards to chats: the sender port (``sender``), pacing (``pacing``), the retry
policy (``policy``) and the worker that drains the outbox (``worker``, ``recorder``).

The outbox itself lives in ``digest.store.outbox`` (claims) and ``digest.store.fanout``
(filling it). Nothing here imports a chat platform's library: adapters implement
``sender.Sender``.
"""
