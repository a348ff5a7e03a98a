"""Real single-node Kafka (KRaft) and Elasticsearch on 127.0.0.1, fetched through Maven and run by pid.

Layout under ``settings.home``::

    dist/kafka-<v>/lib/*.jar            broker jars resolved by deploy/local/kafka/pom.xml
    dist/elasticsearch-<v>/             the unpacked integ-test-zip distribution
    data/kafka, data/elasticsearch      data (kept by ``down`` unless purged)
    logs/kafka, logs/elasticsearch      logs
    run/<service>.pid, run/<service>.json   what ``up`` started, so ``down`` stops exactly that

Every failure is a ``ServiceError`` whose message is one line, followed by the log's last lines when there is a log.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsrift.errors import NewsriftError
from newsrift.settings import REPO_ROOT, Settings

DEPLOY_LOCAL = REPO_ROOT / "deploy" / "local"
ES_MAVEN = "org.elasticsearch.distribution.integ-test-zip:elasticsearch"
SERVICE_USER = "newsrift"


class ServiceError(NewsriftError):
    """A local service could not be fetched, started, checked or stopped."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    detail: str


# ---------------------------------------------------------------------------------------------------------- helpers


def _tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in data[-lines:])


def _fail(message: str, log: Path | None = None) -> ServiceError:
    tail = _tail(log) if log else ""
    return ServiceError(message + (f"\n  last lines of {log}:\n{tail}" if tail else ""))


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by us) is not alive.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True


def _pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _java_version(java_home: Path) -> int | None:
    release = java_home / "release"
    try:
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                v = line.split("=", 1)[1].strip().strip('"')
                return int(v.split(".")[0])
    except (OSError, ValueError):
        return None
    return None


def find_java(minimum: int, preferred: Path | None = None) -> Path | None:
    """A JAVA_HOME of at least ``minimum``: the configured one, then $JAVA_HOME, then the newest under /usr/lib/jvm."""
    candidates: list[Path] = []
    if preferred:
        candidates.append(preferred)
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        found = [(p, _java_version(p) or 0) for p in jvm.iterdir() if (p / "bin" / "java").exists()]
        candidates.extend(p for p, _ in sorted(found, key=lambda t: -t[1]))
    java = shutil.which("java")
    if java:
        candidates.append(Path(java).resolve().parent.parent)
    for c in candidates:
        v = _java_version(c)
        if v is not None and v >= minimum and (c / "bin" / "java").exists():
            return c
    return None


