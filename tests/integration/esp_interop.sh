#!/usr/bin/env bash
# ESP interop test (tests/integration/esp_interop.py) under Debian's Python,
# the one that has python3-scapy; the python3 first on PATH may lack it.
#
# usage: tests/integration/esp_interop.sh /path/to/gatewayd
#   exits 77 (skipped) when not root; GW_TEST_KEEP_LOGS=1 keeps the work directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${GW_TEST_PYTHON:-/usr/bin/python3}
if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: esp_interop needs root (DPDK EAL)"
    exit 77
fi
if [[ ! -x $python ]]; then
    echo "esp_interop: $python not found (run scripts/install-deps.sh: python3-scapy)" >&2
    exit 1
fi
exec "$python" "$here/esp_interop.py" "$@"
