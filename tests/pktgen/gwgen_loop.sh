#!/usr/bin/env bash
# The real gwgen binary over a net_ring loop (one vdev whose tx ring is its rx ring), EAL
# without hugepages: a 2 s run of three streams (IPv4 IMIX, IPv6 with flows, a counted
# stream that starts late), an RFC 2544 search with latency trials, SIGINT in the middle
# of a long run, a profile file, and af_packet ports on a veth pair (both directions
# through the kernel; skipped where a veth cannot be made); every JSON checked with jq,
# plots rendered with gnuplot. Cleans up its files, veths, EAL runtime directories and
# processes.
#
# usage: gwgen_loop.sh GWGEN PLOT_SCRIPT
# Exit 77 (skipped) without root (EAL's /var/run/dpdk), jq or gnuplot.
set -euo pipefail

gwgen=$1
plot=$2
[[ $(id -u) -eq 0 ]] || { echo "skip: needs root (EAL runtime directory under /var/run/dpdk)"; exit 77; }
for tool in jq gnuplot; do
    command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done

work=$(mktemp -d /tmp/gwgen-loop.XXXXXX)
prefix=gwgen-loop-$$
pids=()
veth=gwl$$
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    ip link del "${veth}a" 2>/dev/null || true
    rm -rf "$work" /var/run/dpdk/"$prefix"-*
}
trap cleanup EXIT

failures=0
check() { # description, jq filter that must yield true, file
    if [[ $(jq -r "$2" "$3") == true ]]; then
        echo "ok: $1"
    else
        echo "FAIL: $1 ($2 in $3)"
        # What the run measured, without the CDFs and series, for whoever reads the log.
        jq -c '(.run // .rfc2544) | del(.. | .latency_cdf?, .series?, .trials?)' "$3" || true
        failures=$((failures + 1))
    fi
}
gen() { # file-prefix suffix, then gwgen arguments
    local p=$1
    shift
    timeout 60 "$gwgen" --no-huge -m 256 --file-prefix "$prefix-$p" --port net_ring0 --max-lag-us 200000 "$@"
}

# --- a run of three streams -----------------------------------------------------------
gen run -q --duration 2 --interval 0.5 --json "$work/run.json" \
    --stream 'name=imix4 rate=40kpps size=imix payload=text flows=64 src=10.0.0.1-10.0.0.64' \
    --stream 'name=v6 rate=20Mbps ip=6 size=84-1518 payload=random dport=1000-1009' \
    --stream 'name=late rate=5kpps size=128 count=2500 start=1' | tee "$work/run.txt"
j=$work/run.json
check "three streams reported" '.run.streams | length == 3' "$j"
check "nothing lost, duplicated or reordered" \
    '[.run.streams[] | .lost == 0 and .rx.duplicates == 0 and .rx.reordered == 0] | all' "$j"
check "every packet sent arrived once" '[.run.streams[] | .rx.unique == .tx.packets and .tx.packets > 0] | all' "$j"
check "tx rates within 2% of target" \
    '[.run.streams[] | select(.name != "late") | ((.tx.pps - .target_pps) | fabs) <= 0.02 * .target_pps] | all' "$j"
check "counted stream sent exactly its count" '.run.streams[2].tx.packets == 2500' "$j"
check "latency percentiles ordered and positive" \
    '[.run.streams[].latency_ns | .min > 0 and .p50 <= .p90 and .p90 <= .p99 and .p99 <= .p99_9 and .p99_9 <= .max] | all' "$j"
check "latency CDF per stream" '[.run.streams[].latency_cdf | length > 100] | all' "$j"
check "per-interval series (2 s at 0.5 s)" '.run.series | length >= 4' "$j"
check "series adds up to the totals" \
    '([.run.series[].total.tx_packets] | add) == .run.total.tx.packets' "$j"
check "the late stream is silent before 1 s" \
    '[.run.series[] | select(.t_s <= 0.9) | .streams[2].tx_packets == 0] | all' "$j"
check "no foreign or stale packets" '.run.rx.foreign == 0 and .run.rx.stale == 0' "$j"
check "ports and streams echoed" '.ports[0].driver == "net_ring" and .streams[1].ip == 6' "$j"
check "no mbuf leaked" '.mempool.in_use == 0 and .mempool.size > 0' "$j"
grep -q "none leaked" "$work/run.txt" || { echo "FAIL: summary lacks the mempool line"; failures=$((failures + 1)); }

# --- plots ----------------------------------------------------------------------------
mapfile -t pngs < <("$plot" -o "$work/run" "$j")
mapfile -t svgs < <("$plot" -f svg -o "$work/run" "$j")
for f in "${pngs[@]}" "${svgs[@]}"; do
    if [[ -s $f ]]; then echo "ok: plot $(basename "$f") ($(stat -c %s "$f") bytes)"; else
        echo "FAIL: plot $f missing"; failures=$((failures + 1)); fi
