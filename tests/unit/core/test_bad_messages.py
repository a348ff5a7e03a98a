"""Bad input that used to crash a stage: wrong types, non-finite numbers, messages over Kafka's size limit."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from newsrift.errors import MessageError, ProcessingError
from newsrift.model import Article, RawArticle
from newsrift.stages.normalize.core import MAX_TEXT_CHARS, html_to_text, normalise
from newsrift.streaming import (
    MAX_ENVELOPE_BYTES,
    MAX_MESSAGE_BYTES,
    dead_letter,
    decode,
    decode_json,
    encode,
    encode_message,
    reason,
)

NOW = datetime(2018, 2, 14, tzinfo=timezone.utc)
GOOD: dict[str, Any] = {"article_id": "a1", "outlet_id": "o1", "url": "https://o1.example/1", "title": "T",
                        "content": "<p>The mayor said five people died.</p>"}


def raw_bytes(**fields: Any) -> bytes:
    return json.dumps({**GOOD, **fields}).encode()


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"published": 1700000000}, "'published' must be an ISO 8601 time string, not int"),
        ({"fetched_at": True}, "'fetched_at' must be an ISO 8601 time string, not bool"),
        ({"published": "yesterday"}, "'published' is not an ISO 8601 time"),
        ({"language": 7}, "'language' must be a string, not int"),
        ({"content": ["x"]}, "'content' must be a string, not list"),
        ({"summary": {"a": 1}}, "'summary' must be a string, not dict"),
        ({"title": 5}, "'title' must be a string"),
        ({"article_id": 12}, "'article_id' must be a string"),
        ({"article_id": ""}, "'article_id' must not be empty"),
        ({"revision": "abc"}, "'revision' must be an integer"),
        ({"revision": 1.5}, "'revision' must be an integer"),
        ({"revision": -1}, "'revision' is out of range"),
        ({"revision": 10**30}, "'revision' is out of range"),
        ({"revision": [1]}, "'revision' must be an integer, not list"),
        ({"published_is_fallback": "yes"}, "'published_is_fallback' must be a boolean"),
    ],
)
def test_wrong_types_in_a_raw_article_are_message_errors_naming_the_field(fields: dict[str, Any], why: str) -> None:
    with pytest.raises(MessageError, match=why.replace("(", r"\(")):
        decode(raw_bytes(**fields), RawArticle.from_json)


def test_a_revision_that_overflows_a_double_is_refused_when_decoded() -> None:
    value = raw_bytes().replace(b'"title"', b'"revision": 1e400, "title"')
    with pytest.raises(MessageError, match="out of range"):
        decode(value, RawArticle.from_json)


def test_good_raw_article_still_decodes_and_normalises() -> None:
    raw = decode(raw_bytes(published="2018-02-13T10:00:00Z", revision=2, language="en-GB"), RawArticle.from_json)
    article = normalise(raw, NOW)
    assert article.revision == 2 and article.language == "en" and article.published and article.published.day == 13


def test_an_article_message_with_wrong_types_is_a_message_error() -> None:
    doc = Article(article_id="a", outlet_id="o", url="u", title="t", text="x", content_hash="h", published=NOW)
    data = doc.to_json()
    assert Article.from_json(json.loads(encode(data))) == doc
    with pytest.raises(MessageError, match="'text' must be a string"):
        decode(encode({**data, "text": 5}), Article.from_json)
    with pytest.raises(MessageError, match="'published' must be an ISO 8601"):
        decode(encode({**data, "published": 5}), Article.from_json)


def test_any_exception_of_a_parser_is_a_message_error_with_its_type() -> None:
    def parse(d: dict[str, Any]) -> Any:
        return d["x"].strip()  # AttributeError on a number

    with pytest.raises(MessageError, match="invalid message: AttributeError"):
        decode(b'{"x": 5}', parse)
    with pytest.raises(MessageError, match="invalid message: OverflowError"):
        decode(b'{"x": 1}', lambda d: int(float("inf")))


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}',
                                  '{"a": -2.5e999}'])
def test_decode_json_refuses_non_finite_numbers(text: str) -> None:
    with pytest.raises(MessageError):
        decode_json(text.encode())


def test_decode_json_refuses_absurd_json_with_a_reason() -> None:
    with pytest.raises(MessageError, match="not JSON"):
        decode_json(b'{"a": ' + b"9" * 5000 + b"}")  # over Python's int digit limit: a ValueError, not a decode error
    with pytest.raises(MessageError, match="not JSON"):
        decode_json(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "\ud800"])
def test_encode_refuses_what_json_cannot_carry(value: Any) -> None:
    with pytest.raises(ProcessingError, match="cannot encode"):
        encode({"a": value})


def test_encode_message_refuses_a_message_over_the_kafka_limit() -> None:
    assert encode_message({"text": "x" * 1000}, "small") == encode({"text": "x" * 1000})
    with pytest.raises(ProcessingError, match=f"the analysed article is \\d+ bytes encoded, over the "
                                              f"{MAX_MESSAGE_BYTES}-byte message limit"):
        encode_message({"text": "x" * MAX_MESSAGE_BYTES}, "the analysed article")


def test_reason_names_the_type_of_an_unexpected_error() -> None:
    assert reason(MessageError("bad")) == "bad"
    assert reason(AttributeError("'int' object has no attribute 'replace'")) == \
        "unexpected AttributeError: 'int' object has no attribute 'replace'"
    assert reason(AssertionError()) == "unexpected AssertionError"
    env = dead_letter(stage="s", topic="t", partition=0, offset=1, key=None, value=b"{}", error=TypeError("no"))
    assert env["error"] == "unexpected TypeError: no" and env["error_type"] == "TypeError"


def _envelope(value: bytes, key: bytes | None = b"k") -> dict[str, Any]:
    env = dead_letter(stage="analyse_articles", topic="news.articles.raw.v1", partition=2, offset=41, key=key,
                      value=value, error=ProcessingError("too long"))
    assert len(encode(env)) <= MAX_ENVELOPE_BYTES
    assert (env["topic"], env["partition"], env["offset"]) == ("news.articles.raw.v1", 2, 41)
    return env


def test_a_dead_letter_envelope_is_whole_when_it_fits() -> None:
    value = json.dumps({**GOOD, "content": "é" * 200_000}, ensure_ascii=False).encode()
    env = _envelope(value)
    assert env["payload"].encode() == value and "payload_truncated" not in env and "payload_bytes" not in env
    binary = b"\xff" * 600_000
    env = _envelope(binary)
    assert base64.b64decode(env["payload_b64"]) == binary and "payload_truncated" not in env


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe" + b"x" * 800_000,  # not UTF-8: base64 makes it a third larger
        json.dumps({**GOOD, "content": "x" * 1_200_000}).encode(),
        ("\x01" * 300_000).encode(),  # each control character is a six-byte escape in JSON
        ('"\\' * 400_000).encode(),
        ("\u00e9\U0001f600" * 300_000).encode(),  # multi-byte characters: the cut must not split one
    ],
    ids=["binary", "large-json", "control-chars", "escapes", "multibyte"],
)
def test_a_dead_letter_envelope_over_the_limit_keeps_the_start_and_says_so(value: bytes) -> None:
    env = _envelope(value, key=b"k" * 50_000)
    assert env["payload_truncated"] is True and env["payload_bytes"] == len(value)
    kept = base64.b64decode(env["payload_b64"]) if "payload_b64" in env else env["payload"].encode()
    assert value.startswith(kept) and len(kept) > 100_000
    assert env["error"] == "too long" and len(env["key"]) < 11_000


def test_an_over_long_article_is_refused_naming_the_limit() -> None:
    raw = RawArticle(article_id="long1", outlet_id="o", url="u", title="t", content="word " * MAX_TEXT_CHARS)
    with pytest.raises(ProcessingError, match=f"over the limit of {MAX_TEXT_CHARS}"):
        normalise(raw, NOW)
    ok = RawArticle(article_id="ok1", outlet_id="o", url="u", title="t", content="w" * MAX_TEXT_CHARS)
    assert len(normalise(ok, NOW).text) == MAX_TEXT_CHARS


def test_over_long_ids_and_urls_are_refused_and_titles_cut() -> None:
    with pytest.raises(ProcessingError, match="article_id has 5000 characters"):
        normalise(RawArticle(article_id="a" * 5000, outlet_id="o", url="u", title="t", content="x"), NOW)
    with pytest.raises(ProcessingError, match="url has"):
        normalise(RawArticle(article_id="a", outlet_id="o", url="u" * 10_000, title="t", content="x"), NOW)
    article = normalise(RawArticle(article_id="a", outlet_id="o", url="u", title="t " * 5000, content="x"), NOW)
    assert len(article.title) <= 1000 and article.title.endswith("\u2026")


def test_control_characters_and_lone_surrogates_leave_the_text() -> None:
    assert html_to_text("a\x00b\x1bc\x7fd\u0085e\tf\ud800g") == "a b c d e f\ufffdg"
    raw = RawArticle(article_id="s1", outlet_id="o", url="u", title="t\ud800", content="<p>Body \udc00 here</p>")
    encode(normalise(raw, NOW).to_json())  # raised UnicodeEncodeError before


def _analysed_at_the_limit(text: str) -> tuple[dict[str, Any], Article]:
    from newsrift.stages.normalize.pipeline import analyse_batch

    raw = RawArticle(article_id="a" * 128, outlet_id="o" * 128, url="u" * 4096, title="T " * 1000,
                     content=text[:MAX_TEXT_CHARS], language="en", published=NOW)
    article = normalise(raw, NOW)
    (result,) = analyse_batch([article])
    assert not isinstance(result, Exception)
    return result, article


def test_real_prose_at_the_limit_fits_every_kafka_message_and_table_value(seed_text: str) -> None:
    """News prose (the seed story over and over) at the longest text allowed: every derived message and table
    value well under Kafka's 1,000,000 bytes, and its dead letter whole."""
    from newsrift.stages.events.assign import Assigner

    result, _ = _analysed_at_the_limit("\n".join([seed_text] * (MAX_TEXT_CHARS // len(seed_text) + 1)))
    analysed = encode_message(result, "the analysed article")
    assert len(result["claims"]) > 200 and len(analysed) < 600_000
    reprints: dict[str, Any] = {}
    events: dict[str, Any] = {}
    placement = Assigner(reprints, events).place(Article.from_json(result["article"]))
    assert placement.event_id
    assert max(len(encode(v if isinstance(v, dict) else {"v": v})) for v in [*reprints.values(), *events.values()]) \
        < 500_000
    letter = dead_letter(stage="s", topic="t", partition=0, offset=0, key=None, value=analysed, error="x")
    assert "payload_truncated" not in letter and len(encode(letter)) < MAX_ENVELOPE_BYTES


def test_text_dense_with_short_claims_at_the_limit_is_refused_before_kafka_would() -> None:
    """About 12 bytes of analysis per character: over the message limit, refused with the reason (the agent
    dead-letters it) rather than crashing the producer."""
    para = "The ministry said that {n} people were killed in the blast near the port on Tuesday.\n"
    result, _ = _analysed_at_the_limit("".join(para.format(n=i % 900 + 2) for i in range(MAX_TEXT_CHARS // 80)))
    assert len(result["claims"]) > 800
    with pytest.raises(ProcessingError, match="900000"):
        encode_message(result, "the analysed article")


def test_reprint_record_of_one_letter_words_at_the_limit_stays_small() -> None:
    """The densest shingles: one-letter words, every 5-shingle distinct. The record keeps them all."""
    import random

    from newsrift.stages.dedupe.core import ReprintIndex

    rnd = random.Random(7)
    text = " ".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(MAX_TEXT_CHARS // 2))
    article = normalise(RawArticle(article_id="a" * 128, outlet_id="o", url="u", title="t", content=text), NOW)
    store: dict[str, Any] = {}
    index = ReprintIndex(store)
    index.add(article, index.check(article))
    assert len(encode(store["r:" + "a" * 128])) < 800_000
