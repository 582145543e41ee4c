# shellcheck shell=bash
# Shared pieces of the memif benchmarks (bench-forward.sh, bench-ipsec.sh):
#
#   generator (dpdk-testpmd) --net_memif--> DUT (testpmd io-fwd or gatewayd) --> net_null
#
# The figure is the generator's accepted tx rate: memif only accepts what the
# DUT drains, so it is the DUT's rate. The generator and the DUT's worker each
# get one busy core; on a 2-core host the control threads share CPU 0 with the
# generator's forwarding lcore.
#
# Source after setting BENCH_NAME; provides bench_init, bench_start_txonly,
# bench_start_pcap, bench_start_testpmd_io, bench_gw_config, bench_start_gatewayd,
# bench_measure, bench_stop, bench_gen_pps, bench_median, bench_mpps. Uses $BENCH_WORK (a temp dir,
# removed on exit) and the memif socket $BENCH_SOCK.

# shellcheck source=procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

BENCH_GW_MAC=02:00:00:00:01:01
_bench_pids=()

bench_init() {
    BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    # BENCH_GATEWAYD: another build's gatewayd, to compare builds against the same ceiling.
    BENCH_GATEWAYD=${BENCH_GATEWAYD:-$BENCH_ROOT/build/gateway/gatewayd}
    BENCH_TESTPMD=$(command -v dpdk-testpmd || true)
    [[ $(id -u) -eq 0 ]] || { echo "$BENCH_NAME: must run as root" >&2; exit 1; }
    [[ -x $BENCH_GATEWAYD ]] || { echo "$BENCH_NAME: build gatewayd first (ninja -C build)" >&2; exit 1; }
    [[ -n $BENCH_TESTPMD ]] || { echo "$BENCH_NAME: dpdk-testpmd not found (apt-get install dpdk)" >&2; exit 1; }
    BENCH_WORK=$(mktemp -d "/tmp/$BENCH_NAME.XXXXXX")
    BENCH_SOCK=$BENCH_WORK/memif.sock
    BENCH_GEN_LCORES="0@0,1@0"
    if (($(nproc) >= 3)); then BENCH_GEN_LCORES="0@0,1@2"; fi
    trap 'bench_stop; rm -rf "$BENCH_WORK" /var/run/dpdk/"$BENCH_NAME"-*' EXIT
}

# bench_start_txonly FRAME_SIZE: UDP frames of FRAME_SIZE bytes to the DUT's MAC
# (198.18.0.1 -> 198.18.0.2).
bench_start_txonly() {
    "$BENCH_TESTPMD" --lcores="$BENCH_GEN_LCORES" --in-memory --file-prefix="$BENCH_NAME-gen" --no-pci \
        --vdev="net_memif0,role=client,socket=$BENCH_SOCK" --log-level=warning -- \
        --forward-mode=txonly --txpkts="$1" --eth-peer=0,$BENCH_GW_MAC --stats-period=1 \
        --nb-cores=1 --burst=32 --txd=1024 --rxd=1024 </dev/null >"$BENCH_WORK/gen.log" 2>&1 &
    _bench_pids+=($!)
}

# bench_start_pcap PCAP: replays PCAP endlessly into the memif link.
bench_start_pcap() {
    "$BENCH_TESTPMD" --lcores="$BENCH_GEN_LCORES" --in-memory --file-prefix="$BENCH_NAME-gen" --no-pci \
        --vdev="net_pcap0,rx_pcap=$1,infinite_rx=1" \
        --vdev="net_memif0,role=client,socket=$BENCH_SOCK" --log-level=warning -- \
        --forward-mode=io --stats-period=1 --nb-cores=1 --burst=32 --txd=1024 --rxd=1024 \
        --total-num-mbufs=32768 </dev/null >"$BENCH_WORK/gen.log" 2>&1 &
    _bench_pids+=($!)
}

# bench_start_testpmd_io: the I/O ceiling: memif -> io forward -> net_null.
bench_start_testpmd_io() {
    "$BENCH_TESTPMD" -l 0,1 --in-memory --file-prefix="$BENCH_NAME-dut" --no-pci \
        --vdev="net_memif0,role=server,socket=$BENCH_SOCK,mac=$BENCH_GW_MAC" --vdev=net_null0,no-rx=1 \
        --log-level=warning -- --forward-mode=io --nb-cores=1 --burst=32 --txd=1024 --rxd=1024 \
        --stats-period=1 </dev/null >"$BENCH_WORK/dut.log" 2>&1 &
    _bench_pids+=($!)
}

# bench_start_gatewayd CONFIG: gatewayd as the DUT; stats in $BENCH_WORK/gw.json.
bench_start_gatewayd() {
    chmod 600 "$1"
    "$BENCH_GATEWAYD" --config "$1" --log-level warn --stats-json "$BENCH_WORK/gw.json" \
        </dev/null >"$BENCH_WORK/gwd.log" 2>&1 &
    _bench_pids+=($!)
}

# bench_gw_config: gatewayd's base config as the DUT, on stdout: memif in,
# net_null out (MTU 9000, room for ESP) with a static next hop for 198.18.0.2.
bench_gw_config() {
    cat <<CONF
eal main-lcore 0
eal file-prefix $BENCH_NAME-gw
eal in-memory
port in dev net_memif0,role=server,socket=$BENCH_SOCK,mac=$BENCH_GW_MAC
port in address 10.10.0.1/24
port out dev net_null0,no-rx=1 mtu 9000
port out address 198.18.0.254/24
neighbor out 198.18.0.2 02:00:00:00:02:02
worker 1 poll in:0
CONF
}

# bench_measure txonly SIZE | pcap FILE, then SECONDS: once a DUT is started,
# runs that generator for SECONDS, prints its rate (pps) and stops everything.
bench_measure() {
    sleep 2
    case $1 in
        txonly) bench_start_txonly "$2" ;;
        pcap) bench_start_pcap "$2" ;;
        *) echo "$BENCH_NAME: unknown generator $1" >&2; return 2 ;;
    esac
    sleep "$3"
    local pps
    pps=$(bench_gen_pps)
    # A hook for what must be read from the DUT while it runs (e.g. gwctl).
    if [[ -n ${BENCH_BEFORE_STOP:-} ]]; then eval "$BENCH_BEFORE_STOP" || true; fi
    bench_stop
    echo "$pps"
}

bench_stop() {
    procs_stop 15 "${_bench_pids[@]}"
    _bench_pids=()
    rm -f "$BENCH_SOCK"
}

# Mean of the generator's per-second Tx-pps, skipping the first two samples
# (connection set-up).
bench_gen_pps() {
    grep -o 'Tx-pps: *[0-9]*' "$BENCH_WORK/gen.log" | awk '{print $2}' | awk -v skip=2 '
        NR > skip && $1 > 0 { sum += $1; n++ } END { if (n) printf "%.0f\n", sum / n; else print 0 }'
}

# Sum of the gateway's drops, and its leaked mbufs, from the last run.
bench_gw_drops() {
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(d["drops"].values()))' \
        "$BENCH_WORK/gw.json" 2>/dev/null || echo "?"
}
bench_gw_leaked() {
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mbufs_leaked"])' \
        "$BENCH_WORK/gw.json" 2>/dev/null || echo "?"
}

bench_median() {
    tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
bench_mpps() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1e6 }'; }
