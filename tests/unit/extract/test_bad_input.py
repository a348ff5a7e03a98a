"""Articles that must not break extraction, and the few that are refused with a clear reason."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from spacy.language import Language

from newsrift.errors import ProcessingError
from newsrift.model import Article, stable_id
from newsrift.stages.extract import MAX_CHARS, ExtractError, ExtractionError, extract_claims, extract_many

PUB = datetime(2018, 2, 14, 12, tzinfo=timezone.utc)


def art(text: str, aid: str = "a") -> Article:
    return Article(
        article_id=aid, outlet_id="desk", url="", title="", text=text, content_hash=stable_id(text), published=PUB
    )


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_article_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ExtractionError, match="no text") as e:
        extract_claims(art(text, "empty-1"))
    assert e.value.article_id == "empty-1"
    assert isinstance(e.value, ExtractError) and isinstance(e.value, ProcessingError)


def test_oversized_article_is_refused_before_parsing() -> None:
    with pytest.raises(ExtractionError, match="over the limit"):
        extract_claims(art("x" * (MAX_CHARS + 1)))


def test_a_parse_of_other_text_is_refused(nlp: Language) -> None:
    with pytest.raises(ExtractionError, match="not of the article"):
        extract_claims(art("The army said five soldiers died."), nlp("Something else."))


def test_a_bad_article_in_a_batch_is_reported_before_any_result() -> None:
    good, bad = art("The army said five soldiers died.", "good"), art("", "bad")
    results = extract_many([good, bad])
    with pytest.raises(ExtractionError) as e:
        next(results)
    assert e.value.article_id == "bad"


def test_a_batch_yields_every_article_in_order_with_entities() -> None:
    texts = ["The army said five soldiers died in Aleppo.", "Police said 12 people were arrested in Paris."]
    out = list(extract_many([art(t, str(i)) for i, t in enumerate(texts)], batch_size=1))
    assert [a.article_id for a, _, _ in out] == ["0", "1"]
    for (_, claims, ents), t in zip(out, texts, strict=True):
        assert claims and all(t[e.start : e.end] == e.text for e in ents)
        assert ents


@pytest.mark.parametrize(
    ("text", "max_claims"),
    [
        (
            "Der Minister sagte am Dienstag, dass fünf Menschen bei dem Anschlag in der Stadt getötet wurden und "
            "zwölf weitere verletzt worden seien, teilte die Polizei mit.",
            0,
        ),
        (
            "El ministerio dijo que cinco personas murieron en la explosión y que otras doce resultaron heridas "
            "según fuentes oficiales de la ciudad.",
            0,
        ),
        ("<p>The minister <b>said</b> that &amp; five people</p> were <i>killed</i> <br/>", 2),
        ('"We will never accept this, the spokesman said. He added that 40 people were hurt.', 2),
        ("\u201cUnbalanced quote said the army that 12 soldiers died", 2),
        ("...!!! ??? 123 456 ;;; \x00 \ufeff", 2),
        ("said said said that that that 5 5 5", 3),
    ],
)
def test_odd_inputs_do_not_crash_and_spans_stay_exact(nlp: Language, text: str, max_claims: int) -> None:
    claims = extract_claims(art(text), nlp(text))
    assert len(claims) <= max_claims
    for c in claims:
        assert c.text in text[c.start : c.end]
        assert all(text[q.start : q.end] == q.text for q in c.quantities)


def test_html_remnants_still_give_the_statement(nlp: Language) -> None:
    text = "<div class='story'>The ministry said that five people were killed in the blast.</div>"
    claims = extract_claims(art(text), nlp(text))
    assert any(q.counted == "killed" and q.low == 5 for c in claims for q in c.quantities)


@pytest.mark.slow
def test_a_one_megabyte_article_is_processed() -> None:
    para = "The ministry said that five people were killed in the blast near the port on Tuesday.\n"
    text = (para * (MAX_CHARS // len(para) + 1))[:MAX_CHARS]
    ((_, claims, entities),) = list(extract_many([art(text)]))
    assert len(claims) > 10_000 and entities
