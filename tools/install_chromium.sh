#!/usr/bin/env bash
# Headless Chromium for the report test (tests/report/test_report.py renders the HTML report). Idempotent: does nothing
# when `chromium` is already on PATH. Debian/Ubuntu (apt-get); about 75 s on a fresh Debian 12 image.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium.sh: no apt-get here; install Chromium so that \`chromium\` is on PATH" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
chromium --version
