# shellcheck shell=bash
# Testbed helpers: three network namespaces joined by veth pairs, and start/stop
# helpers for gatewayd inside the gateway namespace. Source it, do not run it:
#
#   source scripts/lib/netns.sh
#   testbed_up gwdemo                   # gwdemo-lan, gwdemo-gw, gwdemo-wan
#   testbed_exec gwdemo lan ping -c1 10.0.2.2
#   gw_start gwdemo out.txt err.txt build/gateway/gatewayd --config cfg
#   gw_wait_ready err.txt 30 && ... ; gw_stop 15; echo "exit $GW_RC"
#   testbed_down gwdemo                 # safe to call twice
#
# Functions: testbed_check_env, testbed_up, testbed_down, testbed_exec, testbed_ns,
# testbed_gw_config (a gatewayd config for this topology), testbed_iperf (bounded
# iperf3 run, prints Mbit/s), gw_start, gw_wait_ready, gw_stop (sets GW_RC),
# gw_cleanup_hugepages. Interfaces are created directly inside the namespaces, so
# PREFIX only has to keep the namespace names unique (no 15-char IFNAMSIZ limit).
#
# Topology (gw-side ends have no kernel addresses and IPv6 off, so only the
# DPDK process answers on them):
#
#   [PREFIX-lan] eth0 10.0.1.2/24 fd00:1::2/64 -- lan0 [PREFIX-gw] wan0 -- eth0 10.0.2.2/24 fd00:2::2/64 [PREFIX-wan]
#                default via 10.0.1.1, fd00:1::1                          default via 10.0.2.1, fd00:2::1
#
# Requires root, iproute2 and ethtool. Functions return non-zero with a message
# on stderr instead of exiting, so callers decide (they normally run set -e).

# Addresses of the testbed, for callers.
TB_LAN_HOST4=10.0.1.2
TB_LAN_HOST6=fd00:1::2
TB_LAN_GW4=10.0.1.1
TB_LAN_GW6=fd00:1::1
TB_WAN_HOST4=10.0.2.2
TB_WAN_HOST6=fd00:2::2
TB_WAN_GW4=10.0.2.1
TB_WAN_GW6=fd00:2::1
export TB_LAN_HOST4 TB_LAN_HOST6 TB_LAN_GW4 TB_LAN_GW6 TB_WAN_HOST4 TB_WAN_HOST6 TB_WAN_GW4 TB_WAN_GW6

# PID and exit status of the gatewayd started by gw_start / stopped by gw_stop.
GW_PID=""
GW_RC=""

_tb_err() { echo "netns: $*" >&2; }

# testbed_ns PREFIX HOST -> prints the namespace name (HOST is lan, gw or wan).
testbed_ns() {
    case ${2-} in
        lan | gw | wan) echo "$1-$2" ;;
        *)
            _tb_err "unknown testbed host '${2-}' (want lan, gw or wan)"
            return 1
            ;;
    esac
}