def _run(cmd: list[str], log: Path, what: str, cwd: Path | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        except FileNotFoundError as e:
            raise ServiceError(f"{what}: {cmd[0]} is not installed ({e.strerror})") from e
    if rc != 0:
        raise _fail(f"{what} failed (exit {rc}): {' '.join(cmd)}", log)


def _wait(check: Callable[[], bool], timeout: float, proc_alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if not proc_alive():
            return False
        time.sleep(0.5)
    return False


def _http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


# ------------------------------------------------------------------------------------------------------- services


class _Service:
    name: str

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.home = settings.home
        self.run_dir = self.home / "run"
        self.pid_file = self.run_dir / f"{self.name}.pid"
        self.info_file = self.run_dir / f"{self.name}.json"
        self.log_dir = self.home / "logs" / self.name
        self.data_dir = self.home / "data" / self.name

    # what subclasses provide
    port: int
    marker: str

    def healthy(self) -> bool:
        raise NotImplementedError

    def start(self) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {}

    # shared life cycle
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _pid_alive(pid) and self.marker in _pid_cmdline(pid):
            return pid
        return None

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is None:
            stale = self.pid_file.exists()
            detail = "not running" + (" (stale pid file: it crashed or was killed)" if stale else "")
            if _port_open(self.port):
                detail += f"; port {self.port} is in use by another process"
            return ServiceStatus(self.name, False, False, None, detail)
        ok = self.healthy()
        return ServiceStatus(self.name, True, ok, pid, "healthy" if ok else "running but not answering")

    def up(self) -> dict[str, Any]:
        pid = self.pid()
        if pid is not None:
            if not _wait(self.healthy, 120, lambda: _pid_alive(pid)):
                raise _fail(f"{self.name} (pid {pid}) is running but not healthy", self.main_log())
            info = self._load_info()
            info["already_running"] = True
            return info
        if _port_open(self.port):
            raise ServiceError(
                f"{self.name}: port {self.port} on 127.0.0.1 is already in use by a process newsrift did not start; "
                f"stop it or set NEWSRIFT_{self.name.upper()}_PORT"
            )
        for d in (self.run_dir, self.log_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        info = self.start()
        info.update(self.describe())
        self.info_file.write_text(json.dumps(info, indent=2, default=str))
        return info

    def down(self, purge: bool = False) -> bool:
        pid = self.pid()
        stopped = False
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            except PermissionError:
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 45
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.3)
            if _pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
            stopped = True
        self.pid_file.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return stopped

    def main_log(self) -> Path:
        return self.log_dir / "stdout.log"

    def _load_info(self) -> dict[str, Any]:
        try:
            data = json.loads(self.info_file.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _spawn(self, cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        log = self.main_log()
        out = log.open("ab")
        # A session of its own: the service outlives this command, and `down` can signal its whole group.
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
            start_new_session=True,
        )
        out.close()
        self.pid_file.write_text(str(proc.pid))
        return proc

    def _await_health(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        if not _wait(self.healthy, timeout, lambda: proc.poll() is None):
            code = proc.poll()
            if code is None:
                self.down()
                raise _fail(f"{self.name} did not become healthy within {timeout:.0f}s; stopped it", self.main_log())
            self.pid_file.unlink(missing_ok=True)
            raise _fail(f"{self.name} exited during start-up with code {code}", self.main_log())


def new_cluster_id(rand: Callable[[], uuid.UUID] = uuid.uuid4) -> str:
    """A KRaft cluster id as ``kafka-storage random-uuid`` prints it: a UUID in unpadded base64url. Like Kafka's own
    ``Uuid.randomUuid``, never one that starts with "-": ``kafka-storage format -t -abc…`` takes the id for an
    option and fails (one run in 64 before this, seen in CI)."""
    while True:
        cid = base64.urlsafe_b64encode(rand().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class Kafka(_Service):
    name = "kafka"
    marker = "kafka.Kafka"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.port = settings.kafka_port
        self.dist = self.home / "dist" / f"kafka-{settings.kafka_version}"
        self.lib = self.dist / "lib"

    def fetch(self) -> None:
        if (self.dist / ".complete").exists():
            return
        if shutil.which("mvn") is None:
            raise ServiceError("kafka: Maven (mvn) is needed to fetch the broker jars (apt-get install maven)")
        self.lib.mkdir(parents=True, exist_ok=True)
        _run(
            ["mvn", "-B", "-q", "-f", str(DEPLOY_LOCAL / "kafka" / "pom.xml"),
             "dependency:copy-dependencies", "-DincludeScope=runtime",
             f"-Dkafka.version={self.s.kafka_version}", f"-DoutputDirectory={self.lib}"],
            self.home / "logs" / "fetch.log", "fetching Kafka jars with Maven",
        )
        (self.dist / ".complete").write_text(self.s.kafka_version)

    def java(self) -> Path:
        java = find_java(17, self.s.java_home)
        if java is None:
            raise ServiceError("kafka: no Java 17+ found (set NEWSRIFT_JAVA_HOME or JAVA_HOME)")
        return java

    def properties(self) -> Path:
        s = self.s
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "log"),
            "num.partitions": str(s.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Faust crashes on partition mismatches when topics appear implicitly: every topic is created on purpose.
            "auto.create.topics.enable": "false",
            "log.retention.hours": "168",
        }
        path = self.run_dir / "kafka-server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _java_cmd(self, java: Path, main: str, *args: str) -> list[str]:
        return [
            str(java / "bin" / "java"), "-Xms256m", f"-Xmx{self.s.kafka_heap}",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={DEPLOY_LOCAL / 'kafka' / 'log4j2.properties'}",
            "-cp", f"{self.lib}/*", main, *args,
        ]

    def start(self) -> dict[str, Any]:
        self.fetch()
        java = self.java()
        props = self.properties()
        if not (self.data_dir / "log" / "meta.properties").exists():
            cluster_id_file = self.data_dir / "cluster.id"
            cid = cluster_id_file.read_text().strip() if cluster_id_file.exists() else ""
            if not cid or cid.startswith("-"):
                # Not formatted yet, so the id can still change: one starting with "-" (left by a failed format)
                # is replaced, the command line would read it as an option.
                cid = new_cluster_id()
                cluster_id_file.write_text(cid)
            _run(
                self._java_cmd(java, "kafka.tools.StorageTool", "format", "-t", cid,
                               "-c", str(props), "--ignore-formatted"),
                self.log_dir / "format.log", "formatting Kafka storage",
            )
        env = dict(os.environ)
        proc = self._spawn(self._java_cmd(java, "kafka.Kafka", str(props)), env, self.home)
        self._await_health(proc, 90)
        return {
            "service": "kafka", "version": self.s.kafka_version, "pid": proc.pid,
            "bootstrap": f"127.0.0.1:{self.s.kafka_port}", "controller_port": self.s.kafka_controller_port,
            "data_dir": str(self.data_dir), "log_dir": str(self.log_dir), "java": str(java),
        }

    def healthy(self) -> bool:
        if not _port_open(self.port):
            return False
        try:
            from kafka.admin import KafkaAdminClient

            admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{self.port}", request_timeout_ms=3000)
            try:
                admin.list_topics()
            finally:
                admin.close()
            return True
        except Exception:
            return False

    def describe(self) -> dict[str, Any]:
        jars = sorted(p.name for p in self.lib.glob("kafka_2.13-*.jar"))
        return {"jar": jars[0] if jars else None}


class Elasticsearch(_Service):
    name = "elasticsearch"
    marker = "org.elasticsearch"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.port = settings.es_port
        self.java_home, self.version = self._choose()
        self.dist = self.home / "dist" / f"elasticsearch-{self.version}"

    def _choose(self) -> tuple[Path | None, str]:
        """Elasticsearch 9 needs Java 21+; without one, 8.19 runs on Java 17 (and needs the 8.x Python client)."""
        java21 = find_java(21, self.s.java_home)
        if java21 is not None:
            return java21, self.s.es_version
        return find_java(17, self.s.java_home), self.s.es_fallback_version

    def fetch(self) -> None:
        if (self.dist / ".complete").exists():
            return
        if shutil.which("mvn") is None:
            raise ServiceError("elasticsearch: Maven (mvn) is needed to fetch the distribution; install it")
        dl = self.home / "dist" / "download"
        dl.mkdir(parents=True, exist_ok=True)
        _run(
            ["mvn", "-B", "-q", "-f", str(DEPLOY_LOCAL / "elasticsearch" / "pom.xml"), "dependency:copy",
             f"-Dartifact={ES_MAVEN}:{self.version}:zip", f"-DoutputDirectory={dl}"],
            self.home / "logs" / "fetch.log", "fetching Elasticsearch with Maven",
        )
        archive = dl / f"elasticsearch-{self.version}.zip"
        shutil.rmtree(self.dist, ignore_errors=True)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(self.home / "dist")
        for script in (self.dist / "bin").iterdir():
            script.chmod(0o755)
        archive.unlink()
        (self.dist / ".complete").write_text(self.version)

    def modules(self) -> list[str]:
        mod = self.dist / "modules"
        return sorted(p.name for p in mod.iterdir()) if mod.is_dir() else []

    def _configure(self) -> None:
        cfg = self.dist / "config" / "elasticsearch.yml"
        cfg.write_text(
            (DEPLOY_LOCAL / "elasticsearch" / "elasticsearch.yml").read_text()
            + f"http.port: {self.s.es_port}\n"
            + f"transport.port: {self.s.es_transport_port}\n"
            + f"path.data: {self.data_dir}\n"
            + f"path.logs: {self.log_dir}\n"
        )
        # A keystore left by an earlier, security-enabled start would name settings this distribution rejects.
        (self.dist / "config" / "elasticsearch.keystore").unlink(missing_ok=True)

    def _drop_root(self) -> list[str]:
        """Elasticsearch refuses to run as root: run it as an unprivileged system user we own the files for."""
        if os.geteuid() != 0:
            return []
        import pwd

        try:
            pw = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                 self.home / "logs" / "fetch.log", f"creating the system user {SERVICE_USER!r}")
            pw = pwd.getpwnam(SERVICE_USER)
        for top in (self.dist, self.data_dir, self.log_dir):
            for root, dirs, files in os.walk(top):
                for n in (*dirs, *files):
                    os.lchown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
            os.chown(top, pw.pw_uid, pw.pw_gid)
        if shutil.which("setpriv") is None:
            raise ServiceError("elasticsearch: running as root needs setpriv (util-linux) to drop privileges")
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]

    def start(self) -> dict[str, Any]:
        if self.java_home is None:
            raise ServiceError("elasticsearch: no Java 17+ found (Java 21+ for 9.x); set NEWSRIFT_JAVA_HOME")
        self.fetch()
        self._configure()
        env = dict(os.environ)
        env["ES_JAVA_HOME"] = str(self.java_home)
        env["ES_JAVA_OPTS"] = f"-Xms512m -Xmx{self.s.es_heap}"
        env.pop("JAVA_HOME", None)
        prefix = self._drop_root()
        proc = self._spawn([*prefix, str(self.dist / "bin" / "elasticsearch")], env, self.dist)
        self._await_health(proc, 180)
        return {
            "service": "elasticsearch", "version": self.version, "pid": proc.pid, "url": f"http://127.0.0.1:{self.port}",
            "data_dir": str(self.data_dir), "log_dir": str(self.log_dir), "java": str(self.java_home),
            "modules": self.modules(),
        }

    def healthy(self) -> bool:
        try:
            health = _http_json(f"http://127.0.0.1:{self.port}/_cluster/health")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return health.get("status") in ("green", "yellow")

    def root_info(self) -> dict[str, Any]:
        """What ``GET /`` answers, or, where the distribution lacks the rest-root module, the local node's info."""
        try:
            data = _http_json(f"http://127.0.0.1:{self.port}/")
            if isinstance(data, dict):
                return {"GET /": data}
        except (urllib.error.URLError, OSError, ValueError) as e:
            root_error = str(e)
        node = _http_json(
            f"http://127.0.0.1:{self.port}/_nodes/_local?filter_path=cluster_name,nodes.*.name,nodes.*.version,"
            "nodes.*.build_flavor,nodes.*.build_type,nodes.*.build_hash,nodes.*.jvm.version,nodes.*.modules.name"
        )
        return {"GET /": f"not served by this distribution ({root_error}); GET /_nodes/_local instead", "node": node}

    def describe(self) -> dict[str, Any]:
        try:
            return self.root_info()
        except Exception as e:  # describe is informative only
            return {"root_info_error": str(e)}


def services(settings: Settings) -> list[_Service]:
    return [Kafka(settings), Elasticsearch(settings)]


def up(settings: Settings) -> list[dict[str, Any]]:
    """Fetch (once), start and wait for both services; harmless when they already run."""
    return [svc.up() for svc in services(settings)]


def down(settings: Settings, purge: bool = False) -> list[tuple[str, bool]]:
    return [(svc.name, svc.down(purge=purge)) for svc in reversed(services(settings))]


def status(settings: Settings) -> list[ServiceStatus]:
    return [svc.status() for svc in services(settings)]
