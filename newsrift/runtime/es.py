"""Elasticsearch clients and start-up installation of templates and aliases."""

from __future__ import annotations

from typing import Any

from newsrift.settings import Settings
from newsrift.stages.index.core import IndexNames, install_templates


def connect(settings: Settings, asynchronous: bool = False) -> Any:
    if asynchronous:
        from elasticsearch import AsyncElasticsearch

        return AsyncElasticsearch(settings.es_url, request_timeout=30)
    from elasticsearch import Elasticsearch

    return Elasticsearch(settings.es_url, request_timeout=30)


def ensure_indices(settings: Settings, names: IndexNames | None = None) -> list[str]:
    es = connect(settings)
    try:
        return install_templates(es, names or IndexNames(settings.index_prefix))
    finally:
        es.close()
