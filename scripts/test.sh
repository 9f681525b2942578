#!/usr/bin/env bash
# The whole test suite: lint, type check, tests (SQLite + PostgreSQL, browser included).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# Debian's Chromium for the Playwright browser tests (playwright install cannot download here).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# PostgreSQL must be up: CI never skips the PostgreSQL store tests.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
fi
# The MCP Inspector CLI (npm) drives the MCP server as a third-party client: CI never skips it.
INSPECTOR_VERSION=2.12.0  # keep in step with tests/frontends/test_mcp_inspector.py
if [ ! -x .cache/inspector/node_modules/.bin/mcp-inspector ]; then
  echo "installing the MCP Inspector CLI $INSPECTOR_VERSION into .cache/inspector"
  npm install --prefix .cache/inspector --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
fi
export DGSYNC_REQUIRE_INSPECTOR=1

export DGSYNC_TEST_POSTGRES_URL="${DGSYNC_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
export DGSYNC_REQUIRE_POSTGRES=1
export DGSYNC_REQUIRE_BROWSER=1

# cfn-lint and checkov for tests/deploy (their own virtualenv: their pins clash with dgsync's).
make -s iac-tools

echo "== ruff"; $BIN/ruff check .
echo "== mypy"; $BIN/mypy core
echo "== pytest"
set +e
$BIN/pytest -n 2 "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$rc"
