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
# --telemetry adds a third DUT per round: gatewayd with `telemetry latency off`
# (no rx stamps, residence-time histograms or stage cycles), so that the table
# shows what per-packet telemetry costs, and the latency gatewayd measured on
# itself under that load (gwctl show latency at the end of the run).
#
# usage: scripts/bench-forward.sh [--duration S] [--rounds N] [--sizes "64 1400"] [--telemetry] [--out FILE]
# env: BENCH_GATEWAYD  the gatewayd to measure (default build/gateway/gatewayd)
# Needs root, hugepages (scripts/setup-host.sh) and a build (ninja -C build).
# Not part of the test suite: results depend on the machine and its load.
set -euo pipefail

duration=10
rounds=3
sizes="64 1400"
out=""
telemetry=0
while (($#)); do
    case $1 in
        --telemetry) telemetry=1; shift ;;
        --duration) duration=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "bench-forward: unknown argument $1" >&2; exit 2 ;;
    esac
done

# Named in the report's command line when set (a build other than build/).
env_prefix=${BENCH_GATEWAYD:+BENCH_GATEWAYD=$BENCH_GATEWAYD }
BENCH_NAME=gwbench-fwd
# shellcheck source=lib/bench.sh
source "$(dirname "$0")/lib/bench.sh"
bench_init

run_testpmd_dut() { # size -> pps
    bench_start_testpmd_io
    bench_measure txonly "$1" "$duration"
}

run_gatewayd_dut() { # size [extra config line] -> pps
    { bench_gw_config; echo "${2:-}"; } >"$BENCH_WORK/gw.conf"
    bench_start_gatewayd "$BENCH_WORK/gw.conf"
    bench_measure txonly "$1" "$duration"
}
GWCTL=$BENCH_ROOT/build/gateway/gwctl
gw_latency() { # -> "p50 p99 p99.9" of the last window, in ns
    "$GWCTL" -s "/run/gatewayd/$BENCH_NAME-gw.sock" --json show latency |
        jq -r '.gateway.window | "\(.p50_ns) \(.p99_ns) \(.p999_ns)"' >"$BENCH_WORK/latency" 2>/dev/null
}

if ((telemetry)); then
    report=""
    line() { report+="$1"$'\n'; echo "$1"; }
    line "# Telemetry cost benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
    line "command: ${env_prefix}scripts/bench-forward.sh --telemetry --duration $duration --rounds $rounds --sizes \"$sizes\""
    line ""
    line "| frame | testpmd io-fwd (Mpps) | gatewayd latency off (Mpps) | gatewayd latency on (Mpps) | cost | on/ceiling | p50 / p99 / p99.9 residence (last round) |"
    line "|---:|---:|---:|---:|---:|---:|---|"
    details=""
    for size in $sizes; do
        ceilings=""; offs=""; ons=""; lat="-"
        for ((r = 1; r <= rounds; r++)); do
            c=$(run_testpmd_dut "$size")
            off=$(run_gatewayd_dut "$size" "telemetry latency off")
            on=$(BENCH_BEFORE_STOP=gw_latency run_gatewayd_dut "$size" "telemetry latency on")
            read -r p50 p99 p999 <"$BENCH_WORK/latency" || true
            lat="$((${p50:-0} / 1000)).$(((${p50:-0} % 1000) / 100)) / $((${p99:-0} / 1000)).$(((${p99:-0} % 1000) / 100)) / $((${p999:-0} / 1000)).$(((${p999:-0} % 1000) / 100)) us"
            ceilings+="$c "; offs+="$off "; ons+="$on "
            details+="- ${size} B round $r: testpmd $(bench_mpps "$c"), latency off $(bench_mpps "$off"), latency on $(bench_mpps "$on") Mpps; residence $lat"$'\n'
        done
        ceiling=$(echo "$ceilings" | bench_median)
        off=$(echo "$offs" | bench_median)
        on=$(echo "$ons" | bench_median)
        cost=$(awk -v a="$on" -v b="$off" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * (1 - a / b); else print "n/a" }')
        ratio=$(awk -v a="$on" -v b="$ceiling" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        line "| ${size} B | $(bench_mpps "$ceiling") | $(bench_mpps "$off") | $(bench_mpps "$on") | $cost | $ratio | $lat |"
    done
    line ""
    line "Rounds (median reported above):"
    line "${details%$'\n'}"
    if [[ -n $out ]]; then printf '%s' "$report" >"$out"; fi
    exit 0
fi

report=""
line() { report+="$1"$'\n'; echo "$1"; }
line "# Forwarding benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
line "command: ${env_prefix}scripts/bench-forward.sh --duration $duration --rounds $rounds --sizes \"$sizes\""
line ""
line "| frame | testpmd io-fwd (Mpps) | gatewayd (Mpps) | ratio | gatewayd drops | mbufs leaked |"
line "|---:|---:|---:|---:|---:|---:|"
details=""
for size in $sizes; do
    ceilings=""; gws=""; drops_all=0; leaked_all=0
    for ((r = 1; r <= rounds; r++)); do
        c=$(run_testpmd_dut "$size")
        g=$(run_gatewayd_dut "$size")
        ceilings+="$c "; gws+="$g "
        drops_all=$((drops_all + $(bench_gw_drops))); leaked_all=$((leaked_all + $(bench_gw_leaked)))
        details+="- ${size} B round $r: testpmd $(bench_mpps "$c") Mpps, gatewayd $(bench_mpps "$g") Mpps"$'\n'
    done
    ceiling=$(echo "$ceilings" | bench_median)
    gw=$(echo "$gws" | bench_median)
    ratio=$(awk -v a="$gw" -v b="$ceiling" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    line "| ${size} B | $(bench_mpps "$ceiling") | $(bench_mpps "$gw") | $ratio | $drops_all | $leaked_all |"
done
line ""
line "Rounds (median reported above):"
line "${details%$'\n'}"
if [[ -n $out ]]; then printf '%s' "$report" >"$out"; fi
