"""Templates, aliases and bulk writes against the real Elasticsearch node."""

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch

from newsrift.messages import ClaimMessage
from newsrift.model import Claim
from newsrift.runtime.bulk import write_bulk
from newsrift.stages.index.core import BulkAction, IndexNames, actions_for, install_templates, load_template

pytestmark = pytest.mark.integration
T = datetime(2018, 2, 14, tzinfo=timezone.utc)


@pytest.fixture()
def names(es_url: str, unique_name: str) -> Iterator[IndexNames]:
    n = IndexNames(f"nr-{unique_name}")
    yield n
    es = Elasticsearch(es_url)
    es.indices.delete(index=f"{n.prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    for kind in ("articles", "claims", "events", "disputes", "alerts"):
        with contextlib.suppress(Exception):
            es.indices.delete_index_template(name=n.alias(kind))
    es.close()


def claim(i: int) -> Claim:
    return Claim(claim_id=f"c{i}", article_id="a1", outlet_id="o1", speaker="James Mattis", speaker_type="person",
                 cue="said", text=f"statement number {i} about Syria", start=0, end=10, published=T)


def test_templates_and_aliases_install_idempotently(es_url: str, names: IndexNames) -> None:
    es = Elasticsearch(es_url)
    first = install_templates(es, names)
    assert names.index("claims") in first
    assert install_templates(es, names) == []  # second run creates nothing
    aliases = es.indices.get_alias(name=names.alias("claims"))
    assert list(aliases) == [names.index("claims")]
    mapping = es.indices.get_mapping(index=names.alias("disputes"))
    assert mapping[names.index("disputes")]["mappings"]["properties"]["sides"]["type"] == "nested"
    es.close()


def test_bulk_is_idempotent_and_rejections_are_returned(es_url: str, names: IndexNames) -> None:
    es = Elasticsearch(es_url)
    install_templates(es, names)
    actions = [a for i in range(5) for a in actions_for(ClaimMessage(claim(i)), names)]
    bad = BulkAction("index", names.alias("claims"), "bad", {"claim_id": "bad", "unmapped_field": 1})

    async def go() -> list:
        aes = AsyncElasticsearch(es_url)
        try:
            await write_bulk(aes, actions)
            return await write_bulk(aes, [*actions, bad])  # re-delivery of the same five, plus one bad
        finally:
            await aes.close()

    failed = asyncio.run(go())
    assert [a.doc_id for a, _ in failed] == ["bad"]
    assert "strict" in failed[0][1]
    es.indices.refresh(index=names.alias("claims"))
    assert es.count(index=names.alias("claims"))["count"] == 5
    hits = es.search(index=names.alias("claims"), query={"match": {"text": "number 3"}})["hits"]["hits"]
    assert hits[0]["_id"] == "c3"
    es.close()


def test_bulk_waits_out_an_elasticsearch_outage(es_url: str, names: IndexNames) -> None:
    """ES unreachable at first (a loopback proxy not yet listening): the writer retries and then writes all."""
    es = Elasticsearch(es_url)
    install_templates(es, names)
    es_port = int(es_url.rsplit(":", 1)[1])

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", es_port)
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw), return_exceptions=True)

    async def go() -> list:
        # Reserve a free port, then leave it closed: connections are refused until the proxy starts.
        probe = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        aes = AsyncElasticsearch(f"http://127.0.0.1:{port}", retry_on_timeout=False, max_retries=0)
        task = asyncio.create_task(write_bulk(aes, actions_for(ClaimMessage(claim(1)), names), max_wait=1.0))
        await asyncio.sleep(2.5)
        assert not task.done()  # still retrying, nothing dropped
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        try:
            return await asyncio.wait_for(task, 30)
        finally:
            server.close()
            await aes.close()

    assert asyncio.run(go()) == []
    es.indices.refresh(index=names.alias("claims"))
    assert es.count(index=names.alias("claims"))["count"] == 1
    es.close()


def test_an_index_made_before_a_field_existed_takes_it_on_install(es_url: str, names: IndexNames) -> None:
    """Mappings are strict: an index created before ``refers_to`` existed would reject every claim carrying it.
    Installing the templates again adds the new fields to the existing index."""
    es = Elasticsearch(es_url)
    install_templates(es, names)
    index = names.index("claims")
    es.indices.delete(index=index)
    es.indices.delete_index_template(name=names.alias("claims"))  # as before the upgrade: no template knows it
    old = load_template("claims")["template"]
    old_props = {k: v for k, v in old["mappings"]["properties"].items() if k != "refers_to"}
    es.indices.create(index=index, settings=old.get("settings"), mappings={**old["mappings"], "properties": old_props},
                      aliases={names.alias("claims"): {"is_write_index": True}})
    assert "refers_to" not in es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert install_templates(es, names) == []
    assert "refers_to" in es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    es.index(index=names.alias("claims"), id="c1", document={**claim(1).to_json(), "refers_to": "the account"})
    es.close()
