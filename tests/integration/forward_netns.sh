#!/usr/bin/env bash
# Integration test: gatewayd (af_packet ports) routes between a LAN and a WAN network
# namespace. Asserts v4/v6 forwarding, ping of the gateway itself, a 3 s iperf3 TCP
# run, ICMP time exceeded (v4 and v6), no-route drops, mbuf leak check, clean exit.
#
# usage: tests/integration/forward_netns.sh /path/to/gatewayd
#   (meson passes the binary; exits 77 = skipped when not root / no netns / no hugepages)
# env:   GW_TEST_PORTS=packet|xdp (default packet)   GW_TEST_KEEP_LOGS=1 keeps the log dir
set -euo pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if (($# < 1)); then
    echo "usage: $0 /path/to/gatewayd" >&2
    exit 2
fi
gatewayd=$1
if [[ ! -x $gatewayd ]]; then
    echo "forward_netns: gatewayd binary '$gatewayd' not found or not executable" >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: forward_netns needs root (network namespaces, hugepages)"
    exit $SKIP
fi
for tool in iperf3 jq ping ss awk; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "forward_netns: missing tool '$tool' (run scripts/install-deps.sh)" >&2
        exit 1
    fi
done

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/netns.sh
source "$repo/scripts/lib/netns.sh"

if ! reason=$(testbed_check_env 2>&1); then
    echo "SKIP: forward_netns: ${reason#netns: }"
    exit $SKIP
fi
free_pages=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
min_pages=${GW_TEST_MIN_HUGEPAGES:-64}
if ((${free_pages:-0} < min_pages)); then
    echo "SKIP: forward_netns: only ${free_pages:-0} free hugepages (< $min_pages); run scripts/setup-host.sh"
    exit $SKIP
fi

prefix="gwt$$"
file_prefix="gwt$$"
workdir=$(mktemp -d "${TMPDIR:-/tmp}/forward_netns.XXXXXX")
cfg="$workdir/gatewayd.conf"
out="$workdir/gatewayd.stdout"
err="$workdir/gatewayd.stderr"
stats="$workdir/stats.json"
failed=0
total=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    gw_stop 5 >/dev/null 2>&1 || true
    testbed_down "$prefix"
    gw_cleanup_hugepages "$file_prefix"
    if ((failed > 0 || rc != 0)); then
        echo "# --- gatewayd stderr (last 40 lines) ---"
        tail -n 40 "$err" 2>/dev/null | sed 's/^/# /' || true
        echo "# --- gatewayd stdout (last 40 lines) ---"
        tail -n 40 "$out" 2>/dev/null | sed 's/^/# /' || true
    fi
    if [[ -n ${GW_TEST_KEEP_LOGS:-} ]]; then
        echo "# logs kept in $workdir"
    else
        rm -rf "$workdir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() {
    total=$((total + 1))
    echo "ok - $1"
}
fail() {
    total=$((total + 1))
    failed=$((failed + 1))
    echo "not ok - $1${2:+ # $2}"
}
indent() { sed 's/^/#   /'; }
# check DESCRIPTION CMD...: one assertion that CMD succeeds (its output goes to a log).
check() {
    local desc=$1 log
    shift
    log="$workdir/check.$((total + 1)).log"
    if "$@" >"$log" 2>&1; then
        pass "$desc"
    else
        fail "$desc"
        tail -n 15 "$log" | indent
    fi
}
# bail DESCRIPTION: a step everything else depends on failed; stop here.
bail() {
    fail "$1"
    echo "Bail out! $1"
    exit 1
}

lan() { testbed_exec "$prefix" lan "$@"; }

# --- set up -------------------------------------------------------------------
if testbed_up "$prefix"; then
    pass "testbed $prefix-{lan,gw,wan} up"
else
    bail "testbed $prefix-{lan,gw,wan} up"
fi

# af_packet run: shared hugepage memory, so that dpdk-dumpcap can attach.
shared=0
[[ ${GW_TEST_PORTS:-packet} == packet ]] && shared=1
if ! (umask 077 && TB_GW_SHARED=$shared testbed_gw_config "$file_prefix" "${GW_TEST_PORTS:-packet}" >"$cfg"); then
    bail "write gatewayd config"
fi
gw_start "$prefix" "$out" "$err" "$gatewayd" --config "$cfg" --log-level info --stats-json "$stats"
if gw_wait_ready "$err" 30; then
    pass "gatewayd started and ready"
else
    bail "gatewayd started and ready"
fi

# --- forwarding ---------------------------------------------------------------
check "IPv4 ping lan -> wan ($TB_WAN_HOST4)" lan timeout 15 ping -c 3 -i 0.2 -W 2 "$TB_WAN_HOST4"
check "IPv6 ping lan -> wan ($TB_WAN_HOST6)" lan timeout 15 ping -6 -c 3 -i 0.2 -W 2 "$TB_WAN_HOST6"
check "IPv4 ping of the gateway ($TB_LAN_GW4)" lan timeout 15 ping -c 3 -i 0.2 -W 2 "$TB_LAN_GW4"
check "IPv6 ping of the gateway ($TB_LAN_GW6)" lan timeout 15 ping -6 -c 3 -i 0.2 -W 2 "$TB_LAN_GW6"

if mbps=$(testbed_iperf "$prefix" 3 2>"$workdir/iperf.err"); then
    if awk -v r="$mbps" 'BEGIN { exit !(r > 1.0) }'; then
        pass "iperf3 TCP lan -> wan 3 s: $mbps Mbit/s (> 1)"
    else
        fail "iperf3 TCP lan -> wan 3 s: $mbps Mbit/s (> 1)"
    fi
else
    fail "iperf3 TCP lan -> wan 3 s" "$(tr '\n' ' ' <"$workdir/iperf.err")"
fi

# ping exits 1 here (no echo reply); only its output matters.
ttl4=$(lan timeout 10 ping -c 1 -t 1 -W 2 "$TB_WAN_HOST4" 2>&1 || true)
if grep -q "From $TB_LAN_GW4 .*Time to live exceeded" <<<"$ttl4"; then
    pass "ping -t 1 $TB_WAN_HOST4: Time to live exceeded from $TB_LAN_GW4"
else
    fail "ping -t 1 $TB_WAN_HOST4: Time to live exceeded from $TB_LAN_GW4"
    indent <<<"$ttl4"
fi
ttl6=$(lan timeout 10 ping -6 -c 1 -t 1 -W 2 "$TB_WAN_HOST6" 2>&1 || true)
if grep -q "From $TB_LAN_GW6 .*Time exceeded" <<<"$ttl6"; then
    pass "ping -6 -t 1 $TB_WAN_HOST6: Time exceeded from $TB_LAN_GW6"
else
    fail "ping -6 -t 1 $TB_WAN_HOST6: Time exceeded from $TB_LAN_GW6"
    indent <<<"$ttl6"
fi

unrouted=198.51.100.1
noroute=$(lan timeout 15 ping -c 5 -i 0.2 -W 1 "$unrouted" 2>&1 || true)
if grep -q ' 0 received' <<<"$noroute" && ! grep -q 'bytes from' <<<"$noroute"; then
    pass "5 pings to unrouted $unrouted get no reply"
else
    fail "5 pings to unrouted $unrouted get no reply"
    indent <<<"$noroute"
fi

# --- DPDK's tools against the running gateway -----------------------------------
summary=$(echo /gateway/summary | timeout 10 dpdk-telemetry.py -f "$file_prefix" 2>/dev/null | tail -n 1)
rx=$(jq -r '."/gateway/summary".rx_packets // 0' <<<"$summary" 2>/dev/null || echo 0)
if ((rx > 0)); then
    pass "dpdk-telemetry.py /gateway/summary: rx_packets $rx"
else
    fail "dpdk-telemetry.py /gateway/summary" "$summary"
fi
if ((shared)); then
    pcap="$workdir/lan.pcapng"
    timeout 30 dpdk-dumpcap --file-prefix="$file_prefix" -i net_af_packet0 -c 4 -a duration:20 -q -w "$pcap" \
        >"$workdir/dumpcap.log" 2>&1 &
    dumpcap=$!
    sleep 2
    lan timeout 10 ping -c 4 -i 0.2 -W 2 "$TB_WAN_HOST4" >/dev/null 2>&1 || true
    wait "$dumpcap" || true
    n=$(tcpdump -n -r "$pcap" icmp 2>/dev/null | wc -l)
    if ((n >= 4)); then
        pass "dpdk-dumpcap captured $n ICMP packets on lan"
    else
        fail "dpdk-dumpcap captured the pings on lan" "$n packets; $(tail -n 3 "$workdir/dumpcap.log" | tr '\n' ' ')"
    fi
fi

# --- shutdown and counters ----------------------------------------------------
if gw_stop 15; then
    pass "gatewayd stopped on SIGTERM"
else
    fail "gatewayd stopped on SIGTERM" "needed SIGKILL"
fi
if [[ $GW_RC == 0 ]]; then
    pass "gatewayd exit status 0"
else
    fail "gatewayd exit status 0" "got $GW_RC"
fi

if [[ -s $stats ]] && jq -e . "$stats" >/dev/null 2>&1; then
    pass "stats-json written and valid"
    nr=$(jq -r '.drops["no-route"] // 0' "$stats")
    if ((nr >= 5)); then
        pass "stats drops[no-route] = $nr (>= 5)"
    else
        fail "stats drops[no-route] = $nr (>= 5)"
    fi
    inuse=$(jq -r '.mbufs_leaked // "missing"' "$stats")
    if [[ $inuse == 0 ]]; then
        pass "stats mbufs_leaked = 0"
    else
        fail "stats mbufs_leaked = 0" "got $inuse"
    fi
else
    fail "stats-json written and valid" "$stats missing or not JSON"
fi

echo "# $((total - failed))/$total assertions passed"
((failed == 0))
