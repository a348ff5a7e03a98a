"""Errors of the extraction stage."""

from pipeline.errors import ProcessingError


class ExtractionError(ProcessingError):
    """An article the extractor cannot process (it goes to the dead-letter topic with this reason)."""
