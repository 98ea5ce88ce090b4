#!/usr/bin/env bash
# Installs what the tests need into .venv, lints, and runs the whole suite.
# With DATABASE_URL and REDIS_URL set (.ci/run sets them), every test runs against PostgreSQL and Redis with real
# worker processes; the end-to-end and worker tests then run again in embedded mode (SQLite, in-memory layer,
# in-process worker). Without them, everything runs embedded and the tests that need the services are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3.11 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null; then
  echo "Installing docker-compose to check docker/compose.yml..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/python -m pytest --durations=15 "$@"
if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  echo "End-to-end and worker tests again, in embedded mode:"
  env -u DATABASE_URL -u REDIS_URL .venv/bin/python -m pytest -m "e2e or both_configurations" --durations=15 "$@"
fi
