#!/usr/bin/env bash
# Installs the system programs the test suite drives (Debian packages), only when missing:
#   chromium            browser tests (playwright-core drives /usr/bin/chromium)
#   python3-websockets  an independent WebSocket client for conformance tests
#   redis-server        the Redis adapter tests
# Safe to run repeatedly. Needs root (or sudo) only when something is missing.
set -u
need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || need+=(python3-websockets)
[ ${#need[@]} -eq 0 ] && exit 0
echo "system-deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/tmp/stelar-apt.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/stelar-apt.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >>/tmp/stelar-apt.log 2>&1 || {
    echo "system-deps: could not install ${need[*]} (see /tmp/stelar-apt.log); tests that need them will fail" >&2
    exit 0
  }
fi
