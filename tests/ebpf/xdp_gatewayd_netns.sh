#!/usr/bin/env bash
# XDP fast path with the data plane running: the real gatewayd on net_af_xdp ports
# (copy mode on veth) in the testbed's gw namespace loads, adopts and manages
# xdp_gateway from its config's `xdp` statements. While it forwards:
#   1. ordinary traffic is steered to the data plane (ping lan -> wan through
#      gatewayd; the `redirect-xsk` verdict counter grows, read live through the
#      pins with gw-xdp and at exit from --stats-json "xdp");
#   2. management traffic reaches the gw kernel: lan0 has a kernel address
#      (10.0.1.254, not the data plane's 10.0.1.1), `xdp pass tcp 2222`, and a
#      bounded TCP listener in the gw namespace answers the lan host, while a
#      ping through the data plane keeps getting replies;
#   3. a blocked source (xdp block 10.0.1.66/32) cannot reach through and its
#      rule counter grows;
#   4. gatewayd exits 0 on SIGTERM with mbufs_leaked 0, no XDP program stays
#      attached to lan0/wan0, and the pins (rules, counters) remain.
#
# ARP for the management address: ARP is not passed (`xdp pass arp` would starve
# the data plane, which resolves its own neighbours over the AF_XDP socket, and
# an XDP verdict cannot send one frame to both). So the management address is
# reached through static neighbours on both sides: the lan host maps 10.0.1.254
# to lan0's MAC, the gw kernel maps 10.0.1.2 to the lan host's MAC. ARP for the
# data plane's own addresses still goes to the data plane.
#
# Pins: gatewayd normally pins under /sys/fs/bpf/gatewayd; `ip netns exec` hides
# the host's bpffs, so a private bpffs mounted in the work dir is bind-mounted at
# /sys/fs/bpf for gatewayd. It outlives gatewayd (unlike gw_start's per-process
# mount), so (4) can check the pins; it is unmounted on exit.
#
# usage: xdp_gatewayd_netns.sh <gatewayd> [<gw-xdp>] (gw-xdp defaults to the
# build's ebpf/gw-xdp next to gateway/); exit 77 when not root / no hugepages.
set -euo pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

gatewayd=${1:?usage: xdp_gatewayd_netns.sh <gatewayd> [<gw-xdp>]}
gwxdp=${2:-$(dirname "$gatewayd")/../ebpf/gw-xdp}
gwctl=${3:-$(dirname "$gatewayd")/gwctl}
if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: xdp_gatewayd_netns needs root (network namespaces, BPF, hugepages)"
    exit $SKIP
fi
for f in "$gatewayd" "$gwxdp"; do
    [[ -x $f ]] || { echo "xdp_gatewayd_netns: '$f' not found or not executable" >&2; exit 1; }
done
for tool in jq ping python3 mount umount; do
    command -v "$tool" >/dev/null 2>&1 || { echo "xdp_gatewayd_netns: missing tool '$tool'" >&2; exit 1; }
done

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/netns.sh
source "$repo/scripts/lib/netns.sh"
if ! reason=$(testbed_check_env 2>&1); then
    echo "SKIP: xdp_gatewayd_netns: ${reason#netns: }"
    exit $SKIP
fi
free_pages=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if ((${free_pages:-0} < ${GW_TEST_MIN_HUGEPAGES:-64})); then
    echo "SKIP: xdp_gatewayd_netns: only ${free_pages:-0} free hugepages; run scripts/setup-host.sh"
    exit $SKIP
fi

prefix="gxd$$"
file_prefix="gxd$$"
workdir=$(mktemp -d "${TMPDIR:-/tmp}/xdp_gatewayd_netns.XXXXXX")
bpffs="$workdir/bpffs"
cfg="$workdir/gatewayd.conf"
out="$workdir/gatewayd.stdout"
err="$workdir/gatewayd.stderr"
stats="$workdir/stats.json"
MGMT4=10.0.1.254
MGMT_PORT=2222
BLOCKED4=10.0.1.66
listener_pid=""
bpffs_mounted=0
failed=0
total=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $listener_pid ]]; then
        kill -TERM "$listener_pid" 2>/dev/null || true
        wait "$listener_pid" 2>/dev/null || true
    fi
    gw_stop 5 >/dev/null 2>&1 || true
    testbed_down "$prefix"
    gw_cleanup_hugepages "$file_prefix"
    if ((bpffs_mounted)); then
        umount "$bpffs" 2>/dev/null || umount -l "$bpffs" 2>/dev/null || true
    fi
    if ((failed > 0 || rc != 0)); then
        echo "# --- gatewayd stderr (last 40 lines) ---"
        tail -n 40 "$err" 2>/dev/null | sed 's/^/# /' || true
        echo "# --- gatewayd stdout (last 60 lines) ---"
        tail -n 60 "$out" 2>/dev/null | sed 's/^/# /' || true
    fi
    if [[ -n ${GW_TEST_KEEP_LOGS:-} ]]; then
        echo "# logs kept in $workdir"
    elif ! mountpoint -q "$bpffs" 2>/dev/null; then
        rm -rf "$workdir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { total=$((total + 1)); echo "ok - $1"; }
