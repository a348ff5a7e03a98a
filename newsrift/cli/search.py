"""Search over the indexed documents (used by ``newsrift search``)."""

from __future__ import annotations

from typing import Any

from newsrift.errors import ConfigError, NewsriftError
from newsrift.settings import Settings
from newsrift.stages.index.core import INDEX_KINDS, IndexNames

# Fields searched per kind, most telling first.
FIELDS = {
    "articles": ["title^3", "text"],
    "claims": ["text", "speaker.text^2"],
    "events": ["title"],
    "disputes": ["topic^2", "notes"],
    "alerts": ["text", "topic"],
}


def build_query(kind: str, query: str) -> dict[str, Any]:
    if kind not in INDEX_KINDS:
        raise ConfigError(f"unknown kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    should: list[dict[str, Any]] = [
        {"simple_query_string": {"query": query, "fields": FIELDS[kind], "default_operator": "and"}}
    ]
    if kind == "disputes":
        # A dispute matches through what its sides say, too.
        should.append({"nested": {"path": "sides", "query": {"simple_query_string": {
            "query": query, "fields": ["sides.quote", "sides.speaker.text"], "default_operator": "and"}}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def run_search(settings: Settings, query: str, kind: str = "articles", size: int = 10) -> list[dict[str, Any]]:
    from elasticsearch import ConnectionError as ESConnectionError
    from elasticsearch import Elasticsearch, NotFoundError

    es = Elasticsearch(settings.es_url, request_timeout=15)
    try:
        resp = es.search(index=IndexNames(settings.index_prefix).alias(kind), query=build_query(kind, query),
                         size=size)
    except ESConnectionError as e:
        raise NewsriftError(f"Elasticsearch at {settings.es_url} is not reachable (newsrift services up?)") from e
    except NotFoundError as e:
        raise NewsriftError(f"nothing indexed yet: {IndexNames(settings.index_prefix).alias(kind)} missing") from e
    finally:
        es.close()
    return [h["_source"] for h in resp["hits"]["hits"]]
