#!/usr/bin/env bash
# Forwarding benchmark: gatewayd with one worker core against the ceiling of
# dpdk-testpmd io-forward on the same link, measured in the same run.
#
#   generator (testpmd txonly) --memif--> DUT --> net_null (no-rx)
#
# The DUT is first testpmd --forward-mode=io (the I/O ceiling), then gatewayd
# routing the same packets (LPM lookup, TTL/checksum update, MAC rewrite). The
# figure is the generator's accepted tx rate, which memif limits to what the
# DUT consumes; the DUT's own counters are checked for drops.
#
# Each size runs --rounds times, alternating ceiling and gatewayd so that
# background load hits both alike; the table reports the medians and the
# ratio of medians, with every round's figures beneath it.
#
# usage: scripts/bench-forward.sh [--duration S] [--rounds N] [--sizes "64 1400"] [--out FILE]
# Needs root, hugepages (scripts/setup-host.sh) and a build (ninja -C build).
# Not part of the test suite: results depend on the machine and its load.
set -euo pipefail

duration=10
rounds=3
sizes="64 1400"
out=""
while (($#)); do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "bench-forward: unknown argument $1" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
gatewayd=$root/build/gateway/gatewayd
testpmd=$(command -v dpdk-testpmd || true)
[[ -x $gatewayd ]] || { echo "bench-forward: build gatewayd first (ninja -C build)" >&2; exit 1; }
[[ -n $testpmd ]] || { echo "bench-forward: dpdk-testpmd not found (apt-get install dpdk)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "bench-forward: must run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/gwbench.XXXXXX)
sock=$work/memif.sock
gw_mac=02:00:00:00:01:01
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

cpus=$(nproc)
# Generator and DUT each get one busy core; on a 2-core host the control
# threads share CPU 0 with the generator's forwarding lcore.
gen_lcores="0@0,1@0"
if ((cpus >= 3)); then gen_lcores="0@0,1@2"; fi

start_generator() { # size
    "$testpmd" --lcores="$gen_lcores" --in-memory --file-prefix=gwbench-gen --no-pci \
        --vdev="net_memif0,role=client,socket=$sock" --log-level=warning -- \
        --forward-mode=txonly --txpkts="$1" --eth-peer=0,$gw_mac --stats-period=1 \
        --nb-cores=1 --burst=32 --txd=1024 --rxd=1024 >"$work/gen.log" 2>&1 &
    pids+=($!)
}

stop_all() {
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        timeout 15 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    pids=()
    rm -f "$sock"
}

# Mean of the generator's per-second Tx-pps over the last samples (the first
# two cover connection set-up).
gen_pps() {
    grep -o 'Tx-pps: *[0-9]*' "$work/gen.log" | awk '{print $2}' | awk -v skip=2 '
        NR > skip && $1 > 0 { sum += $1; n++ } END { if (n) printf "%.0f\n", sum / n; else print 0 }'
}

run_testpmd_dut() { # size -> pps
    "$testpmd" -l 0,1 --in-memory --file-prefix=gwbench-dut --no-pci \
        --vdev="net_memif0,role=server,socket=$sock,mac=$gw_mac" --vdev=net_null0,no-rx=1 --log-level=warning -- \
        --forward-mode=io --nb-cores=1 --burst=32 --txd=1024 --rxd=1024 --stats-period=1 >"$work/dut.log" 2>&1 &
    pids+=($!)
    sleep 2
    start_generator "$1"
    sleep "$duration"
    local pps; pps=$(gen_pps)
    stop_all
    echo "$pps"
}

run_gatewayd_dut() { # size -> pps
    cat >"$work/gw.conf" <<CONF
eal main-lcore 0
eal file-prefix gwbench-gw
eal in-memory
dataplane burst 32
port in dev net_memif0,role=server,socket=$sock,mac=$gw_mac rxq 1
port in address 10.10.0.1/24
port out dev net_null0,no-rx=1
port out address 198.18.0.254/24
neighbor out 198.18.0.2 02:00:00:00:02:02
worker 1 poll in:0
CONF
    chmod 600 "$work/gw.conf"
    "$gatewayd" --config "$work/gw.conf" --log-level warn --stats-json "$work/gw.json" >"$work/gwd.log" 2>&1 &
    pids+=($!)
    sleep 2
    start_generator "$1"
    sleep "$duration"
    local pps; pps=$(gen_pps)
    stop_all
    echo "$pps"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mpps() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1e6 }'; }

report=""
line() { report+="$1"$'\n'; echo "$1"; }
line "# Forwarding benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
line "command: scripts/bench-forward.sh --duration $duration --rounds $rounds --sizes \"$sizes\""
line ""
line "| frame | testpmd io-fwd (Mpps) | gatewayd (Mpps) | ratio | gatewayd drops | mbufs leaked |"
line "|---:|---:|---:|---:|---:|---:|"
details=""
for size in $sizes; do
    ceilings=""; gws=""; drops_all=0; inuse_all=0
    for ((r = 1; r <= rounds; r++)); do
        c=$(run_testpmd_dut "$size")
        g=$(run_gatewayd_dut "$size")
        ceilings+="$c "; gws+="$g "
        d=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(d["drops"].values()))' "$work/gw.json" 2>/dev/null || echo 0)
        u=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mbufs_leaked"])' "$work/gw.json" 2>/dev/null || echo 1)
        drops_all=$((drops_all + d)); inuse_all=$((inuse_all + u))
        details+="- ${size} B round $r: testpmd $(mpps "$c") Mpps, gatewayd $(mpps "$g") Mpps"$'\n'
    done
    ceiling=$(echo "$ceilings" | median)
    gw=$(echo "$gws" | median)
    ratio=$(awk -v a="$gw" -v b="$ceiling" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    line "| ${size} B | $(mpps "$ceiling") | $(mpps "$gw") | $ratio | $drops_all | $inuse_all |"
done
line ""
line "Rounds (median reported above):"
line "${details%$'\n'}"
if [[ -n $out ]]; then printf '%s' "$report" >"$out"; fi
