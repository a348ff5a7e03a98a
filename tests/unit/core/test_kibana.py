"""Every field the shipped Kibana objects reference exists in the Elasticsearch index templates."""

import json
import re
from pathlib import Path

from newsrift.stages.index.core import load_template

ROOT = Path(__file__).resolve().parents[3]


def _fields(props: dict, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, spec in props.items():
        out.add(prefix + name)
        out |= {f"{prefix}{name}.{sub}" for sub in spec.get("fields", {})}
        if "properties" in spec:
            out |= _fields(spec["properties"], prefix + name + ".")
    return out


def test_saved_objects_reference_only_mapped_fields() -> None:
    objs = [json.loads(line) for line in (ROOT / "deploy/kibana/saved_objects.ndjson").read_text().splitlines()]
    patterns = {o["id"]: o["attributes"]["title"] for o in objs if o["type"] == "index-pattern"}
    fields_by_pattern = {
        pid: _fields(load_template(title.removeprefix("newsrift-"))["template"]["mappings"]["properties"])
        for pid, title in patterns.items()
    }
    checked = 0
    for o in objs:
        if o["type"] == "index-pattern":
            assert o["attributes"]["timeFieldName"] in fields_by_pattern[o["id"]]
            checked += 1
        if o["type"] == "search":
            (ref,) = [r for r in o["references"] if r["type"] == "index-pattern"]
            fields = fields_by_pattern[ref["id"]]
            for col in o["attributes"]["columns"]:
                assert col in fields, f"{o['id']}: column {col} not mapped"
            for field, _order in o["attributes"]["sort"]:
                assert field in fields
            query = json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
            for field in re.findall(r"([A-Za-z_@][\w.@]*)\s*:", query):
                assert field in fields, f"{o['id']}: query field {field} not mapped"
            checked += 1
    dash = [o for o in objs if o["type"] == "dashboard"]
    assert dash and all(r["id"] in {o["id"] for o in objs} for r in dash[0]["references"])
    assert checked >= 7
