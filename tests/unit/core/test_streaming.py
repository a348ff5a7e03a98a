import base64
import json

import pytest

from pipeline.errors import MessageError
from pipeline.model import RawArticle
from pipeline.streaming import dead_letter, decode, encode, kv


def test_decode_reports_why() -> None:
    with pytest.raises(MessageError, match="not JSON"):
        decode(b"{nope", RawArticle.from_json)
    with pytest.raises(MessageError, match="JSON object"):
        decode(b"[1,2]", RawArticle.from_json)
    with pytest.raises(MessageError, match="missing field 'url'"):
        decode(b'{"article_id":"a","outlet_id":"o"}', RawArticle.from_json)
    with pytest.raises(MessageError, match="empty"):
        decode(None, RawArticle.from_json)


def test_decode_roundtrip() -> None:
    r = RawArticle(article_id="a", outlet_id="o", url="u", title="t")
    assert decode(encode(r.to_json()), RawArticle.from_json) == r


def test_dead_letter_keeps_the_whole_payload() -> None:
    env = dead_letter(stage="s", topic="t", partition=0, offset=7, key=b"k", value=b"\xff\xfebinary", error="bad")
    assert base64.b64decode(env["payload_b64"]) == b"\xff\xfebinary"
    env2 = dead_letter(stage="s", topic="t", partition=0, offset=7, key=None, value=b'{"a":1}',
                       error=MessageError("why"))
    assert json.loads(env2["payload"]) == {"a": 1} and env2["error_type"] == "MessageError"


def test_kv_quotes_values_with_spaces() -> None:
    assert kv(a=1, b="two words") == 'a=1 b="two words"'
