"""The batch driver (``newsrift analyze``): the same cores as the streaming pipeline, over a JSONL file.

Input lines: ``{"id", "outlet", "url", "title", "published", "text"}`` (published ISO 8601 or null). Output lines
each have a ``type``: ``article``, ``claim``, ``event`` or ``dispute`` (``schemas/analyze_output.v1.schema.json``).
Articles are processed in publication order (input order breaks ties; an undated article whose URL or dateline
states no date either keeps its place in the input after the dated one before it), as they would arrive in the
stream; an unknown date stays unknown (``newsrift.stages.events.dates``); claim offsets point into the input ``text``
exactly as given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from newsrift.errors import ConfigError, MessageError, ProcessingError
from newsrift.model import Article, Claim, RawArticle, format_time, parse_time
from newsrift.stages.disputes import DisputeDetector, EventDisputes, moves
from newsrift.stages.events.assign import Assigner, Move
from newsrift.stages.events.dates import arrival_order
from newsrift.stages.normalize.core import content_hash, guess_language, normalise
from newsrift.stages.normalize.pipeline import analyse_batch

__all__ = ["analyze_file", "analyze_lines", "analyze_records", "article_from_input", "rejected_path"]


def article_from_input(d: dict[str, Any]) -> Article:
    """One input line as an article; ``MessageError`` says what is wrong with it.

    Raw-article lines (what ``newsrift ingest --to-jsonl`` writes) are accepted too and normalised as the worker
    would; their claim offsets then point into the normalised text.
    """
    if not isinstance(d, dict):
        raise MessageError("an input line must be a JSON object")
    if "article_id" in d and "text" not in d:
        from newsrift.streaming import decode, encode

        try:
            raw = decode(encode(d), RawArticle.from_json)
        except ProcessingError as e:  # NaN or Infinity in the line: no JSON form
            raise MessageError(str(e)) from e
        try:
            return normalise(raw, raw.fetched_at or datetime.now(timezone.utc))
        except ProcessingError as e:
            raise MessageError(str(e)) from e
    missing = [k for k in ("id", "text") if not d.get(k)]
    if missing:
        raise MessageError(f"missing {', '.join(missing)}")
    if not isinstance(d["text"], str) or not isinstance(d["id"], str):
        raise MessageError("id and text must be strings")
    try:
        published = parse_time(d.get("published"))
    except (TypeError, ValueError) as e:
        raise MessageError(f"published is not an ISO 8601 string: {d.get('published')!r}") from e
    if d.get("language") is not None and not isinstance(d["language"], str):
        raise MessageError(f"language must be a string, not {d['language']!r}")
    text = d["text"]
    return Article(
        article_id=d["id"],
        outlet_id=str(d.get("outlet") or "unknown"),
        url=str(d.get("url") or ""),
        title=str(d.get("title") or ""),
        text=text,
        content_hash=content_hash(text),
        published=published,
        language=guess_language(text, d.get("language")),
    )


def analyze_records(records: Iterable[dict[str, Any]], errors: list[dict[str, Any]] | None = None) -> Iterator[dict]:
    """Yield output lines for the input records; rejected records go to ``errors`` with their reason (``line`` is
    the record's 1-based position)."""
    return analyze_lines(enumerate(records, 1), errors)


def analyze_lines(numbered: Iterable[tuple[int, Any]], errors: list[dict[str, Any]] | None = None) -> Iterator[dict]:
    """``analyze_records`` over (line number, record) pairs: rejections report the given line numbers (the file's
    lines, blank and unparseable ones included, when the records come from a file)."""
    articles: list[tuple[int, Article]] = []
    for n, rec in numbered:
        try:
            articles.append((n, article_from_input(rec)))
        except MessageError as e:
            if errors is not None:
                errors.append({"line": n, "error": str(e), "record": rec})
    articles = arrival_order(articles)
    ordered = [a for _, a in articles]
    line_of = {id(a): n for n, a in articles}

    assigner = Assigner({}, {})
    detector = DisputeDetector()
    dispute_states: dict[str, EventDisputes] = {}
    placed: dict[str, dict[str, Any]] = {}
    claims_out: list[Claim] = []
    latest = datetime(1970, 1, 1, tzinfo=timezone.utc)
    analysed = analyse_batch(ordered)
    for article, result in zip(ordered, analysed, strict=True):
        if isinstance(result, Exception):
            if errors is not None:
                errors.append({"line": line_of[id(article)], "id": article.article_id, "error": str(result)})
            continue
        article = Article.from_json(result["article"])
        claims = [Claim.from_json(cj) for cj in result["claims"]]
        placement = assigner.place(article, tuple(c.claim_id for c in claims))
        placed[article.article_id] = placement.to_json()
        latest = max(latest, article.published or latest)
        # The same order as the worker: the moves a settle made, then this article's claims where it landed.
        move_claims(detector, dispute_states, placement.moves, latest)
        assigner.moves_sent()
        for claim in claims:
            claim = dataclasses.replace(claim, event_id=placement.event_id)
            claims_out.append(claim)
            state = dispute_states.setdefault(placement.event_id, EventDisputes())
            now = claim.published or article.published or datetime(1970, 1, 1, tzinfo=timezone.utc)
            carriers = {article.article_id: list(placement.carriers)}
            if placement.duplicate_of:
                carriers[placement.duplicate_of] = list(placement.carriers)
            detector.update(state, claim, now, carriers=carriers, duplicate_of=placement.duplicate_of)
    # The end of the input is the worker's idle tick: what came since the last settle is settled.
    move_claims(detector, dispute_states, assigner.settle(), latest)
    assigner.moves_sent()

    # Events may have merged or articles moved after they were placed: report everything where it is now.
    final = assigner.resolve
    for article in ordered:
        if article.article_id not in placed:
            continue
        p = placed[article.article_id]
        yield {"type": "article", "id": article.article_id, "outlet": article.outlet_id,
               "event_id": assigner.event_of(article.article_id) or final(p["event_id"]),
               "duplicate_of": p["duplicate_of"],
               "carriers": p.get("carriers", []), "published": format_time(article.published)}
    for c in claims_out:
        yield {"type": "claim", "id": c.claim_id, "article_id": c.article_id,
               "event_id": assigner.event_of(c.article_id) or final(c.event_id or ""),
               "speaker": c.speaker, "speaker_type": c.speaker_type, "cue": c.cue, "text": c.text, "quote": c.statement,
               "start": c.start, "end": c.end, "polarity": c.polarity, "direct": c.direct, "hedges": list(c.hedges),
               "quantities": [q.to_json() for q in c.quantities], "outlet": c.outlet_id}
    for ev in assigner.events():
        if ev.merged_into:
            continue
        yield {"type": "event", "id": ev.event_id, "title": ev.title, "article_ids": list(ev.article_ids)}
    for event_id in sorted(dispute_states):
        for d in detector.disputes(dispute_states[event_id]):
            yield {
                "type": "dispute", "id": d.dispute_id, "event_id": final(d.event_id), "kind": d.kind,
                "topic": d.topic, "confidence": d.confidence, "status": d.status,
                "sides": [{"claim_id": s.claim_id, "article_id": s.article_id, "speaker": s.speaker,
                           "quote": s.quote, "start": s.start, "end": s.end, "outlets": list(s.outlets),
                           "polarity": s.polarity} for s in d.sides],
            }


def move_claims(detector: DisputeDetector, states: dict[str, EventDisputes], settled: Sequence[Move],
                now: datetime) -> None:
    """What the dispute stage does with move messages: each move's claims leave the old event's state (its
    disputes refreshed or withdrawn) and join the new event's."""
    for move in settled:
        old = states.get(move.from_event)
        if old is None:
            continue
        handover, _ = moves.move_out(detector, old, move.claim_ids, now)
        if handover.claims:
            moves.take_over(detector, states.setdefault(move.to_event, EventDisputes()), handover.to(move.to_event),
                            now)


def _read(path: Path, errors: list[dict[str, Any]]) -> Iterator[tuple[int, Any]]:
    """(file line number, parsed JSON) for each usable line; a line that is not UTF-8 or not JSON goes to ``errors``
    with its number and reason, and the lines after it are read all the same."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                errors.append({"line": n, "error": f"not UTF-8: {e}",
                               "raw": raw[:2000].decode("utf-8", "backslashreplace")})
                continue
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                errors.append({"line": n, "error": f"not JSON: {e}", "raw": line[:2000]})


def rejected_path(out: Path) -> Path:
    """Where ``analyze_file`` puts the lines it could not use."""
    return out.with_name(out.name + ".rejected.jsonl")


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def _check_paths(infile: Path, out: Path) -> None:
    if not infile.exists():
        raise ConfigError(f"{infile}: no such file")
    if infile.is_dir():
        raise ConfigError(f"{infile}: is a directory, not a JSONL file")
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a directory; give a file name")
    if _same_file(infile, out):
        raise ConfigError(f"--out {out} is the input file itself: writing it would destroy the input")
    if _same_file(infile, rejected_path(out)):
        raise ConfigError(f"--out {out}: its rejected-lines file {rejected_path(out)} is the input file")


def _write_atomically(path: Path, lines: Iterable[str]) -> None:
    """All lines or nothing: a failure half-way leaves what was at ``path`` before."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def analyze_file(infile: Path, out: Path) -> dict[str, int]:
    """Analyse ``infile`` into ``out``; rejected lines go to ``<out>.rejected.jsonl`` (``type: rejected_line``) with
    the file line number and the reason. ``ConfigError`` for paths that cannot be used (missing or a directory,
    ``out`` the input itself)."""
    _check_paths(infile, out)
    errors: list[dict[str, Any]] = []
    counts: dict[str, int] = {"article": 0, "claim": 0, "event": 0, "dispute": 0}

    def lines() -> Iterator[str]:
        for line in analyze_lines(_read(infile, errors), errors):
            counts[line["type"]] += 1
            yield json.dumps(line, ensure_ascii=False) + "\n"

    rejected = rejected_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(out, lines())
        if errors:
            errors.sort(key=lambda e: e.get("line", 0))
            # Typed like every other JSONL line the project writes: what it is comes first, then where and why.
            _write_atomically(rejected, (json.dumps({"type": "rejected_line", **e}, ensure_ascii=False, default=str)
                                         + "\n" for e in errors))
        else:
            rejected.unlink(missing_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot read {infile} or write {out}: {e.strerror or e}") from e
    counts["rejected"] = len(errors)
    return counts
