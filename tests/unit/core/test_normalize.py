from datetime import datetime, timezone

import pytest

from newsrift.errors import ProcessingError
from newsrift.model import RawArticle
from newsrift.stages.normalize.core import MAX_TEXT_CHARS, content_hash, guess_language, html_to_text, normalise

NOW = datetime(2018, 2, 14, 12, 0, tzinfo=timezone.utc)


def raw(**kw: object) -> RawArticle:
    base = {"article_id": "a1", "outlet_id": "o1", "url": "https://o1.example/a", "title": "T"}
    base.update(kw)
    return RawArticle(**base)  # type: ignore[arg-type]


def test_html_to_text_keeps_blocks_drops_scripts_and_entities() -> None:
    text = html_to_text("<p>Hello &amp; <b>world</b></p><script>evil()</script><p>Two   lines&nbsp;here</p>")
    assert text == "Hello & world\nTwo lines here"


def test_unbalanced_html_and_plain_text() -> None:
    assert html_to_text("<p>open <b>never closed") == "open never closed"
    assert html_to_text("plain &quot;quoted&quot; text") == 'plain "quoted" text'


def test_content_hash_ignores_case_and_spacing_but_not_words() -> None:
    assert content_hash("Hello,  World") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello there world")


def test_normalise_uses_content_then_summary_and_fills_published() -> None:
    a = normalise(raw(summary="<p>Only a summary.</p>"), NOW)
    assert a.text == "Only a summary."
    assert a.published == NOW  # no published, no fetched_at: first seen now
    b = normalise(raw(content="<p>Body</p>", summary="sum", published=datetime(2018, 2, 13, tzinfo=timezone.utc)), NOW)
    assert b.text == "Body" and b.published and b.published.day == 13


def test_normalise_refuses_empty_and_oversized_with_reason() -> None:
    with pytest.raises(ProcessingError, match="no text"):
        normalise(raw(content="<p>  </p>"), NOW)
    with pytest.raises(ProcessingError, match="over"):
        normalise(raw(content="x " * (MAX_TEXT_CHARS // 2 + 10)), NOW)


def test_guess_language() -> None:
    assert guess_language("The minister said that the troops were in the city.", None) == "en"
    assert guess_language("Der Minister sagte, dass die Truppen in der Stadt waren und bleiben.", None) is None
    assert guess_language("anything", "de-DE") == "de"
