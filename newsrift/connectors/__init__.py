"""Feed connectors: registry, safe fetching, parsing, per-feed state, polling and sinks (no Faust here).

Errors, all under ``newsrift.errors.NewsriftError``:

- ``FetchError``: a feed or page could not be fetched (``retry_after``, ``permanent``, ``status`` say why);
- ``FeedParseError``: the bytes are not a feed at all;
- ``PublishError``: the sink did not acknowledge an article (it stays unseen and is published on the next poll);
- ``newsrift.errors.ConfigError``: a registry or OPML file that cannot be used.
"""

from newsrift.connectors.http import FetchError, FetchResult, fetch, make_client
from newsrift.connectors.items import FeedParseError, canonical_url, entry_to_raw, item_hash, parse_feed
from newsrift.connectors.politeness import HostLimiter
from newsrift.connectors.poller import PollConfig, Summary, poll_feed, poll_once, run_forever
from newsrift.connectors.registry import Feed, FeedEntry, Outlet, Registry, load_registry, save_registry
from newsrift.connectors.sinks import ArticleSink, JsonlSink, KafkaSink, PublishError
from newsrift.connectors.state import FeedState, StateStore

__all__ = [
    "ArticleSink",
    "Feed",
    "FeedEntry",
    "FeedParseError",
    "FeedState",
    "FetchError",
    "FetchResult",
    "HostLimiter",
    "JsonlSink",
    "KafkaSink",
    "Outlet",
    "PollConfig",
    "PublishError",
    "Registry",
    "StateStore",
    "Summary",
    "canonical_url",
    "entry_to_raw",
    "fetch",
    "item_hash",
    "load_registry",
    "make_client",
    "parse_feed",
    "poll_feed",
    "poll_once",
    "run_forever",
    "save_registry",
]
