#!/usr/bin/env bash
# Installs everything newsrift needs into .venv (idempotent; re-runs pip only when pyproject.toml changed).
# Kafka and Elasticsearch are fetched through Maven by `newsrift services up` into ~/.m2 and .newsrift/dist.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "newsrift needs Python 3.11+")'
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Maven and a JDK from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null
  else
    echo "bootstrap: error: Java 17+ and Maven are needed (apt-get install maven openjdk-17-jdk-headless)" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.newsrift-installed
want=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  # Elasticsearch 9 needs Java 21+; without one the services fall back to 8.19, and the client's major must match.
  if ! .venv/bin/python -c 'import sys; from newsrift.cli.services import find_java; sys.exit(0 if find_java(21) else 1)'; then
    echo "bootstrap: no Java 21+: using Elasticsearch 8.19 and its 8.x Python client"
    .venv/bin/python -m pip install -q 'elasticsearch>=8.19,<9'
  fi
  echo "$want" > "$stamp"
fi
