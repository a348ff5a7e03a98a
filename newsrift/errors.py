"""The one exception tree of newsrift.

NewsriftError
├── ConfigError              settings or data files that cannot be used
├── ServiceError             a local Kafka/Elasticsearch could not be fetched, started, checked or stopped
├── MessageError             a message that a stage cannot decode or validate (it goes to the topic's .dlq twin)
├── ProcessingError          a valid message that a stage could not process (also dead-lettered, with the reason)
├── IndexingError            Elasticsearch refused documents for a reason retrying cannot fix
├── FetchError               newsrift.connectors.http: a feed or page could not be fetched (retry_after, permanent)
├── FeedParseError           newsrift.connectors.items: bytes that are no feed at all
├── PublishError             newsrift.connectors.sinks: the sink did not acknowledge an article (it stays unseen)
└── DeliveryError            newsrift.stages.alerts.sinks: an alert sink failed (retryable or not)
"""

from __future__ import annotations


class NewsriftError(Exception):
    """Root of every error newsrift raises on purpose."""


class ConfigError(NewsriftError):
    """Settings or a data file that cannot be used."""


class MessageError(NewsriftError):
    """A message that does not decode or does not match its schema."""


class ProcessingError(NewsriftError):
    """A well-formed message that a stage could not process."""


class IndexingError(NewsriftError):
    """Elasticsearch rejected documents permanently (mapping conflict, bad value)."""