# testbed_exec PREFIX HOST CMD... : runs CMD inside the host's namespace.
testbed_exec() {
    if (($# < 3)); then
        _tb_err "usage: testbed_exec PREFIX lan|gw|wan CMD [ARGS...]"
        return 2
    fi
    local ns
    ns=$(testbed_ns "$1" "$2") || return 2
    shift 2
    ip netns exec "$ns" "$@"
}

# testbed_check_env: 0 if this host can build a testbed (root, ip netns, veth),
# otherwise prints the reason on stderr and returns 1.
testbed_check_env() {
    if [[ $(id -u) -ne 0 ]]; then
        _tb_err "needs root (network namespaces)"
        return 1
    fi
    local t
    for t in ip ethtool sysctl timeout; do
        if ! command -v "$t" >/dev/null 2>&1; then
            _tb_err "missing tool '$t' (run scripts/install-deps.sh)"
            return 1
        fi
    done
    local probe="tbprobe-$$"
    if ! ip netns add "$probe" 2>/dev/null; then
        _tb_err "cannot create network namespaces (ip netns add failed)"
        return 1
    fi
    if ! ip -n "$probe" link add p0 type veth peer name p1 2>/dev/null; then
        ip netns del "$probe" 2>/dev/null || true
        _tb_err "cannot create veth pairs in a namespace"
        return 1
    fi
    ip netns del "$probe"
    return 0
}

# _tb_offloads_off NS IFACE: no checksum/segmentation offloads, so AF_PACKET/AF_XDP
# see complete checksums and frames no larger than the MTU.
_tb_offloads_off() {
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || {
        _tb_err "ethtool -K $2 (in $1) failed"
        return 1
    }
}

# _tb_host NS IFACE ADDR4 ADDR6 GW4 GW6: configures a host end.
_tb_host() {
    local ns=$1 ifc=$2 a4=$3 a6=$4 gw4=$5 gw6=$6
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 &&
        ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$ifc.accept_dad=0" &&
        ip -n "$ns" addr add "$a4/24" dev "$ifc" &&
        ip -n "$ns" addr add "$a6/64" dev "$ifc" nodad &&
        ip -n "$ns" link set "$ifc" up &&
        ip -n "$ns" route add default via "$gw4" dev "$ifc" &&
        ip -n "$ns" -6 route add default via "$gw6" dev "$ifc"
}

# _tb_gw_side NS IFACE: gateway end: up, no addresses, IPv6 off, no forwarding.
_tb_gw_side() {
    local ns=$1 ifc=$2
    ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$ifc.disable_ipv6=1" &&
        ip -n "$ns" addr flush dev "$ifc" &&
        ip -n "$ns" link set "$ifc" up
}

# testbed_up PREFIX: creates PREFIX-lan, PREFIX-gw, PREFIX-wan and the veth pairs.
# Fails (after removing what it made) if any of them already exists.
testbed_up() {
    if (($# != 1)) || [[ -z $1 ]]; then
        _tb_err "usage: testbed_up PREFIX"
        return 2
    fi
    local p=$1 lan="$1-lan" gw="$1-gw" wan="$1-wan" ns
    for ns in "$lan" "$gw" "$wan"; do
        if [[ -e /run/netns/$ns ]]; then
            _tb_err "namespace $ns already exists (stale testbed? run testbed_down $p)"
            return 1
        fi
    done
    if ! _testbed_build "$p"; then
        _tb_err "testbed_up $p failed; removing what was created"
        testbed_down "$p"
        return 1
    fi
}

_testbed_build() {
    local lan="$1-lan" gw="$1-gw" wan="$1-wan" ns
    for ns in "$lan" "$gw" "$wan"; do
        ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up || return 1
    done
    # The gateway namespace: no IPv6 anywhere by default, no kernel forwarding.
    ip netns exec "$gw" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        net.ipv4.ip_forward=0 || return 1

    # Create each pair with its ends directly in their namespaces: nothing ever
    # appears in the root namespace, so interface names cannot collide there.
    ip link add eth0 netns "$lan" type veth peer name lan0 netns "$gw" || return 1
    ip link add eth0 netns "$wan" type veth peer name wan0 netns "$gw" || return 1

    _tb_offloads_off "$lan" eth0 || return 1
    _tb_offloads_off "$gw" lan0 || return 1
    _tb_offloads_off "$gw" wan0 || return 1
    _tb_offloads_off "$wan" eth0 || return 1

    _tb_gw_side "$gw" lan0 || return 1
    _tb_gw_side "$gw" wan0 || return 1
    _tb_host "$lan" eth0 "$TB_LAN_HOST4" "$TB_LAN_HOST6" "$TB_LAN_GW4" "$TB_LAN_GW6" || return 1
    _tb_host "$wan" eth0 "$TB_WAN_HOST4" "$TB_WAN_HOST6" "$TB_WAN_GW4" "$TB_WAN_GW6" || return 1
}

# testbed_down PREFIX: kills whatever still runs in the testbed's namespaces and
# deletes them (their veths go with them). Safe to call twice; always returns 0.
testbed_down() {
    if (($# != 1)) || [[ -z $1 ]]; then
        _tb_err "usage: testbed_down PREFIX"
        return 0
    fi
    local ns pids i
    for ns in "$1-lan" "$1-gw" "$1-wan"; do
        [[ -e /run/netns/$ns ]] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086 # word splitting of the pid list is intended
            kill -TERM $pids 2>/dev/null || true
            for ((i = 0; i < 30; i++)); do
                [[ -z $(ip netns pids "$ns" 2>/dev/null || true) ]] && break
                sleep 0.1
            done
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            # shellcheck disable=SC2086
            [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$ns" 2>/dev/null || _tb_err "could not delete namespace $ns"
    done
    return 0
}

# gw_start PREFIX STDOUT_FILE STDERR_FILE BINARY [ARGS...]: starts gatewayd (or any
# command) in PREFIX-gw in the background; sets GW_PID. Everything on the way execs,
# so GW_PID is the gatewayd process itself.
# `ip netns exec` gives the command a private mount namespace with a fresh /sys, which
# hides the host's bpffs; we mount a private bpffs instance at /sys/fs/bpf there, so
# libxdp can use its dispatcher and gatewayd can pin maps. Its pins vanish with the
# process and never collide with another testbed (ifindexes repeat across netns).
# Inspect them with: nsenter -t "$GW_PID" -m -n bpftool map show
gw_start() {
    if (($# < 4)); then
        _tb_err "usage: gw_start PREFIX STDOUT_FILE STDERR_FILE BINARY [ARGS...]"
        return 2
    fi
    local ns out=$2 err=$3
    ns=$(testbed_ns "$1" gw) || return 2
    shift 3
    if [[ ! -x $1 ]]; then
        _tb_err "gatewayd binary '$1' not found or not executable"
        return 1
    fi
    # shellcheck disable=SC2016 # $0/$@ belong to the inner shell
    ip netns exec "$ns" /bin/sh -c '
        mount -t bpf bpf /sys/fs/bpf 2>/dev/null ||
            echo "netns: warning: could not mount bpffs in $0; XDP pins unavailable" >&2
        exec "$@"' "$ns" "$@" </dev/null >"$out" 2>"$err" &
    GW_PID=$!
    GW_RC=""
}

# gw_wait_ready STDERR_FILE [TIMEOUT_S=30]: waits for "gatewayd[info]: ready" in the
# log. Returns 1 (printing the log tail) if gatewayd exits or the time runs out.
gw_wait_ready() {
    local err=$1 limit=${2:-30} deadline
    if [[ -z $GW_PID ]]; then
        _tb_err "gw_wait_ready: no gatewayd started"
        return 1
    fi
    deadline=$((SECONDS + limit))
    while ((SECONDS < deadline)); do
        if grep -q 'gatewayd\[info\]: ready' "$err" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$GW_PID" 2>/dev/null; then
            GW_RC=0
            wait "$GW_PID" 2>/dev/null || GW_RC=$?
            _tb_err "gatewayd exited (status $GW_RC) before it was ready; last lines of $err:"
            tail -n 20 "$err" >&2 || true
            GW_PID=""
            return 1
        fi
        sleep 0.2
    done
    _tb_err "gatewayd not ready after ${limit}s; last lines of $err:"
    tail -n 20 "$err" >&2 || true
    return 1
}

# gw_stop [TIMEOUT_S=15]: SIGTERM, wait up to TIMEOUT_S, then SIGKILL. Sets GW_RC to
# gatewayd's exit status (137 after SIGKILL). Returns 0 if it exited by itself on
# SIGTERM, 1 if it had to be killed. Safe to call when nothing runs. Bounded even if
# the process cannot die (a thread stuck in the kernel): then it is left behind with
# a warning instead of blocking in `wait`.
gw_stop() {
    local limit=${1:-15} killed=0
    if [[ -z $GW_PID ]]; then
        return 0
    fi
    kill -TERM "$GW_PID" 2>/dev/null || true
    if ! _gw_wait_exit "$GW_PID" "$limit"; then
        _tb_err "gatewayd (pid $GW_PID) still running ${limit}s after SIGTERM; sending SIGKILL"
        kill -KILL "$GW_PID" 2>/dev/null || true
        killed=1
        if ! _gw_wait_exit "$GW_PID" 10; then
            _tb_err "gatewayd (pid $GW_PID) did not exit 10s after SIGKILL (stuck in the kernel?); leaving it"
            GW_RC=137
            GW_PID=""
            return 1
        fi
    fi
    GW_RC=0
    wait "$GW_PID" 2>/dev/null || GW_RC=$?
    GW_PID=""
    ((killed == 0))
}

# _gw_wait_exit PID SECONDS: 0 once PID has exited (bash reaps its own background
# children as they exit, so kill -0 fails then), 1 if it still runs after SECONDS.
_gw_wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
    return 0
}

# gw_cleanup_hugepages FILE_PREFIX: removes hugepage and runtime files a DPDK process
# with --file-prefix FILE_PREFIX may have left behind (none with --in-memory).
gw_cleanup_hugepages() {
    local fp=${1-}
    [[ -n $fp ]] || return 0
    rm -f /dev/hugepages/"${fp}"map_* 2>/dev/null || true
    rm -rf "/var/run/dpdk/${fp:?}" 2>/dev/null || true
    return 0
}

# testbed_gw_config FILE_PREFIX [packet|xdp]: prints a gatewayd config for this
# testbed on stdout (af_packet ports by default; xdp = AF_XDP in copy mode, the only
# mode veth supports). Write it to a mode-0600 file (mktemp creates them so).
# TB_GW_SHARED=1: hugepage-backed shared memory instead of 'eal in-memory', so that
# secondary processes (dpdk-dumpcap) can attach.
testbed_gw_config() {
    local fp=${1:?testbed_gw_config: FILE_PREFIX missing} mode=${2:-packet} lan_dev wan_dev
    case $mode in
        packet)
            lan_dev="net_af_packet0,iface=lan0"
            wan_dev="net_af_packet1,iface=wan0"
            ;;
        xdp)
            lan_dev="net_af_xdp0,iface=lan0,start_queue=0,queue_count=1,force_copy=1"
            wan_dev="net_af_xdp1,iface=wan0,start_queue=0,queue_count=1,force_copy=1"
            ;;
        *)
            _tb_err "testbed_gw_config: unknown port mode '$mode' (packet or xdp)"
            return 2
            ;;
    esac
    cat <<CONFIG
# gatewayd config generated by scripts/lib/netns.sh for the netns testbed
eal main-lcore 0
eal file-prefix $fp
$([[ ${TB_GW_SHARED:-0} == 1 ]] || echo "eal in-memory")
dataplane burst 32 drain-us 100 idle-sleep-us 20
port lan dev $lan_dev rxq 1
port lan address $TB_LAN_GW4/24
port lan address $TB_LAN_GW6/64
port wan dev $wan_dev rxq 1
port wan address $TB_WAN_GW4/24
port wan address $TB_WAN_GW6/64
worker 1 poll lan:0 wan:0
CONFIG
}

# testbed_iperf PREFIX SECONDS: runs a bounded iperf3 TCP test lan -> wan host
# (server on the wan host with --one-off). Prints the received rate in Mbit/s
# (e.g. "912.4") on stdout; returns non-zero on failure with the reason on stderr.
testbed_iperf() {
    local p=${1:?testbed_iperf: PREFIX missing} secs=${2:-3} spid json rate i rc=0 wan_ns errmsg
    local port=5201
    wan_ns=$(testbed_ns "$p" wan) || return 2
    # Started directly (not through a function) so that $! is the timeout process
    # itself (ip netns exec execs it) and killing it stops the server.
    ip netns exec "$wan_ns" timeout $((secs + 30)) iperf3 --server --one-off --bind "$TB_WAN_HOST4" \
        --port "$port" >/dev/null 2>&1 &
    spid=$!
    for ((i = 0; i < 50; i++)); do
        if [[ -n $(ip netns exec "$wan_ns" ss -ltnH "sport = :$port" 2>/dev/null) ]]; then
            break
        fi
        sleep 0.1
    done
    json=$(testbed_exec "$p" lan timeout $((secs + 20)) iperf3 --client "$TB_WAN_HOST4" --port "$port" \
        --time "$secs" --connect-timeout 3000 --json 2>&1) || rc=$?
    # The one-off server exits after one test; make sure it is gone either way.
    if kill -0 "$spid" 2>/dev/null; then
        kill -TERM "$spid" 2>/dev/null || true
    fi
    wait "$spid" 2>/dev/null || true
    # iperf3 3.12 exits 0 even when it cannot connect in --json mode: check .error too.
    errmsg=$(jq -r '.error // empty' <<<"$json" 2>/dev/null || true)
    if ((rc != 0)) || [[ -n $errmsg ]]; then
        _tb_err "iperf3 client failed (status $rc): ${errmsg:-$(tail -n 3 <<<"$json")}"
        return 1
    fi
    rate=$(jq -r '.end.sum_received.bits_per_second // empty' <<<"$json" 2>/dev/null || true)
    if [[ -z $rate ]]; then
        _tb_err "iperf3 gave no result"
        return 1
    fi
    awk -v r="$rate" 'BEGIN { printf "%.1f\n", r / 1e6 }'
}
