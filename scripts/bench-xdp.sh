#!/usr/bin/env bash
# XDP fast-path benchmark (outside CI): per-core cost of xdp_gateway's verdicts
# as a ratio to a minimal XDP_DROP program (ebpf/xdp_drop.bpf.c) measured in
# the same run. Each figure is the kernel's own average over REPEAT runs of one
# 64-byte frame through BPF_PROG_TEST_RUN (`bpftool prog run ... repeat N`), on
# one core, for the program attached to a veth in native mode.
#
# Why not traffic over veth: Debian 12's xdp-tools 1.3.1 (xdp-trafficgen,
# xdp-bench) fail to load on this 6.x kernel (tracepoint BTF changed), and the
# kernel has no pktgen; test-run isolates the program's cost, which is what
# the ratio is about. The wire rate on veth is bounded by the generator, not by
# these programs.
#
# usage: scripts/bench-xdp.sh [build dir] (default build); REPEAT=2000000 by default.
set -euo pipefail
BUILD=${1:-build}
GWXDP=$BUILD/ebpf/gw-xdp
DROP_OBJ=$BUILD/ebpf/xdp_drop.bpf.o
REPEAT=${REPEAT:-2000000}
[[ $(id -u) -eq 0 ]] || { echo "bench-xdp: run as root" >&2; exit 1; }
[[ -x $GWXDP && -f $DROP_OBJ ]] || { echo "bench-xdp: build $GWXDP and $DROP_OBJ first" >&2; exit 1; }

tag=$$; NS=bxd-$tag
TMP=$(mktemp -d /tmp/bench-xdp.XXXXXX)
cleanup() {
    ip netns del "$NS" 2>/dev/null || true
    umount "$TMP/bpffs" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/bpffs"; mount -t bpf bpf "$TMP/bpffs"
ip netns add "$NS"
ip -n "$NS" link add d0 type veth peer name d1
ip -n "$NS" link add e0 type veth peer name e1
for i in d0 d1 e0 e1; do ip -n "$NS" link set "$i" up; done
x() { ip netns exec "$NS" "$GWXDP" --pin-root "$TMP/bpffs/gw" "$@" >/dev/null 2>&1; }

# 64-byte Ethernet/IPv4/UDP frame: src $1 (hex, 8 digits), dst $2.
frame() {
    local f="$TMP/frame-$1-$2"
    printf '020000000001020000000002080045000032123400004011%s%s%s%s%s' 0000 "$1" "$2" \
        "8235fa00001e0000" "0000000000000000000000000000000000000000000000" | xxd -r -p > "$f"
    echo "$f"
}
# average ns per run for program id $1 on frame $2
run_ns() {
    ip netns exec "$NS" bpftool prog run id "$1" data_in "$2" repeat "$REPEAT" 2>&1 |
        sed -n 's/.*duration (average): *\([0-9]*\)ns.*/\1/p'
}
prog_id() { ip -n "$NS" -d link show "$1" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; }

SRC=0a080002; BLOCKED=0a080063; DST_BYPASS=0a090001; DST_OTHER=0a0a0001
ip -n "$NS" link set dev d1 xdpdrv obj "$DROP_OBJ" sec xdp
ceiling=$(run_ns "$(prog_id d1)" "$(frame $SRC $DST_OTHER)")

x d0 attach native
x d0 block 10.8.0.96/27
x d0 bypass 10.9.0.0/24 e0 02:00:00:00:00:aa
id=$(prog_id d0)
drop=$(run_ns "$id" "$(frame $BLOCKED $DST_OTHER)")
pass=$(run_ns "$id" "$(frame $SRC $DST_OTHER)")
redir=$(run_ns "$id" "$(frame $SRC $DST_BYPASS)")
x d0 ratelimit 1 1
rl=$(run_ns "$id" "$(frame $SRC $DST_OTHER)")
x d0 ratelimit 0 0

row() { awk -v l="$1" -v n="$2" -v c="$ceiling" \
    'BEGIN { printf "%-48s %8d ns %10.2f Mpps %8.2f\n", l, n, n ? 1000 / n : 0, n ? c / n : 0 }'; }
echo "kernel $(uname -r), $(nproc) cores, REPEAT=$REPEAT, 64 B IPv4/UDP, one core, BPF_PROG_TEST_RUN"
printf '%-48s %11s %15s %8s\n' "program / verdict" "per pkt" "rate" "ratio"
row "minimal XDP_DROP (ebpf/xdp_drop.bpf.c)" "$ceiling"
row "xdp_gateway drop: blocklist hit" "$drop"
row "xdp_gateway drop: over rate limit" "$rl"
row "xdp_gateway redirect: bypass (rewrite, devmap)" "$redir"
row "xdp_gateway to data plane (xsks_map; no socket)" "$pass"
