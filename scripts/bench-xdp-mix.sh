#!/usr/bin/env bash
# XDP verdict mix vs the data plane's load (outside CI). How much work the XDP
# fast path takes off the poll-mode data plane: the same offered traffic, with
# a growing share of it dropped in XDP, and the data plane's worker load
# measured by the data plane itself (busy/total TSC cycles, `gwctl show runtime`).
#
#   testpmd txonly (af_packet on veth t0; --txonly-multi-flow varies the source's
#   third octet: 256 sources 198.18.0-255.x) --> t1: xdp_gateway (native XDP on veth)
#        |- drop-blocked for sources in the blocklist (changed with gwctl between phases)
#        '- redirect-xsk --> gatewayd (net_af_xdp, copy mode) --> net_null
#
# Phases: blocklist empty, 198.18.128.0/17 (~50 %), + 198.18.64.0/18 (~75 %),
# 198.18.0.0/16 (100 %). Per phase, over INTERVAL s: offered rate (t0 tx),
# XDP verdict rates (gwctl show xdp), the data plane's rx rate, its worker load
# and cycles per received packet. The redirect-to-socket rate is the
# redirect-xsk rate of the first phase (bounded by the generator or by the
# consumer, whichever is slower; the table says which).
#
# CPUs: the generator and the veth's softirq (where XDP runs) share CPU 0 with
# gatewayd's control thread; gatewayd's worker has CPU 1.
#
# usage: scripts/bench-xdp-mix.sh [--interval S] [--out FILE]   (root; build first)
set -euo pipefail
interval=5
out=""
while (($#)); do
    case $1 in
        --interval) interval=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "bench-xdp-mix: unknown argument $1" >&2; exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
gatewayd=$root/build/gateway/gatewayd
gwctl=$root/build/gateway/gwctl
testpmd=$(command -v dpdk-testpmd || true)
[[ $(id -u) -eq 0 ]] || { echo "bench-xdp-mix: run as root" >&2; exit 1; }
[[ -x $gatewayd && -x $gwctl ]] || { echo "bench-xdp-mix: build first (ninja -C build)" >&2; exit 1; }
[[ -n $testpmd ]] || { echo "bench-xdp-mix: dpdk-testpmd not found" >&2; exit 1; }

tag=$$
ns=bxm-$tag
fp=bxm$tag
work=$(mktemp -d /tmp/bench-xdp-mix.XXXXXX)
gen_pid=""
gw_pid=""
cleanup() {
    [[ -n $gen_pid ]] && { kill -INT "$gen_pid" 2>/dev/null || true; timeout 10 tail --pid="$gen_pid" -f /dev/null || kill -KILL "$gen_pid" 2>/dev/null || true; }
    [[ -n $gw_pid ]] && { kill -TERM "$gw_pid" 2>/dev/null || true; timeout 15 tail --pid="$gw_pid" -f /dev/null || kill -KILL "$gw_pid" 2>/dev/null || true; }
    ip netns del "$ns" 2>/dev/null || true
    umount "$work/bpffs" 2>/dev/null || true
    rm -rf "$work" "/var/run/dpdk/$fp-gw" "/var/run/dpdk/$fp-gen"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link add t0 type veth peer name t1
for i in t0 t1; do
    ip -n "$ns" link set "$i" up
    ip netns exec "$ns" ethtool -K "$i" tx off rx off gro off gso off tso off >/dev/null 2>&1 || true
done
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
mac=$(ip -n "$ns" -br link show t1 | awk '{print $3}')
mkdir -p "$work/bpffs"
mount -t bpf bpf "$work/bpffs"

cat >"$work/gw.conf" <<CONF
eal main-lcore 0
eal file-prefix $fp-gw
eal in-memory
port in dev net_af_xdp0,iface=t1,start_queue=0,queue_count=1,force_copy=1
port in address 198.18.0.254/24
port out dev net_null0,no-rx=1
port out address 198.19.0.1/24
neighbor out 198.19.0.2 02:00:00:00:02:02
route 198.18.0.2/32 via 198.19.0.2
worker 1 poll in:0
xdp port in
CONF
chmod 600 "$work/gw.conf"
# Private bpffs at /sys/fs/bpf for gatewayd's pins (ip netns exec hides the host's).
ip netns exec "$ns" sh -c 'mount --bind "$1" /sys/fs/bpf && exec "$2" --config "$3" --log-level warn' sh \
    "$work/bpffs" "$gatewayd" "$work/gw.conf" </dev/null >"$work/gw.log" 2>&1 &
gw_pid=$!
ctl() { "$gwctl" -s "/run/gatewayd/$fp-gw.sock" "$@"; }
for _ in $(seq 1 100); do
    ctl version >/dev/null 2>&1 && break
    kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gw.log" >&2; exit 1; }
    sleep 0.2
done

ip netns exec "$ns" "$testpmd" --lcores=0@0,1@0 --in-memory --file-prefix="$fp-gen" --no-pci \
    --vdev=net_af_packet0,iface=t0,blocksz=4096,framesz=2048,framecnt=2048,qpairs=1 --log-level=warning -- \
    --forward-mode=txonly --txonly-multi-flow --txpkts=64 --eth-peer=0,"$mac" --nb-cores=1 --burst=64 \
    --stats-period=1 \
    </dev/null >"$work/gen.log" 2>&1 &
gen_pid=$!
sleep 3

tx_packets() { ip netns exec "$ns" cat /sys/class/net/t0/statistics/tx_packets; }
sample() { # -> "t tx busy total rx blocked xsk"
    local rt xdp
    rt=$(ctl --json show runtime)
    xdp=$(ctl --json show xdp)
    echo "$(date +%s.%N) $(tx_packets)" \
        "$(jq '[.lcores[] | select(.role == "worker") | .busy_cycles] | add' <<<"$rt")" \
        "$(jq '[.lcores[] | select(.role == "worker") | .total_cycles] | add' <<<"$rt")" \
        "$(jq '[.lcores[] | select(.role == "worker") | .rx_packets] | add' <<<"$rt")" \
        "$(jq '[.verdicts[] | select(.verdict == "drop-blocked") | .packets] | add' <<<"$xdp")" \
        "$(jq '[.verdicts[] | select(.verdict == "redirect-xsk") | .packets] | add' <<<"$xdp")"
}

report=""
line() { report+="$1"$'\n'; echo "$1"; }
line "# XDP verdict mix vs data-plane load ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
line "command: scripts/bench-xdp-mix.sh --interval $interval"
line ""
line "| blocklist | offered (kpps) | XDP drop-blocked (kpps) | XDP redirect-xsk (kpps) | data plane rx (kpps) | worker load | cycles per rx packet |"
line "|---|---:|---:|---:|---:|---:|---:|"
phase() { # label
    sleep 2
    local a b
    a=$(sample)
    sleep "$interval"
    b=$(sample)
    read -r t0 tx0 busy0 tot0 rx0 blk0 xsk0 <<<"$a"
    read -r t1 tx1 busy1 tot1 rx1 blk1 xsk1 <<<"$b"
    line "$(awk -v l="$1" -v dt="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        -v tx=$((tx1 - tx0)) -v blk=$((blk1 - blk0)) -v xsk=$((xsk1 - xsk0)) -v rx=$((rx1 - rx0)) \
        -v busy=$((busy1 - busy0)) -v tot=$((tot1 - tot0)) 'BEGIN {
            load = 0; if (tot > 0) load = 100 * busy / tot
            cpp = "-"; if (rx > 0) cpp = sprintf("%.0f", busy / rx)
            printf "| %s | %.0f | %.0f | %.0f | %.0f | %.1f%% | %s |", l, tx / dt / 1e3, blk / dt / 1e3, xsk / dt / 1e3, rx / dt / 1e3, load, cpp }')"
}
phase "empty"
ctl xdp blocklist add 198.18.128.0/17 >/dev/null
phase "198.18.128.0/17"
ctl xdp blocklist add 198.18.64.0/18 >/dev/null
phase "+ 198.18.64.0/18"
ctl xdp blocklist del 198.18.128.0/17 >/dev/null
ctl xdp blocklist del 198.18.64.0/18 >/dev/null
ctl xdp blocklist add 198.18.0.0/16 >/dev/null
phase "198.18.0.0/16"
line ""
line "Worker load = busy/total TSC cycles of gatewayd's worker (rounds that received packets / all rounds)."
line "Cycles per rx packet = busy cycles / packets the data plane received (includes the af_xdp copy-mode rx)."
if [[ -n $out ]]; then printf '%s' "$report" >"$out"; fi
