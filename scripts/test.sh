#!/usr/bin/env bash
# The whole test suite: install from the lockfile, build, typecheck, run every test once.
# Prints "N passed, N failed, N skipped" from vitest's JSON report; exits non-zero on any failure
# and on any skipped test (a test whose program is missing fails; it never skips).
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 CI="${CI:-1}"

node scripts/bootstrap.mjs || exit 1
bash scripts/system-deps.sh

npx turbo run build typecheck --output-logs=errors-only || { echo "0 passed, 1 failed, 0 skipped (build or typecheck)"; exit 1; }

# Every published package as users will get it: packed by pnpm, publint --strict and attw clean,
# license and repository set (scripts/check-packages.mjs; both linters are pinned devDependencies).
node scripts/check-packages.mjs || { echo "0 passed, 1 failed, 0 skipped (package checks: publint, attw, metadata)"; exit 1; }

# One Redis for the adapter tests, on loopback, no persistence; stopped by its pid on exit.
REDIS_PID=""
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
REDIS_BIN="${REDIS_SERVER:-redis-server}"
if command -v "$REDIS_BIN" >/dev/null 2>&1; then
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  "$REDIS_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning >"${TMPDIR:-/tmp}/stelar-redis.log" 2>&1 &
  REDIS_PID=$!
  export STELAR_REDIS_URL="redis://127.0.0.1:$port"
fi

mkdir -p .test-report
rm -f .test-report/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-report/vitest.json "$@"
status=$?
node scripts/test-summary.mjs .test-report/vitest.json || status=1
exit $status
