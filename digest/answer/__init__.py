"""Follow-up questions about a card: routing, BM25 retrieval, and the answerer.

The question service calls ``Answerer.answer``; see ``digest.answer.engine`` for the routes.
"""

from digest.answer.engine import METHODS, NOT_COVERED_TEXT, Answerer
from digest.answer.retrieval import Passage, Retrieval, SentenceIndex
from digest.answer.routing import Route, RouteKind, classify

__all__ = [
    "METHODS",
    "NOT_COVERED_TEXT",
    "Answerer",
    "Passage",
    "Retrieval",
    "Route",
    "RouteKind",
    "SentenceIndex",
    "classify",
]
