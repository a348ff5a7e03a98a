"""Bad input to the `newsrift` CLI is one line on stderr and a non-zero exit, never a traceback, and never lost data:
analyze, search --size, lag, watch and invalid NEWSRIFT_* settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsrift.cli.main import app
from newsrift.errors import ConfigError, NewsriftError
from newsrift.runtime import lag as lag_mod
from newsrift.runtime.analyze import analyze_file
from newsrift.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[3]
GOOD = (ROOT / "seeds" / "articles.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("NEWSRIFT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEWSRIFT_WATCHLIST", str(tmp_path / "watch.json"))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _one_line_error(result: object, *, code: int = 1) -> str:
    out = result.output  # type: ignore[attr-defined]
    assert result.exit_code == code, out  # type: ignore[attr-defined]
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, out
    return errors[0]


# ------------------------------------------------------------------------------------------------------ analyze


def test_analyze_refuses_to_write_over_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(GOOD[0] + "\n")
    (tmp_path / "link.jsonl").symlink_to(src)
    monkeypatch.chdir(tmp_path)
    run = CliRunner()
    for out in ("in.jsonl", str(src), "./sub/../in.jsonl", "link.jsonl"):
        r = run.invoke(app, ["analyze", "in.jsonl", "--out", out])
        assert "is the input file itself" in _one_line_error(r), out
        assert src.read_text() == GOOD[0] + "\n"  # untouched
    r = run.invoke(app, ["analyze", "in.jsonl.rejected.jsonl", "--out", "in.jsonl"])
    assert "no such file" in _one_line_error(r)
    (tmp_path / "x.jsonl.rejected.jsonl").write_text(GOOD[0] + "\n")
    r = run.invoke(app, ["analyze", "x.jsonl.rejected.jsonl", "--out", "x.jsonl"])
    assert "rejected-lines file" in _one_line_error(r)


def test_analyze_paths_that_cannot_be_used(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(GOOD[0] + "\n")
    run = CliRunner()
    assert "is a directory" in _one_line_error(run.invoke(app, ["analyze", str(tmp_path), "--out",
                                                                str(tmp_path / "o.jsonl")]))
    assert "is a directory" in _one_line_error(run.invoke(app, ["analyze", str(src), "--out", str(tmp_path)]))
    assert "no such file" in _one_line_error(run.invoke(app, ["analyze", str(tmp_path / "nope.jsonl"), "--out",
                                                              str(tmp_path / "o.jsonl")]))


def test_a_line_that_is_not_utf8_is_rejected_with_its_file_line_number(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [GOOD[0].encode(), b"", b'{"id": "x", "text": "caf\xe9 au lait"}', b"{broken", b'{"id": "y"}',
             GOOD[1].encode()]
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    counts = analyze_file(src, out)
    assert counts["article"] == 2 and counts["rejected"] == 3
    rejected = [json.loads(line) for line in (tmp_path / "out.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [(r["line"], r["error"].split(":")[0]) for r in rejected] == [(3, "not UTF-8"), (4, "not JSON"),
                                                                         (5, "missing text")]
    assert "\\xe9" in rejected[0]["raw"]  # the bad byte is shown, not lost
    assert {r["type"] for r in rejected} == {"rejected_line"}
    assert {json.loads(line)["id"] for line in out.read_text().splitlines()
            if json.loads(line)["type"] == "article"} == {json.loads(GOOD[0])["id"], json.loads(GOOD[1])["id"]}


def test_a_line_with_wrongly_typed_fields_is_rejected_not_a_crash(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join([GOOD[0], '{"id": "p", "text": "Five died.", "published": 1700000000}',
                              '{"id": "l", "text": "Five died.", "language": 5}', GOOD[1]]) + "\n")
    counts = analyze_file(src, out)
    assert counts["article"] == 2 and counts["rejected"] == 2
    rejected = [json.loads(line) for line in (tmp_path / "out.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [2, 3]
    assert "published" in rejected[0]["error"] and "language" in rejected[1]["error"]


def test_the_summary_names_the_rejected_file_only_when_lines_were_rejected(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(GOOD[0] + "\n{broken\n")
    r = CliRunner().invoke(app, ["analyze", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "rejected=1" in r.output and str(tmp_path / "out.jsonl.rejected.jsonl") in r.output
    src.write_text(GOOD[0] + "\n")
    r = CliRunner().invoke(app, ["analyze", str(src), "--out", str(out)])
    assert "rejected=0" in r.output and "rejected.jsonl" not in r.output
    assert not (tmp_path / "out.jsonl.rejected.jsonl").exists()


# ------------------------------------------------------------------------------------------------ search size


@pytest.mark.parametrize("size", ["-1", "0", "100000"])
def test_search_size_out_of_range(size: str) -> None:
    r = CliRunner().invoke(app, ["search", "Mattis", "--size", size])
    assert "--size must be between 1 and 10000" in _one_line_error(r)


def test_a_query_that_starts_with_a_minus_is_a_query_not_an_option(env: pytest.MonkeyPatch) -> None:
    # "-Mattis" is simple query syntax for "not Mattis"; no Elasticsearch listens here, so the search itself fails.
    env.setenv("NEWSRIFT_ES_URL", "http://127.0.0.1:9")
    line = _one_line_error(CliRunner().invoke(app, ["search", "-Mattis"]))
    assert "No such option" not in line and "Elasticsearch" in line


# ------------------------------------------------------------------------------------------------ settings


def test_an_invalid_setting_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSRIFT_KAFKA_PORT", "ninety")
    line = _one_line_error(CliRunner().invoke(app, ["watch", "list"]))
    assert "NEWSRIFT_KAFKA_PORT='ninety'" in line and "valid integer" in line
    with pytest.raises(ConfigError, match="NEWSRIFT_KAFKA_PORT"):
        get_settings()


def test_a_cross_field_setting_error_is_one_line_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSRIFT_DISPUTE_STALE_SECONDS", "100")
    env.setenv("NEWSRIFT_DISPUTE_RETENTION_SECONDS", "10")
    line = _one_line_error(CliRunner().invoke(app, ["topics"]))
    assert "NEWSRIFT_DISPUTE_STALE_SECONDS must be positive" in line


# ------------------------------------------------------------------------------------------------------- lag


def test_lag_prints_missing_topics_and_exits_1(env: pytest.MonkeyPatch) -> None:
    env.setattr(lag_mod, "topic_lag", lambda s: {"a.v1": 3, "b.v1": None})
    r = CliRunner().invoke(app, ["lag"])
    assert r.exit_code == 1 and r.output.splitlines() == ["a.v1 lag=3", "b.v1 missing"]
    env.setattr(lag_mod, "topic_lag", lambda s: {"a.v1": 0})
    assert CliRunner().invoke(app, ["lag"]).exit_code == 0


def test_lag_without_a_broker_says_so(env: pytest.MonkeyPatch) -> None:
    def down(s: Settings) -> dict[str, int | None]:
        raise NewsriftError(f"Kafka not reachable at {s.kafka_bootstrap}")

    env.setattr(lag_mod, "topic_lag", down)
    env.setenv("NEWSRIFT_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    assert "Kafka not reachable at 127.0.0.1:9" in _one_line_error(CliRunner().invoke(app, ["lag"]))


def test_topic_lag_turns_an_unreachable_broker_into_a_newsrift_error() -> None:
    # Nothing listens on port 9: the admin client gives up after the bootstrap timeout.
    with pytest.raises(NewsriftError, match=r"Kafka not reachable at 127\.0\.0\.1:9 "):
        lag_mod.topic_lag(Settings(kafka_bootstrap="127.0.0.1:9"), bootstrap_timeout_ms=500)


def test_consumer_lag_counts_a_missing_topic_as_nothing_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lag_mod, "topic_lag", lambda s: {"a": None, "b": 2})
    assert lag_mod.consumer_lag(Settings()) == {"a": 0, "b": 2}


# ----------------------------------------------------------------------------------------------------- watch


@pytest.mark.parametrize(("args", "reason"), [
    (["--notify", "pager"], "unknown sink(s) pager"), (["-e", ""], "empty entity"), (["-k", " "], "empty keyword"),
    (["-o", ""], "empty outlet"),
])
def test_watch_add_refuses_what_would_never_or_always_match(env: pytest.MonkeyPatch, tmp_path: Path,
                                                            args: list[str], reason: str) -> None:
    assert reason in _one_line_error(CliRunner().invoke(app, ["watch", "add", "w", *args]))
    assert not (tmp_path / "watch.json").exists()


def test_watch_add_duplicate_names_the_replace_option(env: pytest.MonkeyPatch) -> None:
    run = CliRunner()
    assert run.invoke(app, ["watch", "add", "w", "-e", "Mattis", "--notify", "email"]).exit_code == 0
    assert "(use --replace to overwrite it)" in _one_line_error(run.invoke(app, ["watch", "add", "w", "-e", "X"]))
    assert run.invoke(app, ["watch", "add", "w", "-e", "X", "--replace"]).exit_code == 0


def test_watch_list_with_a_broken_file_is_one_line(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "watch.json").write_text("{")
    assert "not a newsrift watchlist" in _one_line_error(CliRunner().invoke(app, ["watch", "list"]))
