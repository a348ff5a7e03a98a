#!/usr/bin/env bash
# The whole test suite: unit tests, then integration and end-to-end tests against the real Kafka and Elasticsearch
# that the project starts itself. A missing service fails the run; it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export NEWSRIFT_ALLOW_PRIVATE_NETWORKS=1
started_here=0
if ! .venv/bin/newsrift services status >/dev/null 2>&1; then started_here=1; fi
.venv/bin/newsrift services up
if [ "$started_here" = 1 ] && [ "${NEWSRIFT_KEEP_SERVICES:-0}" != 1 ]; then
  trap '.venv/bin/newsrift services down >/dev/null 2>&1 || true' EXIT
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then echo "test.sh: pytest collected no tests: that is a failure" >&2; exit 1; fi
exit "$rc"
