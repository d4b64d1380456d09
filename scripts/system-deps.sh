#!/usr/bin/env bash
# Installs the system programs the test suite drives (Debian packages), only when missing:
#   chromium            browser tests (playwright-core drives $STELAR_CHROMIUM, default /usr/bin/chromium)
#   python3-websockets  an independent WebSocket client for conformance tests ($STELAR_PYTHON, default /usr/bin/python3)
#   redis-server        the Redis adapter tests, the cluster demo and the cluster bench
# The tests never skip when one is missing: they fail and say which program is missing.
# Safe to run repeatedly. Needs root (or sudo) only when something is missing.
set -u
missing() {
  local need=()
  # The path the tests use: STELAR_CHROMIUM when set (nothing to install then), else Debian's.
  if [ -n "${STELAR_CHROMIUM:-}" ]; then
    [ -x "$STELAR_CHROMIUM" ] || echo "system-deps: STELAR_CHROMIUM=$STELAR_CHROMIUM is not an executable; the browser tests will fail" >&2
  else
    [ -x /usr/bin/chromium ] || need+=(chromium)
  fi
  command -v "${REDIS_SERVER:-redis-server}" >/dev/null 2>&1 || need+=(redis-server)
  if [ -n "${STELAR_PYTHON:-}" ]; then
    "$STELAR_PYTHON" -c 'import websockets' >/dev/null 2>&1 || echo "system-deps: STELAR_PYTHON=$STELAR_PYTHON cannot import websockets; the Python peer tests will fail" >&2
  else
    /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || need+=(python3-websockets)
  fi
  echo "${need[*]}"
}
need=$(missing)
[ -z "$need" ] && exit 0
echo "system-deps: installing $need"
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
log="${TMPDIR:-/tmp}/stelar-apt.log"
# shellcheck disable=SC2086 # $need is a list of package names
if ! $SUDO apt-get install -y -q --no-install-recommends $need >"$log" 2>&1; then
  $SUDO apt-get update -q >>"$log" 2>&1
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $need >>"$log" 2>&1
fi
still=$(missing 2>/dev/null)
if [ -n "$still" ]; then
  echo "system-deps: could not install $still (see $log); the tests that need them will fail" >&2
fi
exit 0