fail() { total=$((total + 1)); failed=$((failed + 1)); echo "not ok - $1${2:+ # $2}"; }
bail() { fail "$1" "${2-}"; echo "Bail out! $1"; exit 1; }
indent() { sed 's/^/#   /'; }
# expect_ge DESCRIPTION VALUE MIN
expect_ge() {
    if [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3)); then pass "$1 = $2 (>= $3)"; else fail "$1 >= $3" "got '$2'"; fi
}

lan() { testbed_exec "$prefix" lan "$@"; }
gwns() { testbed_exec "$prefix" gw "$@"; }
mac() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }
# xstat IFNAME VERDICT: a verdict counter (packets) read live through the pins.
xstat() {
    gwns "$gwxdp" --pin-root "$bpffs/gatewayd" "$1" stats 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}

# --- set up -------------------------------------------------------------------
testbed_up "$prefix" || bail "testbed $prefix-{lan,gw,wan} up"
lan_ns=$(testbed_ns "$prefix" lan)
gw_ns=$(testbed_ns "$prefix" gw)
# Kernel management address on lan0 (before gatewayd starts: it reads the
# interface's addresses as the `local` set for management ports), a second
# source on the lan host for the block rule, and the static neighbours (see top).
ip -n "$gw_ns" addr add "$MGMT4/24" dev lan0
ip -n "$lan_ns" addr add "$BLOCKED4/24" dev eth0
ip -n "$lan_ns" neigh replace "$MGMT4" lladdr "$(mac "$gw_ns" lan0)" dev eth0 nud permanent
ip -n "$gw_ns" neigh replace "$TB_LAN_HOST4" lladdr "$(mac "$lan_ns" eth0)" dev lan0 nud permanent
pass "testbed up, management address $MGMT4 on gw lan0 with static neighbours"

mkdir -p "$bpffs"
mount -t bpf bpf "$bpffs" || bail "mount a private bpffs at $bpffs"
bpffs_mounted=1

{
    testbed_gw_config "$file_prefix" xdp
    cat <<CONFIG
xdp port lan
xdp port wan
xdp block $BLOCKED4/32
xdp pass tcp $MGMT_PORT
CONFIG
} >"$cfg" || bail "write gatewayd config"
chmod 600 "$cfg"

# As gw_start, but with our bpffs bind-mounted at /sys/fs/bpf (pins outlive the
# process); GW_PID is gatewayd itself, so gw_wait_ready/gw_stop apply.
# shellcheck disable=SC2016 # $0/$1 belong to the inner shell
ip netns exec "$gw_ns" /bin/sh -c 'mount --bind "$0" /sys/fs/bpf && shift && exec "$@"' \
    "$bpffs" -- "$gatewayd" --config "$cfg" --log-level info --stats-json "$stats" </dev/null >"$out" 2>"$err" &
GW_PID=$!
GW_RC=""
gw_wait_ready "$err" 30 || bail "gatewayd started and ready"
pass "gatewayd started on net_af_xdp ports and ready"

for ifc in lan0 wan0; do
    if ip -n "$gw_ns" -d link show "$ifc" | grep -q 'prog/xdp id [0-9]* name xdp_gateway'; then
        pass "xdp_gateway attached to $ifc"
    else
        fail "xdp_gateway attached to $ifc" "$(ip -n "$gw_ns" -d link show "$ifc" | tr '\n' ' ')"
    fi
done

# --- 1. ordinary traffic goes to the data plane -----------------------------
xsk0=$(xstat lan0 redirect-xsk)
if lan timeout 15 ping -c 5 -i 0.2 -W 2 "$TB_WAN_HOST4" >"$workdir/ping1" 2>&1; then
    pass "ping lan -> wan ($TB_WAN_HOST4) through gatewayd"
