"""Pure parts of the local-services manager (no processes started)."""

import base64
import socket
import uuid
from pathlib import Path

import pytest

from newsrift.cli import services
from newsrift.settings import Settings


def fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return home


def test_find_java_honours_the_minimum_and_the_preference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    j17 = fake_jdk(tmp_path, "j17", "17.0.15")
    j25 = fake_jdk(tmp_path, "j25", "25.0.3")
    assert services.find_java(17, j17) == j17
    assert services.find_java(21, j25) == j25
    monkeypatch.setenv("JAVA_HOME", str(j17))
    assert services.find_java(17) == j17
    found = services.find_java(99)
    assert found is None


def test_kafka_properties_are_loopback_kraft_without_auto_create(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    k = services.Kafka(s)
    k.run_dir.mkdir(parents=True)
    props = dict(line.split("=", 1) for line in k.properties().read_text().splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"].startswith(str(tmp_path))


def test_status_tells_a_stale_pid_file_apart(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, kafka_port=1)  # nothing listens on port 1
    k = services.Kafka(s)
    k.run_dir.mkdir(parents=True)
    k.pid_file.write_text("999999")  # no such process
    st = k.status()
    assert not st.running and "stale pid file" in st.detail


def test_busy_port_is_refused_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        k = services.Kafka(Settings(home=tmp_path, kafka_port=port))
        with pytest.raises(services.ServiceError, match=f"port {port} .* already in use"):
            k.up()


def test_failure_messages_carry_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(50)))
    err = services._fail("it broke", log)
    assert str(err).startswith("it broke") and "line 49" in str(err) and "line 10" not in str(err)


def test_dispute_times_come_from_the_environment_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSRIFT_DISPUTE_STALE_SECONDS", "60")
    monkeypatch.setenv("NEWSRIFT_DISPUTE_RETENTION_SECONDS", "120")
    s = Settings()
    assert (s.dispute_stale_seconds, s.dispute_retention_seconds) == (60.0, 120.0)
    monkeypatch.setenv("NEWSRIFT_DISPUTE_RETENTION_SECONDS", "30")
    with pytest.raises(ValueError, match="NEWSRIFT_DISPUTE_STALE_SECONDS must be positive and at most"):
        Settings()


def test_a_new_kafka_cluster_id_never_starts_with_a_dash() -> None:
    """kafka-storage reads "-t -abc…" as an option: CI failed once on such an id."""
    dash = uuid.UUID(bytes=base64.urlsafe_b64decode("-hmT2Oj_TNysge1ibBljMw=="))  # the id that failed
    ok = uuid.UUID(int=1)
    draws = iter([dash, dash, ok])
    cid = services.new_cluster_id(lambda: next(draws))
    assert cid == base64.urlsafe_b64encode(ok.bytes).decode().rstrip("=") and not cid.startswith("-")
    for _ in range(500):
        cid = services.new_cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert uuid.UUID(bytes=base64.urlsafe_b64decode(cid + "=="))  # still a base64url UUID
