#!/usr/bin/env bash
# The main job on the seeds: services up, topics, worker, seed feeds ingested, indexed documents and disputes shown.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export NEWSRIFT_ALLOW_PRIVATE_NETWORKS=1
exec .venv/bin/newsrift demo "$@"