done
((${#pngs[@]} == 3)) || { echo "FAIL: expected 3 PNG plots, got ${#pngs[@]}"; failures=$((failures + 1)); }
if [[ -n ${pngs[0]:-} ]] && [[ $(head -c 4 "${pngs[0]}" | od -An -c | tr -d ' ') != '211PNG' ]]; then
    echo "FAIL: ${pngs[0]} is not a PNG"; failures=$((failures + 1))
fi

# --- RFC 2544: a loop never loses, so full load passes at once ------------------------------
gen rfc -q --rfc2544 --trial-duration 0.5 --max-trials 4 --latency-loads 50,100 --json "$work/rfc.json" \
    --stream 'rate=30kpps size=64' --stream 'rate=10kpps ip=6 size=200' | tee "$work/rfc.txt"
j=$work/rfc.json
check "search found full load" '.rfc2544.found and .rfc2544.load == 1' "$j"
check "one search trial, then two latency trials" \
    '(.rfc2544.verdicts | length) == 1 and (.rfc2544.latency_trials | length) == 2' "$j"
check "throughput is the streams' sum" '((.rfc2544.pps - 40000) | fabs) < 1' "$j"
check "latency trial at 50% ran at half rate" \
    '((.rfc2544.latency_trials[0].total.tx.pps - 20000) | fabs) < 400' "$j"
check "no mbuf leaked (rfc2544)" '.mempool.in_use == 0' "$j"
mapfile -t rfc_plots < <("$plot" -o "$work/rfc" "$j")
if ((${#rfc_plots[@]} == 4)) && [[ -s ${rfc_plots[3]} ]]; then echo "ok: RFC 2544 plot"; else
    echo "FAIL: RFC 2544 plots: ${rfc_plots[*]}"; failures=$((failures + 1)); fi

# --- SIGINT stops a long run cleanly, with results ------------------------------------------
"$gwgen" --no-huge -m 256 --file-prefix "$prefix-int" --port net_ring0 --interval 0.2 --duration 60 \
    --json "$work/int.json" --stream 'rate=20kpps size=64' >"$work/int.txt" 2>&1 &
pid=$!
pids+=("$pid")
# Interrupt once it is sending (its first interval line), however slow EAL was to start.
for ((i = 0; i < 200; i++)); do
    grep -q '^\[' "$work/int.txt" && break
    sleep 0.1
done
sleep 0.5
kill -INT "$pid"
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || rc=$?
wait "$pid" || rc=$?
if ((rc != 0)); then echo "FAIL: gwgen exited $rc after SIGINT"; cat "$work/int.txt"; failures=$((failures + 1)); fi
j=$work/int.json
check "interrupted run reports interrupted" '.run.interrupted' "$j"
check "interrupted run lost nothing" '.run.streams[0].lost == 0 and .run.streams[0].tx.packets > 0' "$j"
check "interrupted run ended early" '.run.elapsed_s < 30' "$j"
check "no mbuf leaked (interrupted)" '.mempool.in_use == 0' "$j"

# --- a profile file, and errors that name their line ----------------------------------------
cat >"$work/p.gwgen" <<'EOF'
# spike: a steady stream and a burst of 0.3 s in the middle
stream name=steady rate=10kpps size=64
stream name=spike rate=50kpps size=64 start=0.4 stop=0.7
EOF
gen prof -q --duration 1 --profile "$work/p.gwgen" --json "$work/p.json" >/dev/null
check "profile spike sent 0.3 s worth" \
    '((.run.streams[1].tx.packets - 15000) | fabs) <= 1 and .run.streams[1].lost == 0' "$work/p.json"
printf 'stream rate=10kpps\nstream size=10\n' >"$work/bad.gwgen"
rc=0
out=$("$gwgen" --no-huge --port net_ring0 --profile "$work/bad.gwgen" 2>&1) || rc=$?
if ((rc == 2)) && [[ $out == *"bad.gwgen:2: size 10 is below"* ]]; then echo "ok: profile error names its line"; else
    echo "FAIL: bad profile: rc $rc, '$out'"; failures=$((failures + 1)); fi

# --- through the kernel: af_packet on a veth pair, tx on one end, rx on the other --------
if ip link add "${veth}a" type veth peer name "${veth}b" 2>/dev/null; then
    for end in a b; do
        sysctl -qw "net.ipv6.conf.${veth}${end}.disable_ipv6=1" 2>/dev/null || true  # no ND chatter
        ip link set "${veth}${end}" up
    done
    timeout 60 "$gwgen" --no-huge -m 256 --file-prefix "$prefix-veth" --max-lag-us 200000 -q --duration 1 \
        --json "$work/veth.json" --port "net_af_packet0,iface=${veth}a" --port "net_af_packet1,iface=${veth}b" \
        --stream 'rate=10kpps size=imix' --stream 'rate=2kpps ip=6 size=300 port=1' >/dev/null
    j=$work/veth.json
    check "af_packet over veth: both directions, nothing lost" \
        '([.run.streams[] | .lost == 0 and .tx.packets > 0] | all) and (.ports | length) == 2' "$j"
    check "af_packet over veth: latency through the kernel" '.run.total.latency_ns.p50 > 0' "$j"
    check "no mbuf leaked (af_packet)" '.mempool.in_use == 0' "$j"
    ip link del "${veth}a"
else
    echo "skip: cannot create a veth pair here (af_packet section)"
fi

# --- nothing left behind ---------------------------------------------------------------
left=$(find /var/run/dpdk -maxdepth 1 -name "$prefix-*" 2>/dev/null | wc -l)
if ((left != 0)); then echo "FAIL: $left EAL runtime directories left"; failures=$((failures + 1)); else
    echo "ok: no EAL runtime directory left"; fi

echo "gwgen_loop: $failures failure(s)"
((failures == 0))
