"""Errors of the extraction stage, under one root.

ExtractError (a ProcessingError: dead-lettered with its reason)
├── ExtractionError        one article that cannot be processed at all (empty, over the size limit)
└── AliasTableError        the curated alias table (``aliases.toml``) cannot be read (also a ConfigError)

Odd but processable text (HTML remnants, unbalanced quotes, another language) is never an error: it yields fewer
or no claims.
"""

from __future__ import annotations

from newsrift.errors import ConfigError, ProcessingError

__all__ = ["AliasTableError", "ExtractError", "ExtractionError"]


class ExtractError(ProcessingError):
    """Root of the errors the extraction stage raises on purpose."""


class ExtractionError(ExtractError):
    """An article the extractor cannot process; ``article_id`` and ``reason`` go to the dead-letter record."""

    def __init__(self, article_id: str, reason: str) -> None:
        super().__init__(f"article {article_id}: {reason}")
        self.article_id = article_id
        self.reason = reason


class AliasTableError(ExtractError, ConfigError):
    """The alias table is missing or malformed."""