else
    fail "ping lan -> wan ($TB_WAN_HOST4) through gatewayd"
    indent <"$workdir/ping1"
fi
xsk1=$(xstat lan0 redirect-xsk)
if [[ -n $xsk0 && -n $xsk1 ]] && ((xsk1 >= xsk0 + 5)); then
    pass "lan0 redirect-xsk grew $xsk0 -> $xsk1 (live, via pins)"
else
    fail "lan0 redirect-xsk grew by >= 5" "'$xsk0' -> '$xsk1'"
fi

# --- 2. management traffic reaches the kernel while the data plane forwards ---
mgmt0=$(xstat lan0 pass-mgmt)
# Bounded listener: one connection, answers one line, 20 s at most.
ip netns exec "$gw_ns" timeout 20 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, a = s.accept(); c.settimeout(5)
line = c.makefile().readline().strip()
c.sendall(("kernel-ok " + line + "\n").encode()); c.close()
' "$MGMT4" "$MGMT_PORT" >"$workdir/listener" 2>&1 &
listener_pid=$!
for ((i = 0; i < 50; i++)); do
    [[ -n $(ip netns exec "$gw_ns" ss -ltnH "sport = :$MGMT_PORT" 2>/dev/null) ]] && break
    sleep 0.1
done
# Data plane traffic during the management connection.
lan timeout 15 ping -c 15 -i 0.2 -W 2 "$TB_WAN_HOST4" >"$workdir/ping2" 2>&1 &
ping_pid=$!
sleep 0.5
reply=$(lan timeout 10 python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(b"hello\n"); print(c.makefile().readline().strip())
' "$MGMT4" "$MGMT_PORT" 2>&1) || true
ping_rc=0
wait "$ping_pid" || ping_rc=$?
wait "$listener_pid" 2>/dev/null || true
listener_pid=""
if [[ $reply == "kernel-ok hello" ]]; then
    pass "TCP lan -> $MGMT4:$MGMT_PORT answered by the gw kernel's listener"
else
    fail "TCP lan -> $MGMT4:$MGMT_PORT answered by the gw kernel's listener" "got '$reply'"
    indent <"$workdir/listener"
fi
recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$workdir/ping2")
if ((ping_rc == 0)) && ((${recv:-0} >= 14)); then
    pass "data plane kept forwarding meanwhile ($recv/15 ping replies)"
else
    fail "data plane kept forwarding meanwhile" "ping rc $ping_rc, ${recv:-0}/15 replies"
    indent <"$workdir/ping2"
fi
mgmt1=$(xstat lan0 pass-mgmt)
if [[ -n $mgmt0 && -n $mgmt1 ]] && ((mgmt1 >= mgmt0 + 3)); then
    pass "lan0 pass-mgmt grew $mgmt0 -> $mgmt1 (SYN, ACK, data, FIN)"
else
    fail "lan0 pass-mgmt grew by >= 3" "'$mgmt0' -> '$mgmt1'"
fi

# --- 3. blocked source ---------------------------------------------------------
if lan timeout 10 ping -c 3 -i 0.2 -W 1 -I "$BLOCKED4" "$TB_WAN_HOST4" >"$workdir/ping3" 2>&1; then
    fail "blocked source $BLOCKED4 cannot reach $TB_WAN_HOST4"
    indent <"$workdir/ping3"
else
    pass "blocked source $BLOCKED4 cannot reach $TB_WAN_HOST4"
fi
blk=$(gwns "$gwxdp" --pin-root "$bpffs/gatewayd" lan0 stats 2>/dev/null |
    awk -v p="$BLOCKED4/32" '$1 == "rule" && $3 == "block" && $4 == p { print $5 }')
if ((${blk:-0} >= 3)); then
    pass "rule block $BLOCKED4/32 counted $blk packets (live)"
else
    fail "rule block $BLOCKED4/32 counted >= 3 packets" "got '${blk}'"
fi

# --- 3b. the same rule changed at run time with gwctl (maps only, no reload) ------
ctl() { "$gwctl" -s "/run/gatewayd/$file_prefix.sock" "$@"; }
xsk=$(ctl --json show xdp | jq '[.verdicts[] | select(.iface == "lan0" and .verdict == "redirect-xsk") | .packets] | add // 0')
expect_ge "gwctl show xdp: lan0 redirect-xsk" "$xsk" 5
if ctl xdp blocklist del "$BLOCKED4/32" >"$workdir/unblock" 2>&1 &&
    lan timeout 10 ping -c 3 -i 0.2 -W 2 -I "$BLOCKED4" "$TB_WAN_HOST4" >"$workdir/ping3b" 2>&1; then
    pass "gwctl xdp blocklist del: $BLOCKED4 reaches $TB_WAN_HOST4 again"
else
    fail "gwctl xdp blocklist del: $BLOCKED4 reaches $TB_WAN_HOST4 again" "$(cat "$workdir/unblock" "$workdir/ping3b" 2>/dev/null | tail -n 3 | tr '\n' ' ')"
fi
if ctl xdp blocklist add "$BLOCKED4/32" >"$workdir/block" 2>&1 &&
    ! lan timeout 10 ping -c 3 -i 0.2 -W 1 -I "$BLOCKED4" "$TB_WAN_HOST4" >/dev/null 2>&1; then
    pass "gwctl xdp blocklist add: $BLOCKED4 blocked again"
else
    fail "gwctl xdp blocklist add: $BLOCKED4 blocked again" "$(tr '\n' ' ' <"$workdir/block")"
fi
if ctl xdp blocklist show | grep -q "$BLOCKED4/32"; then
    pass "gwctl xdp blocklist show lists $BLOCKED4/32"
else
    fail "gwctl xdp blocklist show lists $BLOCKED4/32"
fi

# --- 4. shutdown ---------------------------------------------------------------
if gw_stop 15; then
    pass "gatewayd stopped on SIGTERM"
else
    fail "gatewayd stopped on SIGTERM" "needed SIGKILL"
fi
if [[ -s $stats ]] && jq -e . "$stats" >/dev/null 2>&1; then
    leaked=$(jq -r '.mbufs_leaked // "missing"' "$stats")
    if [[ $GW_RC == 0 && $leaked == 0 ]]; then
        pass "gatewayd exit status 0, stats mbufs_leaked = 0"
    else
        fail "gatewayd exit status 0, stats mbufs_leaked = 0" "exit $GW_RC, leaked $leaked"
    fi
    xsk=$(jq -r '.xdp.lan.verdicts["redirect-xsk"].packets // 0' "$stats")
    expect_ge "stats xdp.lan redirect-xsk" "$xsk" 20
    mg=$(jq -r '.xdp.lan.verdicts["pass-mgmt"].packets // 0' "$stats")
    expect_ge "stats xdp.lan pass-mgmt" "$mg" 3
    rb=$(jq -r --arg p "$BLOCKED4/32" '[.xdp.lan.rules[] | select(.kind == "block" and .prefix == $p) | .packets] | add // 0' "$stats")
    expect_ge "stats xdp.lan rule block $BLOCKED4/32" "$rb" 3
    db=$(jq -r '.xdp.lan.verdicts["drop-blocked"].packets // 0' "$stats")
    expect_ge "stats xdp.lan drop-blocked" "$db" 3
else
    fail "gatewayd exit status 0 and stats-json written" "exit $GW_RC; $stats missing or not JSON"
fi

for ifc in lan0 wan0; do
    if ip -n "$gw_ns" link show "$ifc" | grep -q xdp; then
        fail "no XDP program left on $ifc" "$(ip -n "$gw_ns" link show "$ifc" | tr '\n' ' ')"
    else
        pass "no XDP program left on $ifc"
    fi
done
for ifc in lan0 wan0; do
    if [[ -d $bpffs/gatewayd/$ifc ]] && [[ -n $(ls -A "$bpffs/gatewayd/$ifc") ]]; then
        pass "pins remain under gatewayd/$ifc ($(find "$bpffs/gatewayd/$ifc" -mindepth 1 | wc -l) maps)"
    else
        fail "pins remain under gatewayd/$ifc"
    fi
done
# The pinned counters are the ones gatewayd reported: the rule survives the exit.
after=$(gwns "$gwxdp" --pin-root "$bpffs/gatewayd" lan0 stats 2>&1 || true)
if grep -q "block  *$BLOCKED4/32 " <<<"$after"; then
    pass "block rule and its counter readable from the pins after exit"
else
    fail "block rule and its counter readable from the pins after exit"
    indent <<<"$after"
fi

echo "# $((total - failed))/$total assertions passed"
((failed == 0))
