# shellcheck shell=bash
# The validation suite's topology and measurements (scripts/validate.sh). Source it,
# do not run it.
#
#   gwgen port A ==memif== gatewayd A ==memif "WAN"== gatewayd B ==memif== gwgen port B
#   (10.10.0.2)    lan 10.10.0.1  wan 198.51.100.1/30 - 198.51.100.2/30 wan  lan 10.20.0.1    (10.20.0.2)
#
# and, for the I/O ceiling, the same links with each gatewayd replaced by
# dpdk-testpmd --forward-mode=io (on a 2-core host: one testpmd doing both hops).
#
# Every measurement writes its raw output under $VAL_WORK beside a `.cmd` file holding
# the exact command; val_report turns the directory into the markdown and JSON report.
# Every process is started under `timeout` (bounded even if this shell dies) and
# val_cleanup (the EXIT trap) stops them, then removes their DPDK runtime directories,
# control and memif sockets.
#
# Functions: val_init, val_spawn, val_stop, val_cleanup, val_gw_config,
# val_gateways_start, val_gateways_stop, val_gwctl_snapshot, val_gwctl_clear, val_gwgen,
# val_io_chain_start, val_io_chain_stop, val_crypto_ceiling, val_lz4_ceiling,
# val_unavailable, val_report.

# MACs: gwgen's ports (c), gateway A (a), gateway B (b); lan = 1, wan = 2.
VAL_GEN_MAC_A=02:00:00:00:0c:01
VAL_GEN_MAC_B=02:00:00:00:0c:02
VAL_GW_A_LAN_MAC=02:00:00:00:0a:01
VAL_GW_A_WAN_MAC=02:00:00:00:0a:02
VAL_GW_B_LAN_MAC=02:00:00:00:0b:01
VAL_GW_B_WAN_MAC=02:00:00:00:0b:02
# memif ring size (log2) on every link: 4096 slots absorb a few ms of the scheduler
# running the other process of a shared CPU (the default 1024 overflows at ~1 Mpps).
VAL_MEMIF_RSIZE=${VAL_MEMIF_RSIZE:-12}
# What gwgen sends: site A's host to site B's host, 64 flows, compressible text.
# shellcheck disable=SC2034  # used by scripts/validate.sh
VAL_STREAM_FIELDS="payload=text src=10.10.0.2 dst=10.20.0.2 dport=1000-1063"

# shellcheck source=procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

_val_pids=()

_val_log() { echo "validate: $*" >&2; }

# val_init: checks the host and the build, creates $VAL_WORK and the EXIT trap, chooses
# the CPU layout ($VAL_LAYOUT: shared|dedicated, auto from nproc unless set) and memory
# mode. Needs VAL_ROOT (the repository); VAL_BUILD is the build directory (default
# $VAL_ROOT/build). Sets VAL_PLOT etc. for the caller.
# shellcheck disable=SC2034,SC2153
val_init() {
    local build=${VAL_BUILD:-$VAL_ROOT/build}
    VAL_GATEWAYD=$build/gateway/gatewayd
    VAL_GWCTL=$build/gateway/gwctl
    VAL_GWGEN=$build/pktgen/gwgen/gwgen
    VAL_CRYPTO=$build/pktgen/gw-crypto-ceiling
    VAL_LZ4=$build/pktgen/gw-lz4-ceiling
    VAL_PLOT=$VAL_ROOT/pktgen/plot-gwgen.sh
    VAL_TESTPMD=$(command -v dpdk-testpmd || true)
    [[ $(id -u) -eq 0 ]] || { _val_log "must run as root (DPDK, /run/gatewayd)"; return 1; }
    local b
    for b in "$VAL_GATEWAYD" "$VAL_GWCTL" "$VAL_GWGEN" "$VAL_CRYPTO"; do
        [[ -x $b ]] || { _val_log "$b not built (ninja -C build)"; return 1; }
    done
    [[ -n $VAL_TESTPMD ]] || { _val_log "dpdk-testpmd not found (scripts/install-deps.sh)"; return 1; }
    VAL_PY=/usr/bin/python3
    [[ -x $VAL_PY ]] || VAL_PY=$(command -v python3 || true)
    [[ -n $VAL_PY ]] || { _val_log "python3 not found"; return 1; }
    VAL_PREFIX=gwval-$$
    VAL_WORK=$(mktemp -d "/tmp/$VAL_PREFIX.XXXXXX")
    VAL_SOCK=$VAL_WORK/sock
    mkdir -p "$VAL_SOCK"
    trap val_cleanup EXIT
    trap 'exit 130' INT TERM

    local ncpu
    ncpu=$(nproc)
    if [[ ${VAL_LAYOUT:-auto} == auto ]]; then
        VAL_LAYOUT=shared
        if ((ncpu >= 4)); then VAL_LAYOUT=dedicated; fi
    fi
    case $VAL_LAYOUT in
        shared)
            # CPU 0: gwgen's send/receive loop and every control thread; CPU 1: both
            # gateways' workers, which sleep when a poll finds nothing so that they take
            # turns, and the ceilings' single forwarding lcore.
            VAL_GEN_LCORES="0@0,1@0"
            VAL_A_WORKER=1
            VAL_B_WORKER=1
            VAL_DUT_CPU=1
            VAL_IDLE_SLEEP_US=${VAL_IDLE_SLEEP_US:-10}
            ;;
        dedicated)
            ((ncpu >= 4)) || { _val_log "layout dedicated needs 4 CPUs, this host has $ncpu"; return 1; }
            VAL_GEN_LCORES="0@0,1@1"
            VAL_A_WORKER=2
            VAL_B_WORKER=3
            VAL_DUT_CPU=2
            VAL_IDLE_SLEEP_US=${VAL_IDLE_SLEEP_US:-0}
            ;;
        *) _val_log "unknown layout '$VAL_LAYOUT' (shared, dedicated)"; return 1 ;;
    esac

    # Hugepages when 1 GiB is free (two gateways and gwgen), else (or with VAL_NO_HUGE set)
# anonymous memory.
    local free size
    free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
    size=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
    if [[ -z ${VAL_NO_HUGE:-} ]] && ((${free:-0} * ${size:-0} >= 1048576)) && grep -q hugetlbfs /proc/mounts; then
        VAL_MEMORY=hugepages
        VAL_GW_EAL_MEM="eal in-memory"
        VAL_GEN_MEM=()
        VAL_PMD_MEM=(--in-memory)
    else
        VAL_MEMORY=no-huge
        VAL_GW_EAL_MEM=$'eal no-huge\neal memory 1024'
        VAL_GEN_MEM=(--no-huge -m 1024)
        VAL_PMD_MEM=(--no-huge --no-shconf -m 1024)
    fi
    mkdir -p "$VAL_WORK/meta"
    {
        echo "layout=$VAL_LAYOUT"
        echo "memory=$VAL_MEMORY"
        echo "idle_sleep_us=$VAL_IDLE_SLEEP_US"
        echo "gen_lcores=$VAL_GEN_LCORES"
        echo "a_worker=$VAL_A_WORKER"
        echo "b_worker=$VAL_B_WORKER"
        echo "dut_cpu=$VAL_DUT_CPU"
        echo "memif_rsize=$VAL_MEMIF_RSIZE"
    } >"$VAL_WORK/meta/layout"
}

# One word as a shell would need it: as it is when plain, else in single quotes.
_val_word() {
    local q="'"
    if [[ $1 =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//$q/$q\\$q$q}"
    fi
}

# The command line as it can be pasted from the repository root.
_val_quote() {
    local out="" w
    for w in "$@"; do out+="$(_val_word "$w") "; done
    out=${out% }
    echo "${out//"$VAL_ROOT/"/}"
}

# val_spawn LOG LIFETIME_S CMD...: starts CMD in the background under timeout (SIGINT at
# LIFETIME_S, SIGKILL 10 s later), stdout and stderr to LOG, the command to LOG's .cmd;
# sets VAL_SPAWNED to the pid.
val_spawn() {
    local log=$1 life=$2
    shift 2
    _val_quote "$@" >"${log%.log}.cmd"
    timeout -s INT -k 10 "$life" "$@" </dev/null >"$log" 2>&1 &
    VAL_SPAWNED=$!
    _val_pids+=("$VAL_SPAWNED")
}

# val_stop PID [GRACE_S]: SIGINT, wait up to GRACE_S (15), then SIGKILL; prints the exit code.
val_stop() {
    local pid=$1 grace=${2:-15} rc=0 i
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || rc=$?
    local keep=() p
    for p in "${_val_pids[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    _val_pids=("${keep[@]}")
    echo "$rc"
}

val_cleanup() {
    procs_stop 15 "${_val_pids[@]}"
    _val_pids=()
    if [[ -n ${VAL_PREFIX:-} ]]; then
        rm -rf /var/run/dpdk/"$VAL_PREFIX"-* 2>/dev/null || true
        rm -f /run/gatewayd/"$VAL_PREFIX"-*.sock 2>/dev/null || true
    fi
    if [[ -n ${VAL_WORK:-} && -d $VAL_WORK ]]; then
        if [[ -n ${VAL_KEEP_WORK:-} ]]; then
            _val_log "raw results kept in $VAL_WORK"
        else
            rm -rf "$VAL_WORK"
        fi
    fi
}

# _val_wait_file PATH TIMEOUT_S: waits for a socket file to appear.
_val_wait_socket() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ -S $1 ]] && return 0
        sleep 0.1
    done
    return 1
}

# index role socket [mac] -> devargs. Sockets are files (not DPDK 22.11's default abstract
# names) so that start-up can wait for them and cleanup can remove them.
_val_memif() {
    echo "net_memif$1,role=$2,socket=$VAL_SOCK/$3,socket-abstract=no,rsize=$VAL_MEMIF_RSIZE${4:+,mac=$4}"
}

# val_gw_config SIDE(a|b) SCENARIO(forward|encrypt) KEY_AB KEY_BA: the gateway's config on
# stdout. A serves its LAN link and the WAN link; B is the WAN link's client.
val_gw_config() {
    local side=$1 scenario=$2 k_ab=$3 k_ba=$4
    echo "# gatewayd $side of the validation suite: $scenario"
    echo "eal main-lcore 0"
    echo "eal file-prefix $VAL_PREFIX-$side"
    echo "$VAL_GW_EAL_MEM"
    echo "dataplane idle-sleep-us $VAL_IDLE_SLEEP_US"
    echo "telemetry latency on"
    # rxq 2 on the WAN: gatewayd opens a tx queue per lcore (main + worker) and memif
    # pairs the client's tx queues with the server's rx queues one to one.
    if [[ $side == a ]]; then
        echo "port lan dev $(_val_memif 0 server a-lan.sock "$VAL_GW_A_LAN_MAC")"
        echo "port lan address 10.10.0.1/24"
        echo "port wan dev $(_val_memif 1 server wan.sock "$VAL_GW_A_WAN_MAC") rxq 2"
        echo "port wan address 198.51.100.1/30"
        echo "neighbor lan 10.10.0.2 $VAL_GEN_MAC_A"
        echo "neighbor wan 198.51.100.2 $VAL_GW_B_WAN_MAC"
        echo "route 10.20.0.0/24 via 198.51.100.2"
        echo "worker $VAL_A_WORKER"
    else
        echo "port wan dev $(_val_memif 0 client wan.sock "$VAL_GW_B_WAN_MAC") rxq 2"
        echo "port wan address 198.51.100.2/30"
        echo "port lan dev $(_val_memif 1 server b-lan.sock "$VAL_GW_B_LAN_MAC")"
        echo "port lan address 10.20.0.1/24"
        echo "neighbor lan 10.20.0.2 $VAL_GEN_MAC_B"
        echo "neighbor wan 198.51.100.1 $VAL_GW_A_WAN_MAC"
        echo "route 10.10.0.0/24 via 198.51.100.1"
        echo "worker $VAL_B_WORKER"
    fi
    if [[ $scenario == encrypt ]]; then
        local local_ip=198.51.100.1 remote_ip=198.51.100.2 ab=out ba=in
        if [[ $side == b ]]; then local_ip=198.51.100.2 remote_ip=198.51.100.1 ab=in ba=out; fi
        echo "ipsec sa a2b $ab spi 0x1001 aes-gcm-128 key $k_ab tunnel $local_ip $remote_ip"
        echo "ipsec sa b2a $ba spi 0x2001 aes-gcm-128 key $k_ba tunnel $local_ip $remote_ip"
        echo "ipsec policy $ab priority 10 src 10.10.0.0/24 dst 10.20.0.0/24 protect a2b"
        echo "ipsec policy $ba priority 10 src 10.20.0.0/24 dst 10.10.0.0/24 protect b2a"
    fi
}

_val_key() { od -An -tx1 -N20 /dev/urandom | tr -d ' \n'; }

# val_gateways_start DIR SCENARIO LIFETIME_S: writes DIR/{a,b}.conf (0600, fresh keys) and
# DIR/config-{a,b}.txt (keys hidden), starts A then B, waits for the sockets and links.
val_gateways_start() {
    local dir=$1 scenario=$2 life=$3 k_ab k_ba side
    VAL_GW_A_PID=""
    VAL_GW_B_PID=""
    k_ab=$(_val_key)
    k_ba=$(_val_key)
    mkdir -p "$dir"
    for side in a b; do
        (umask 077 && val_gw_config "$side" "$scenario" "$k_ab" "$k_ba" >"$dir/$side.conf")
        chmod 600 "$dir/$side.conf"
        sed -E 's/ key [0-9a-f]+ / key (random per run) /' "$dir/$side.conf" >"$dir/config-$side.txt"
    done
    rm -f "$VAL_SOCK"/*.sock
    val_spawn "$dir/gw-a.log" "$life" "$VAL_GATEWAYD" --config "$dir/a.conf" --log-level warn \
        --stats-json "$dir/stats-a.json"
    VAL_GW_A_PID=$VAL_SPAWNED
    if ! _val_wait_socket "$VAL_SOCK/wan.sock" 20 || ! _val_wait_socket "$VAL_SOCK/a-lan.sock" 5; then
        _val_log "gatewayd A did not start: $(tail -3 "$dir/gw-a.log" | tr '\n' ' ')"
        return 1
    fi
    # B's WAN port is a memif client: A's socket must exist before B starts its ports.
    val_spawn "$dir/gw-b.log" "$life" "$VAL_GATEWAYD" --config "$dir/b.conf" --log-level warn \
        --stats-json "$dir/stats-b.json"
    VAL_GW_B_PID=$VAL_SPAWNED
    if ! _val_wait_socket "$VAL_SOCK/b-lan.sock" 20; then
        _val_log "gatewayd B did not start: $(tail -3 "$dir/gw-b.log" | tr '\n' ' ')"
        return 1
    fi
    # The LAN links come up when gwgen connects; the WAN link must be up now.
    local i up=0
    for ((i = 0; i < 50; i++)); do
        if timeout 10 "$VAL_GWCTL" -s "/run/gatewayd/$VAL_PREFIX-a.sock" --timeout 5 --json show interface 2>/dev/null |
            "$VAL_PY" -c 'import json,sys; sys.exit(0 if [p for p in json.load(sys.stdin)["ports"] if p["name"] == "wan" and p["link_up"]] else 1)' \
                2>/dev/null; then
            up=1
            break
        fi
        sleep 0.2
    done
    ((up)) || { _val_log "the WAN memif link between the gateways did not come up"; return 1; }
}

# val_gateways_stop DIR: SIGINT to both; exit codes in DIR/rc-{a,b} (gatewayd: 3 = leak).
val_gateways_stop() {
    if [[ -n ${VAL_GW_A_PID:-} ]]; then val_stop "$VAL_GW_A_PID" 20 >"$1/rc-a"; fi
    if [[ -n ${VAL_GW_B_PID:-} ]]; then val_stop "$VAL_GW_B_PID" 20 >"$1/rc-b"; fi
}

# val_gwctl_clear: both gateways' counters and latency start from zero.
val_gwctl_clear() {
    local side
    for side in a b; do
        timeout 10 "$VAL_GWCTL" -s "/run/gatewayd/$VAL_PREFIX-$side.sock" --timeout 5 clear counters >/dev/null 2>&1 || true
    done
}

# val_gwctl_snapshot DIR: runtime, errors and latency of both gateways as DIR/{a,b}-*.json.
val_gwctl_snapshot() {
    local dir=$1 side what
    for side in a b; do
        for what in runtime errors latency; do
            _val_quote "$VAL_GWCTL" -s "/run/gatewayd/$VAL_PREFIX-$side.sock" --json show "$what" >"$dir/$side-$what.cmd"
            timeout 10 "$VAL_GWCTL" -s "/run/gatewayd/$VAL_PREFIX-$side.sock" --timeout 5 --json show "$what" \
                >"$dir/$side-$what.json" 2>/dev/null || rm -f "$dir/$side-$what.json"
        done
    done
}

# val_gwgen DIR NAME LIFETIME_S ARGS...: gwgen on the topology's two ports (A sends, B
# receives), result in DIR/NAME.json, its terminal output in DIR/NAME.log, exit code in
# DIR/NAME.rc. Waits for it (bounded by LIFETIME_S).
val_gwgen() {
    local dir=$1 name=$2 life=$3 rc=0
    shift 3
    mkdir -p "$dir"
    local cmd=("$VAL_GWGEN"
        --port "$(_val_memif 0 client a-lan.sock "$VAL_GEN_MAC_A")"
        --port "$(_val_memif 1 client b-lan.sock "$VAL_GEN_MAC_B")"
        --dst-mac "$VAL_GW_A_LAN_MAC" --file-prefix "$VAL_PREFIX-gen" "${VAL_GEN_MEM[@]}" -q
        --json "$dir/$name.json" "$@" -- --lcores "$VAL_GEN_LCORES")
    _val_quote "${cmd[@]}" >"$dir/$name.cmd"
    timeout -s INT -k 10 "$life" "${cmd[@]}" </dev/null >"$dir/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$dir/$name.rc"
    rm -rf /var/run/dpdk/"$VAL_PREFIX"-gen 2>/dev/null || true
    return 0
}

_val_testpmd() { # log lifetime lcores vdevs... : one io-forwarding testpmd
    local log=$1 life=$2 lcores=$3 name=$4
    shift 4
    local vdevs=() v
    for v in "$@"; do vdevs+=("--vdev=$v"); done
    val_spawn "$log" "$life" "$VAL_TESTPMD" -l "$lcores" "${VAL_PMD_MEM[@]}" --file-prefix="$VAL_PREFIX-$name" \
        --no-pci "${vdevs[@]}" --log-level=warning -- --forward-mode=io --nb-cores=1 --burst=32 \
        --txd=1024 --rxd=1024 --stats-period=1
}

# val_io_chain_start DIR LIFETIME_S: the I/O ceiling: testpmd io-forward in place of the
# gateways, on the same memif links and CPUs. Shared layout: one testpmd whose single
# forwarding lcore does both hops (A's lan -> wan, wan -> B's lan, the WAN link a memif
# server and client in the same process), so no process switching is measured.
# Dedicated layout: one testpmd per gateway, each on that gateway's CPU.
val_io_chain_start() {
    local dir=$1 life=$2
    mkdir -p "$dir"
    rm -f "$VAL_SOCK"/*.sock
    VAL_IO_PIDS=()
    if [[ $VAL_LAYOUT == shared ]]; then
        # Ports 0-1 and 2-3 are testpmd's forwarding pairs.
        _val_testpmd "$dir/testpmd.log" "$life" "0,$VAL_DUT_CPU" io \
            "$(_val_memif 0 server a-lan.sock)" "$(_val_memif 1 server wan.sock)" \
            "$(_val_memif 2 client wan.sock)" "$(_val_memif 3 server b-lan.sock)"
        VAL_IO_PIDS+=("$VAL_SPAWNED")
    else
        _val_testpmd "$dir/testpmd-a.log" "$life" "0,$VAL_A_WORKER" io-a \
            "$(_val_memif 0 server a-lan.sock)" "$(_val_memif 1 server wan.sock)"
        VAL_IO_PIDS+=("$VAL_SPAWNED")
        _val_wait_socket "$VAL_SOCK/wan.sock" 20 || { _val_log "testpmd A did not start"; return 1; }
        _val_testpmd "$dir/testpmd-b.log" "$life" "0,$VAL_B_WORKER" io-b \
            "$(_val_memif 0 client wan.sock)" "$(_val_memif 1 server b-lan.sock)"
        VAL_IO_PIDS+=("$VAL_SPAWNED")
    fi
    _val_wait_socket "$VAL_SOCK/b-lan.sock" 20 || { _val_log "testpmd did not start"; return 1; }
    sleep 1
}

val_io_chain_stop() {
    local p
    for p in "${VAL_IO_PIDS[@]}"; do val_stop "$p" 15 >/dev/null; done
    VAL_IO_PIDS=()
}

# _val_ceiling_run BASE CMD...: CMD pinned to the DUT's CPU, bounded to 120 s; the command
# line to BASE.cmd, its output to BASE.txt (the report reads both).
_val_ceiling_run() {
    local base=$1
    shift
    local cmd=(taskset -c "$VAL_DUT_CPU" "$@")
    _val_quote "${cmd[@]}" >"$base.cmd"
    timeout 120 "${cmd[@]}" >"$base.txt" 2>&1 || true
}

# val_crypto_ceiling DIR SECONDS SIZES...: raw ipsec-mb AES-128-GCM on the DUT's CPU,
# encrypt and decrypt: DIR/crypto-{enc,dec}.{txt,cmd}.
val_crypto_ceiling() {
    local dir=$1 secs=$2 dir_name flag
    shift 2
    mkdir -p "$dir"
    for dir_name in enc dec; do
        flag=()
        if [[ $dir_name == dec ]]; then flag=(--decrypt); fi
        _val_ceiling_run "$dir/crypto-$dir_name" "$VAL_CRYPTO" --seconds "$secs" "${flag[@]}" "$@"
    done
}

# val_lz4_ceiling DIR SECONDS SIZES...: raw LZ4 over gwgen's text and random payloads on
# the DUT's CPU: DIR/lz4-{text,random}.{txt,cmd}; nothing when gw-lz4-ceiling is not built.
val_lz4_ceiling() {
    local dir=$1 secs=$2 payload
    shift 2
    mkdir -p "$dir"
    [[ -x $VAL_LZ4 ]] || return 0
    for payload in text random; do
        _val_ceiling_run "$dir/lz4-$payload" "$VAL_LZ4" --seconds "$secs" --payload "$payload" "$@"
    done
}

# val_host_monitor_start LIFETIME_S: samples, once a second, the CPU time of every process
# on the host into $VAL_WORK/host.jsonl, split into this run's (descendants of $$) and
# everyone else's, so that the report can say which figures were taken while other work
# shared the CPUs (a shared host: compilers, other tests). Kernel threads are left out.
val_host_monitor_start() {
    : >"$VAL_WORK/phases"
    _val_quote "$VAL_PY" - "$$" >"$VAL_WORK/host.cmd"
    timeout -s TERM -k 5 "$1" "$VAL_PY" - "$$" "$VAL_WORK/host.jsonl" >/dev/null 2>&1 <<'MON' &
import json, os, sys, time

root, out = int(sys.argv[1]), sys.argv[2]
hz = os.sysconf("SC_CLK_TCK")
me = os.getpid()


def snapshot():
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        rest = text[text.rindex(")") + 2:].split()
        ppid, ticks = int(rest[1]), int(rest[11]) + int(rest[12])
        procs[int(d)] = (comm, ppid, ticks)
    return procs


def ours(pid, procs):
    seen = 0
    while pid > 1 and seen < 64:
        if pid == root:
            return True
        pid = procs.get(pid, ("", 0, 0))[1]
        seen += 1
    return False


prev, prev_t = snapshot(), time.monotonic()
with open(out, "a") as f:
    while True:
        time.sleep(1)
        cur, t = snapshot(), time.monotonic()
        dt = t - prev_t
        own = foreign = 0.0
        top = {}
        for pid, (comm, ppid, ticks) in cur.items():
            if pid == 2 or ppid == 2 or pid == me:
                continue
            delta = (ticks - prev[pid][2]) if pid in prev else ticks
            if delta <= 0:
                continue
            cpu = delta / hz / dt
            if ours(pid, cur):
                own += cpu
            else:
                foreign += cpu
                top[comm] = top.get(comm, 0) + cpu
        f.write(json.dumps({"t": time.time(), "ours": round(own, 3), "foreign": round(foreign, 3),
                            "top": sorted(([k, round(v, 3)] for k, v in top.items()), key=lambda x: -x[1])[:3]})
                + "\n")
        f.flush()
        prev, prev_t = cur, t
MON
    _val_pids+=("$!")
}

# val_phase NAME CMD...: runs CMD and records NAME's wall-clock window in $VAL_WORK/phases
# (the report matches it with the host monitor's samples).
val_phase() {
    local name=$1 start rc=0
    shift
    start=$(date +%s.%N)
    "$@" || rc=$?
    echo "$name $start $(date +%s.%N)" >>"$VAL_WORK/phases"
    return "$rc"
}

# val_unavailable NAME REASON: a scenario the issue names that the product cannot run yet.
val_unavailable() {
    mkdir -p "$VAL_WORK/unavailable"
    echo "$2" >"$VAL_WORK/unavailable/$1"
}

# val_report MD JSON PLOT_DIR: composes the report from $VAL_WORK (python3, below).
val_report() {
    "$VAL_PY" - "$VAL_WORK" "$1" "$2" "$3" <<'PY'
import datetime
import json
import os
import re
import sys

work, md_path, json_path, plot_dir = sys.argv[1:5]
md_dir = os.path.dirname(os.path.abspath(md_path))


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def load(path):
    text = read(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def cmd(path_without_ext):
    c = read(path_without_ext + ".cmd")
    return c.strip() if c else None


def kv(path):
    out = {}
    for line in (read(path, "") or "").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


meta = kv(os.path.join(work, "meta", "run"))
layout = kv(os.path.join(work, "meta", "layout"))
profiles = meta.get("profiles", "").split()
scenarios = meta.get("scenarios", "").split()
loads = [float(x) for x in meta.get("loads", "10 50 90").split()]
mix_weights = {int(s): int(w) for s, w in (x.split(":") for x in meta.get("imix", "64:7,576:4,1400:1").split(","))}
failures = []


def mpps(pps):
    return "-" if pps is None else f"{pps / 1e6:.2f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}"


def us(ns):
    return "-" if ns is None else (f"{ns / 1000:.1f}" if ns < 100000 else f"{ns / 1000:.0f}")


def profile_size(p):
    return meta.get(f"size_{p}", p)


def mix_rate(rates):
    """Packets per second of the 7:4:1 mix from per-size rates (harmonic, by count)."""
    if any(rates.get(s) in (None, 0) for s in mix_weights):
        return None
    total = sum(mix_weights.values())
    return total / sum(w / rates[s] for s, w in mix_weights.items())


def rate_for(profile, rates):
    if profile == "imix":
        return mix_rate(rates)
    return rates.get(int(profile_size(profile)))


# ---- ceilings -------------------------------------------------------------------------
ceil_dir = os.path.join(work, "ceilings")
crypto = {"enc": {}, "dec": {}, "cycles_enc": {}, "header": {}, "command": {}}
for d in ("enc", "dec"):
    base = os.path.join(ceil_dir, f"crypto-{d}")
    crypto["command"][d] = cmd(base)
    for line in (read(base + ".txt", "") or "").splitlines():
        if line.startswith("#"):
            crypto["header"][d] = line[2:]
        m = re.match(r"size (\d+) bytes (\d+) mpps ([\d.]+) gbps ([\d.]+) cycles_per_packet (\d+)", line)
        if m:
            size = int(m.group(1))
            crypto[d][size] = float(m.group(3)) * 1e6
            if d == "enc":
                crypto["cycles_enc"][size] = int(m.group(5))

lz4 = {}
for payload in ("text", "random"):
    base = os.path.join(ceil_dir, f"lz4-{payload}")
    text = read(base + ".txt")
    if text is None:
        continue
    entry = {"command": cmd(base), "sizes": {}, "header": ""}
    for line in text.splitlines():
        if line.startswith("#"):
            entry["header"] = line[2:]
        m = re.match(r"size (\d+) payload \S+ bytes (\d+) ratio ([\d.]+) incompressible ([\d.]+) mpps ([\d.]+) "
                     r"gbps ([\d.]+) cycles_per_packet (\d+) decompress_mpps ([\d.]+) decompress_gbps ([\d.]+)", line)
        if m:
            entry["sizes"][int(m.group(1))] = {
                "ip_bytes": int(m.group(2)), "ratio": float(m.group(3)), "incompressible": float(m.group(4)),
                "pps": float(m.group(5)) * 1e6, "gbps": float(m.group(6)), "cycles_per_packet": int(m.group(7)),
                "decompress_pps": float(m.group(8)) * 1e6, "decompress_gbps": float(m.group(9))}
    lz4[payload] = entry


def rfc_summary(j):
    r = j.get("rfc2544", {})
    verdicts = r.get("verdicts", [])
    return {"found": r.get("found"), "load": r.get("load"), "pps": r.get("pps") if r.get("found") else None,
            "bps": r.get("bps") if r.get("found") else None, "loss_threshold_pct": r.get("loss_threshold_pct"),
            "trial_s": r.get("trial_s"), "full_load_pps": sum(s.get("target_pps", 0) for s in
                                                              (r.get("trials") or [{}])[0].get("streams", [])),
            "verdicts": verdicts,
            # How long gwgen's own lcore was kept from running, at worst, in any trial: a stall of
            # the host that the DUT's CPU can see too.
            # (trials the generator could not keep up with are left out: their lag is its own).
            "gwgen_max_lag_us": max((t.get("total", {}).get("tx", {}).get("max_lag_us") or 0
                                     for t, v in zip(r.get("trials", []), verdicts)
                                     if not v.get("generator_limited")), default=None)}


def run_summary(j, name):
    """The measured stream of a load run (not its warm-up stream)."""
    run = j.get("run", {})
    s = next((x for x in run.get("streams", []) if x.get("name") == name), {})
    tx, rx = s.get("tx", {}), s.get("rx", {})
    lat = s.get("latency_ns", {})
    offered = tx.get("offered", 0)
    unique = rx.get("unique", 0)
    return {"target_pps": s.get("target_pps"), "tx_pps": tx.get("pps"), "rx_pps": rx.get("pps"),
            "offered": offered, "sent": tx.get("packets"), "refused": tx.get("refused"), "nombuf": tx.get("nombuf"),
            "slips": tx.get("slips"), "received_unique": unique, "frame_loss": max(0, offered - unique),
            "lost": s.get("lost"), "duplicates": rx.get("duplicates"), "reordered": rx.get("reordered"),
            "too_late": rx.get("too_late"), "frame_loss_ratio": s.get("frame_loss_ratio"),
            "latency_ns": {k: lat.get(k) for k in ("min", "p50", "p90", "p99", "p99_9", "max", "count")},
            "foreign": run.get("rx", {}).get("foreign"), "mempool_in_use": j.get("mempool", {}).get("in_use"),
            "max_lag_us": tx.get("max_lag_us")}


# ---- host activity --------------------------------------------------------------------
samples = []
for line in (read(os.path.join(work, "host.jsonl"), "") or "").splitlines():
    try:
        samples.append(json.loads(line))
    except ValueError:
        pass
phases = {}
for line in (read(os.path.join(work, "phases"), "") or "").splitlines():
    parts = line.split()
    if len(parts) == 3:
        phases[parts[0]] = (float(parts[1]), float(parts[2]))


def host(name):
    """Other processes' CPU use (in CPUs) during a phase, from the monitor's 1 s samples."""
    if name not in phases:
        return None
    start, end = phases[name]
    inside = [x for x in samples if start + 0.5 <= x["t"] <= end + 0.5]
    if not inside:
        return None
    top = {}
    for x in inside:
        for comm, cpu in x.get("top", []):
            top[comm] = top.get(comm, 0) + cpu / len(inside)
    return {"foreign_cpu_mean": round(sum(x["foreign"] for x in inside) / len(inside), 3),
            "foreign_cpu_max": round(max(x["foreign"] for x in inside), 3),
            "ours_cpu_mean": round(sum(x["ours"] for x in inside) / len(inside), 3),
            "samples": len(inside),
            "top": [[k, round(v, 3)] for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:3]]}


def host_text(h):
    if not h:
        return "-"
    t = f"{h['foreign_cpu_mean'] * 100:.0f}%"
    if h["foreign_cpu_mean"] >= 0.05 and h["top"]:
        t += " (" + ", ".join(f"{c} {v * 100:.0f}%" for c, v in h["top"] if v >= 0.01) + ")"
    return t


def rounds_of(d):
    return sorted((int(x.split("-")[1]), os.path.join(d, x)) for x in os.listdir(d)
                  if x.startswith("round-")) if os.path.isdir(d) else []


def best_round(rounds):
    found = [r for r in rounds if r["rfc2544"] and r["rfc2544"]["found"]]
    return max(found, key=lambda r: r["rfc2544"]["pps"]) if found else None


def lifetime(d):
    """A gateway pair's exit: codes, leaks and drops of both."""
    out = {}
    for side in ("a", "b"):
        st = load(os.path.join(d, f"stats-{side}.json"))
        out[side] = {"exit_code": (read(os.path.join(d, f"rc-{side}"), "") or "").strip(),
                     "mbufs_leaked": st.get("mbufs_leaked") if st else None,
                     "drops_total": st.get("drops") if st else None}
    return out


io = {}
for p in profiles:
    rounds = []
    for n, d in rounds_of(os.path.join(ceil_dir, f"io-{p}")):
        j = load(os.path.join(d, "search.json"))
        rounds.append({"round": n, "rfc2544": rfc_summary(j) if j else None,
                       "command_gwgen": cmd(os.path.join(d, "search")),
                       "command_testpmd": [c for c in (cmd(os.path.join(d, x))
                                                       for x in ("testpmd", "testpmd-a", "testpmd-b")) if c],
                       "gwgen_rc": (read(os.path.join(d, "search.rc"), "") or "").strip(),
                       "host": host(f"io-{p}-round-{n}")})
        if j is None:
            failures.append(f"I/O ceiling {p} round {n}: gwgen produced no result "
                            f"({(read(os.path.join(d, 'search.log'), '') or '')[-300:]!r})")
    b = best_round(rounds)
    io[p] = {"rounds": rounds, "best_round": b["round"] if b else None, "rfc2544": b["rfc2544"] if b else None,
             "command_gwgen": b["command_gwgen"] if b else None,
             "command_testpmd": b["command_testpmd"] if b else []}

crypto_rates = {}
for p in profiles:
    enc, dec = rate_for(p, crypto["enc"]), rate_for(p, crypto["dec"])
    chain = None
    if enc and dec:
        # Shared layout: one CPU runs A's encryption and B's decryption; dedicated: each its own.
        chain = 1 / (1 / enc + 1 / dec) if layout.get("layout") == "shared" else min(enc, dec)
    crypto_rates[p] = {"encrypt_pps": enc, "decrypt_pps": dec, "chain_pps": chain}


# ---- scenarios ------------------------------------------------------------------------
def gw_side(dirpath, side):
    rt = load(os.path.join(dirpath, f"{side}-runtime.json"))
    er = load(os.path.join(dirpath, f"{side}-errors.json"))
    la = load(os.path.join(dirpath, f"{side}-latency.json"))
    out = {"commands": {w: cmd(os.path.join(dirpath, f"{side}-{w}")) for w in ("runtime", "errors", "latency")}}
    if rt:
        hz = rt.get("tsc_hz")
        workers = [l for l in rt.get("lcores", []) if l.get("role") == "worker"]
        w = workers[0] if workers else {}
        rxp = w.get("rx_packets", 0)
        out["tsc_hz"] = hz
        out["rx_packets"] = rxp
        out["tx_packets"] = w.get("tx_packets")
        out["busy_cycles_per_packet"] = (w.get("busy_cycles", 0) / rxp) if rxp else None
        out["load"] = (w.get("busy_cycles", 0) / w["total_cycles"]) if w.get("total_cycles") else None
        out["stages"] = {s["name"]: {"packets": s["packets"], "calls": s["calls"],
                                     "cycles_per_packet": (s["cycles"] / s["packets"]) if s["packets"] else None}
                         for s in w.get("stages", [])}
    if er:
        out["drops"] = {e["reason"]: e["packets"] for e in er.get("errors", []) if e.get("packets")}
    if la:
        g = la.get("gateway", {}).get("since_start", {})
        out["residence_ns"] = {k: g.get(k) for k in ("count", "min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns",
                                                     "max_ns")}
    return out


scen = {}
for s in scenarios:
    for p in profiles:
        base = os.path.join(work, "scenarios", f"{s}-{p}")
        if not os.path.isdir(base):
            continue
        rounds = []
        for n, d in rounds_of(base):
            j = load(os.path.join(d, "search.json"))
            rounds.append({"round": n, "rfc2544": rfc_summary(j) if j else None,
                           "search_command": cmd(os.path.join(d, "search")),
                           "gateway_commands": {side: cmd(os.path.join(d, f"gw-{side}")) for side in ("a", "b")},
                           "exit": lifetime(d), "host": host(f"{s}-{p}-round-{n}")})
            if j is None:
                failures.append(f"{s}/{p} round {n}: RFC 2544 search produced no result "
                                f"({(read(os.path.join(d, 'search.log'), '') or '')[-300:]!r})")
        b = best_round(rounds)
        ld_dir = os.path.join(base, "loads")
        cfg_dir = ld_dir if os.path.isdir(ld_dir) else (os.path.join(base, f"round-{rounds[0]['round']}")
                                                        if rounds else base)
        entry = {"scenario": s, "profile": p, "rounds": rounds, "best_round": b["round"] if b else None,
                 "rfc2544": b["rfc2544"] if b else None, "search_command": b["search_command"] if b else None,
                 "configs": {side: read(os.path.join(cfg_dir, f"config-{side}.txt")) for side in ("a", "b")},
                 "gateway_commands": {side: cmd(os.path.join(ld_dir, f"gw-{side}")) for side in ("a", "b")},
                 "loads": []}
        if os.path.isdir(ld_dir):
            for pct in loads:
                ld = os.path.join(ld_dir, f"load-{pct:g}")
                rj = load(os.path.join(ld, "run.json"))
                row = {"load_pct": pct, "command": cmd(os.path.join(ld, "run")),
                       "gwgen_rc": (read(os.path.join(ld, "run.rc"), "") or "").strip(),
                       "gwgen": run_summary(rj, p) if rj else None,
                       "gateways": {side: gw_side(ld, side) for side in ("a", "b")},
                       "host": host(f"{s}-{p}-load-{pct:g}"),
                       "plots": sorted(x for x in os.listdir(plot_dir) if x.startswith(f"{s}-{p}-load{pct:g}-"))
                       if os.path.isdir(plot_dir) else []}
                if rj is None:
                    failures.append(f"{s}/{p} at {pct:g}%: gwgen produced no result "
                                    f"({(read(os.path.join(ld, 'run.log'), '') or '')[-300:]!r})")
                entry["loads"].append(row)
            entry["exit"] = lifetime(ld_dir)
        else:
            entry["exit"] = None
        scen[(s, p)] = entry

unavailable = {}
udir = os.path.join(work, "unavailable")
if os.path.isdir(udir):
    for name in sorted(os.listdir(udir)):
        unavailable[name] = read(os.path.join(udir, name), "").strip()

# ---- checks ---------------------------------------------------------------------------
checks = []


def check(name, ok, detail=""):
    checks.append({"check": name, "pass": bool(ok), "detail": detail})


for (s, p), e in scen.items():
    for row in e["loads"]:
        g = row["gwgen"]
        if g is None:
            check(f"{s}/{p} {row['load_pct']:g}%: gwgen result", False, "no result")
            continue
        clean = g["frame_loss"] == 0 and g["duplicates"] == 0 and g["reordered"] == 0
        check(f"{s}/{p} at {row['load_pct']:g}% of the throughput: no loss, duplicate or reordering", clean,
              f"frame loss {g['frame_loss']} (refused {g['refused']}), duplicates {g['duplicates']}, "
              f"reordered {g['reordered']}")
    lifetimes = [(f"round {r['round']}", r["exit"]) for r in e["rounds"]]
    if e["exit"]:
        lifetimes.append(("load runs", e["exit"]))
    for what, ex in lifetimes:
        for side in ("a", "b"):
            x = ex[side]
            check(f"{s}/{p} ({what}): gateway {side.upper()} leaked no mbuf and exited 0",
                  x["mbufs_leaked"] == 0 and x["exit_code"] == "0",
                  f"mbufs_leaked {x['mbufs_leaked']}, exit code {x['exit_code']}")
    check(f"{s}/{p}: RFC 2544 search found a rate", bool(e["rfc2544"] and e["rfc2544"]["found"]))

# ---- figures --------------------------------------------------------------------------
def chain_cost(e):
    """Busy cycles per packet of both gateways in the load run where their sum is lowest (small
    bursts at low load and preemption during busy polls only add to it), and the rate one core (shared
    layout) or the slower gateway's core (dedicated) could carry at that cost."""
    best = None
    for row in e["loads"]:
        a, b = row["gateways"]["a"], row["gateways"]["b"]
        ca, cb = a.get("busy_cycles_per_packet"), b.get("busy_cycles_per_packet")
        if ca and cb and a.get("tsc_hz") and (best is None or ca + cb < best[0] + best[1]):
            best = (ca, cb, a["tsc_hz"], row)
    if best is None:
        return {"cycles_per_packet_a": None, "cycles_per_packet_b": None, "cpu_bound_pps": None}
    ca, cb, hz, row = best
    bound = hz / (ca + cb) if layout.get("layout") == "shared" else hz / max(ca, cb)
    return {"cycles_per_packet_a": round(ca), "cycles_per_packet_b": round(cb), "cpu_bound_pps": bound,
            "cost_load_pct": row["load_pct"]}


summary = []
for (s, p), e in scen.items():
    found = e["rfc2544"]["pps"] if e["rfc2544"] else None
    io_pps = (io.get(p) or {}).get("rfc2544") or {}
    io_pps = io_pps.get("pps")
    crypto_pps = crypto_rates.get(p, {}).get("chain_pps") if s == "encrypt" else None
    ceiling = io_pps if crypto_pps is None else (min(io_pps, crypto_pps) if io_pps else crypto_pps)
    low = e["loads"][0]["gwgen"] if e["loads"] and e["loads"][0]["gwgen"] else None
    exits = [r["exit"] for r in e["rounds"]] + ([e["exit"]] if e["exit"] else [])
    summary.append({
        "scenario": s, "profile": p, "throughput_pps": found,
        "throughput_bps": e["rfc2544"]["bps"] if e["rfc2544"] else None,
        "io_ceiling_pps": io_pps, "crypto_ceiling_pps": crypto_pps, "ceiling_pps": ceiling,
        "ratio_to_ceiling": ratio(found, ceiling), "ratio_to_io": ratio(found, io_pps),
        "ratio_to_forward": ratio(found, ((scen.get(("forward", p)) or {}).get("rfc2544") or {}).get("pps"))
        if s != "forward" else None,
        "low_load_frame_loss": low["frame_loss"] if low else None,
        "mbufs_leaked": sum((ex[x]["mbufs_leaked"] or 0) for ex in exits for x in ("a", "b"))
        if exits and all(ex[x]["mbufs_leaked"] is not None for ex in exits for x in ("a", "b")) else None,
        **chain_cost(e),
        "best_round": e["best_round"],
        "host_during_best_search": next((r["host"] for r in e["rounds"] if r["round"] == e["best_round"]), None)})

report = {
    "tool": "scripts/validate.sh",
    "date": meta.get("date"),
    "command": meta.get("command"),
    "host": {"cpus": meta.get("cpus"), "cpu_model": meta.get("cpu_model"), "kernel": meta.get("kernel"),
             "dpdk": meta.get("dpdk"), "commit": meta.get("commit")},
    "layout": layout,
    "options": {"duration_s": float(meta.get("duration", 0)), "quick": meta.get("quick") == "1",
                "loss_threshold_pct": float(meta.get("loss_threshold", 0)), "max_trials": int(meta.get("max_trials", 0)),
                "resolution_pct": float(meta.get("resolution", 0)), "loads_pct": loads, "profiles": profiles,
                "stream": meta.get("stream")},
    "summary": summary,
    "checks": checks,
    "failures": failures,
    "ceilings": {"io": io, "crypto": {"encrypt_pps": crypto["enc"], "decrypt_pps": crypto["dec"],
                                       "encrypt_cycles_per_packet": crypto["cycles_enc"],
                                       "per_profile": crypto_rates, "commands": crypto["command"],
                                       "tool": crypto["header"]},
                 "lz4": lz4},
    "scenarios": [e for e in scen.values()],
    "unavailable": unavailable,
    "host_activity": {name: dict(host(name) or {}, seconds=round(end - start, 1))
                      for name, (start, end) in phases.items()},
    "host_monitor_command": cmd(os.path.join(work, "host")),
}
with open(json_path, "w") as f:
    json.dump(report, f, indent=2, sort_keys=False)

# ---- markdown -------------------------------------------------------------------------
L = []
w = L.append
rel_plot = os.path.relpath(plot_dir, md_dir) if plot_dir else None


def gbps_text(bps):
    return "-" if bps is None else f"{bps / 1e9:.2f}"


def trials_text(r):
    return ", ".join(f"{v['load'] * 100:.1f}%: {v['frame_loss_ratio'] * 100:.3f}% "
                     f"{'gen-lim' if v['generator_limited'] else ('pass' if v['pass'] else 'fail')}"
                     for v in r["verdicts"])


def lag_text(r):
    lag = r.get("gwgen_max_lag_us")
    return "-" if lag is None else f"{lag / 1000:.1f} ms"


def drops_text(d):
    return ", ".join(f"{k} {v}" for k, v in (d or {}).items()) or "0"


w(f"# Validation report")
w("")
w(f"Generated by `scripts/validate.sh` on {meta.get('date')}: {meta.get('cpus')} CPUs ({meta.get('cpu_model')}), "
  f"kernel {meta.get('kernel')}, DPDK {meta.get('dpdk')}, commit `{meta.get('commit')}`. The JSON twin of this "
  f"report is `{os.path.basename(json_path)}`.")
w("")
w(f"command: `{meta.get('command')}`")
w("")
w("Every figure below is followed by the command that produced it (paths under `/tmp/gwval-*` are the run's "
  "work directory, removed at exit; the gateway configurations are printed in full, keys hidden). Throughput is "
  f"RFC 2544's: the highest offered load whose frame loss (refused by the link + lost + not delivered) is at most "
  f"{meta.get('loss_threshold')}%, by binary search over trials of {meta.get('duration')} s "
  f"(at most {meta.get('max_trials')} trials, resolution {meta.get('resolution')}% of the full load). "
  "Results are ratios to ceilings measured in the same run, because absolute rates on a shared VM drift.")
w("")
w("## Summary")
w("")
w("| scenario | traffic | throughput (Mpps) | Gb/s | I/O ceiling (Mpps) | crypto ceiling (Mpps) | ratio to ceiling | "
  "vs forward | loss at 10% | mbufs leaked | other CPU load |")
w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in summary:
    gbps = "-" if r["throughput_bps"] is None else f"{r['throughput_bps'] / 1e9:.2f}"
    w(f"| {r['scenario']} | {r['profile']} | {mpps(r['throughput_pps'])} | {gbps} | {mpps(r['io_ceiling_pps'])} | "
      f"{mpps(r['crypto_ceiling_pps'])} | {fmt_ratio(r['ratio_to_ceiling'])} | {fmt_ratio(r['ratio_to_forward'])} | "
      f"{'-' if r['low_load_frame_loss'] is None else r['low_load_frame_loss']} | "
      f"{'-' if r['mbufs_leaked'] is None else r['mbufs_leaked']} | {host_text(r['host_during_best_search'])} |")
for name, why in unavailable.items():
    w(f"| {name} | - | not available: {why} | | | | | | | | |")
w("")
w("The ratio is the throughput over the lowest ceiling that applies: the I/O ceiling (testpmd io-forward on the "
  "same links and CPUs) for `forward`; for `encrypt` the lower of it and the crypto ceiling (raw ipsec-mb "
  "AES-128-GCM on one core, " + ("A's encryption and B's decryption on the one CPU both gateways share"
                                  if layout.get("layout") == "shared" else "the slower direction") + ").")
w("")
w(f"Throughput is the best of {meta.get('rounds')} interleaved RFC 2544 searches (ceiling, then each scenario, per "
  "round). *Other CPU load* is what processes outside this run used during the best search, in CPUs (a "
  "monitor samples every process's CPU time once a second): on this shared host, compilers and other tests can "
  "run beside a benchmark; figures taken with more than a few percent of other load are lower bounds.")
w("")
passed = sum(1 for c in checks if c["pass"])
w(f"Checks: {passed} of {len(checks)} passed.")
w("")
for c in checks:
    if not c["pass"]:
        w(f"- FAIL: {c['check']} ({c['detail']})")
for f_ in failures:
    w(f"- FAIL: {f_}")
w("")

w("## Topology")
w("")
w("```")
w("gwgen port A ==memif== gatewayd A ==memif \"WAN\"== gatewayd B ==memif== gwgen port B")
w(" 10.10.0.2       lan 10.10.0.1   wan 198.51.100.1/30 - .2/30 wan   lan 10.20.0.1      10.20.0.2")
w("```")
w("")
w(f"- gwgen sends one stream from port A to port B: `{meta.get('stream')}` (64 flows; text payload, "
  "LZ4-compressible about 2:1 from 576 B up). The reverse direction is symmetric in the product and not loaded. "
  "`imix` is 64/576/1400 B at 7:4:1: the large frame is 1400 B rather than 1500 because the WAN memif link's "
  "MTU is 1500 (DPDK's memif maximum) and ESP tunnel mode adds 54-57 B.")
w(f"- Layout `{layout.get('layout')}` ({meta.get('cpus')} CPUs): gwgen's lcores `{layout.get('gen_lcores')}`; "
  f"gateway A's worker on lcore {layout.get('a_worker')}, B's on lcore {layout.get('b_worker')}; control threads on "
  f"CPU 0; `dataplane idle-sleep-us {layout.get('idle_sleep_us')}`; memif rings of 2^{layout.get('memif_rsize')} "
  f"slots on every link; DPDK memory: {layout.get('memory')}.")
if layout.get("layout") == "shared":
    w("- Why: on 2 CPUs, gwgen's send/receive loop needs one CPU to itself (its latency stamps and pacing), so both "
      "gateways' workers share the other. Two busy-polling workers on one CPU only run in scheduler time slices "
      "(milliseconds): at 500 kpps that lost 65% of the packets. With `idle-sleep-us` a worker that finds its "
      "queues empty sleeps and the other runs, so they take turns every few tens of microseconds; the sleep "
      "(about 60 us with the kernel's default 50 us timer slack) is most of the end-to-end latency gwgen sees, "
      "while each gateway's own residence time (`show latency`) stays in microseconds. The ceilings run on the same "
      "CPU: the I/O ceiling is one testpmd whose single forwarding lcore does both hops (the WAN memif link's server "
      "and client in one process), which is what two gateways on one core could reach without switching processes.")
    w("- On a host with 4 or more CPUs the suite uses the `dedicated` layout: a CPU per gateway worker and one for "
      "gwgen, pure busy polling, and one testpmd per gateway for the I/O ceiling.")
w("- Each gatewayd runs with `telemetry latency on`; its counters are read with `gwctl --json show runtime|errors|"
  "latency` after `gwctl clear counters` before each load run, and `--stats-json` at exit gives leaked mbufs.")
w("")
first = next(iter(scen.values()), None)
if first:
    for side in ("a", "b"):
        c = first["configs"].get(side)
        if c:
            w(f"<details><summary>gatewayd {side.upper()} configuration ({first['scenario']}; the encrypt scenario "
              "adds the ipsec lines shown in its section)</summary>")
            w("")
            w("```")
            w(c.rstrip())
            w("```")
            w("</details>")
            w("")

w("## Ceilings")
w("")
w("### I/O: testpmd io-forward on the same memif chain")
w("")
w("| traffic | round | throughput (Mpps) | Gb/s | trials (load: frame loss, verdict) | gwgen's longest stall | "
  "other CPU load |")
w("|---|---:|---:|---:|---|---:|---|")
for p in profiles:
    x = io.get(p) or {}
    if not x.get("rounds"):
        w(f"| {p} | | failed | | | |")
    for rd in x.get("rounds", []):
        r = rd["rfc2544"]
        mark = " (best)" if rd["round"] == x.get("best_round") and len(x["rounds"]) > 1 else ""
        if not r:
            w(f"| {p} | {rd['round']} | failed | | | | {host_text(rd['host'])} |")
            continue
        w(f"| {p} | {rd['round']}{mark} | {mpps(r['pps'])} | {gbps_text(r['bps'])} | {trials_text(r)} | "
          f"{lag_text(r)} | {host_text(rd['host'])} |")
w("")
for p in profiles:
    x = io.get(p) or {}
    for c in x.get("command_testpmd", []):
        w(f"- {p}, DUT: `{c}`")
    w(f"- {p}, search: `{x.get('command_gwgen')}`")
w("")
w("### Crypto: raw ipsec-mb AES-128-GCM on one core")
w("")
w(f"{crypto['header'].get('enc', '')}; the bytes ESP encrypts for each frame size, pinned to the gateways' CPU.")
w("")
w("| frame | encrypt (Mpps) | decrypt (Mpps) | encrypt cycles/packet |")
w("|---:|---:|---:|---:|")
for size in sorted(crypto["enc"]):
    w(f"| {size} B | {mpps(crypto['enc'].get(size))} | {mpps(crypto['dec'].get(size))} | "
      f"{crypto['cycles_enc'].get(size, '-')} |")
for p in profiles:
    c = crypto_rates[p]
    w(f"| {p} | {mpps(c['encrypt_pps'])} | {mpps(c['decrypt_pps'])} | chain (both on one core): "
      f"{mpps(c['chain_pps'])} Mpps |")
w("")
for d in ("enc", "dec"):
    w(f"- `{crypto['command'].get(d)}`")
w("")
w("### LZ4: raw compression of gwgen's payloads on one core")
w("")
if not lz4:
    w("not available: `gw-lz4-ceiling` is not built (liblz4-dev missing).")
else:
    w(f"{lz4.get('text', {}).get('header', '')}. The inner IP packet of each frame is compressed, as a gateway "
      "would before ESP; ratio = compressed / original.")
    w("")
    w("| payload | frame | ratio | incompressible | compress (Mpps) | Gb/s in | cycles/packet | decompress (Mpps) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for payload, entry in lz4.items():
        for size, v in sorted(entry["sizes"].items()):
            w(f"| {payload} | {size} B | {v['ratio']:.3f} | {v['incompressible'] * 100:.0f}% | {mpps(v['pps'])} | "
              f"{v['gbps']:.2f} | {v['cycles_per_packet']} | {mpps(v['decompress_pps'])} |")
        rates = {s: v["pps"] for s, v in entry["sizes"].items()}
        mix = mix_rate(rates)
        if mix:
            w(f"| {payload} | imix 7:4:1 | | | {mpps(mix)} | | | |")
    w("")
    for payload, entry in lz4.items():
        w(f"- `{entry['command']}`")
    w("")
    w("No scenario compresses yet (encrypt + compress is not built): this ceiling is measured so that the "
      "compress scenario has its denominator from the first run that includes it.")
w("")

for s in scenarios:
    rows = [e for (sc, _), e in scen.items() if sc == s]
    if not rows:
        continue
    w(f"## Scenario: {s}")
    w("")
    if s == "forward":
        w("Plain routing through both gateways: LPM lookup, TTL and checksum update, static neighbor, MAC rewrite, "
          "twice.")
    else:
        w("ESP tunnel mode, AES-128-GCM, between A and B: A encrypts what site A sends to site B (policy "
          "10.10.0.0/24 -> 10.20.0.0/24, SPI 0x1001), B decrypts, checks anti-replay and the inbound policy, and "
          "forwards the cleartext to gwgen's port B. Keys are drawn from /dev/urandom for each run.")
        c = rows[0]["configs"].get("a") or ""
        ipsec = [line for line in c.splitlines() if line.startswith("ipsec")]
        if ipsec:
            w("")
            w("```")
            w("# gateway A (B mirrors it: in/out swapped, tunnel endpoints reversed)")
            for line in ipsec:
                w(line)
            w("```")
    w("")
    for e in rows:
        p = e["profile"]
        r = e["rfc2544"]
        w(f"### {s}, {p}")
        w("")
        if r:
            w(f"RFC 2544 throughput: **{mpps(r['pps'])} Mpps** ({gbps_text(r['bps'])} Gb/s), the best of "
              f"{len(e['rounds'])} round(s); full load {mpps(r['full_load_pps'])} Mpps (the I/O ceiling found so far).")
        else:
            w("RFC 2544 search: no result.")
        w("")
        w("| round | throughput (Mpps) | trials (load: frame loss, verdict) | gwgen's longest stall | other CPU load |")
        w("|---:|---:|---|---:|---|")
        for rd in e["rounds"]:
            rr = rd["rfc2544"]
            w(f"| {rd['round']} | {mpps(rr['pps']) if rr else 'failed'} | {trials_text(rr) if rr else ''} | "
              f"{lag_text(rr) if rr else ''} | {host_text(rd['host'])} |")
        w("")
        w(f"- search (best round): `{e['search_command']}`")
        for side in ("a", "b"):
            w(f"- gateway {side.upper()} (load runs; each round starts a pair the same way): "
              f"`{e['gateway_commands'].get(side)}`")
        w("")
        w("Load runs at fractions of that throughput (gwgen; latency is gwgen's tx-to-rx time through both gateways):")
        w("")
        w("| load | offered (Mpps) | received | frame loss | refused | lost | dup | reordered | p50 us | p90 | p99 | "
          "p99.9 | max | gwgen's longest stall | other CPU load |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for row in e["loads"]:
            g = row["gwgen"]
            if not g:
                w(f"| {row['load_pct']:g}% | failed | | | | | | | | | | | | | |")
                continue
            lat = g["latency_ns"]
            stall = "-" if g["max_lag_us"] is None else f"{g['max_lag_us'] / 1000:.1f} ms"
            w(f"| {row['load_pct']:g}% | {mpps(g['tx_pps'])} | {mpps(g['rx_pps'])} | {g['frame_loss']} | "
              f"{g['refused']} | {g['lost']} | {g['duplicates']} | {g['reordered']} | {us(lat['p50'])} | "
              f"{us(lat['p90'])} | {us(lat['p99'])} | {us(lat['p99_9'])} | {us(lat['max'])} | {stall} | "
              f"{host_text(row['host'])} |")
        w("")
        w("The gateways' own view of the same runs (`gwctl show latency`: residence from rx burst to tx burst; "
          "`show runtime`: busy cycles per packet of the worker and per stage):")
        w("")
        w("| load | gateway | packets | residence p50 us | p90 | p99 | p99.9 | max | cycles/packet | stages "
          "(cycles/packet) | drops |")
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for row in e["loads"]:
            for side in ("a", "b"):
                gs = row["gateways"][side]
                res = gs.get("residence_ns") or {}
                stages = ", ".join(f"{n} {v['cycles_per_packet']:.0f}" for n, v in (gs.get("stages") or {}).items()
                                   if v["cycles_per_packet"] is not None)
                drops = drops_text(gs.get("drops"))
                cpp = gs.get("busy_cycles_per_packet")
                w(f"| {row['load_pct']:g}% | {side.upper()} | {gs.get('rx_packets', '-')} | {us(res.get('p50_ns'))} | "
                  f"{us(res.get('p90_ns'))} | {us(res.get('p99_ns'))} | {us(res.get('p999_ns'))} | "
                  f"{us(res.get('max_ns'))} | {'-' if cpp is None else f'{cpp:.0f}'} | {stages} | {drops} |")
        w("")
        for row in e["loads"]:
            w(f"- {row['load_pct']:g}%: `{row['command']}`")
        g0 = e["loads"][0]["gateways"]["a"]["commands"] if e["loads"] else {}
        if g0:
            w(f"- gateway counters: `gwctl clear counters` before each run, then "
              f"`{g0.get('runtime')}` (and `show errors`, `show latency`; B's socket likewise)")
        w("")
        w("Every gateway pair at exit (`--stats-json`); drops in a search are expected, since it offers loads "
          "above the throughput:")
        w("")
        w("| pair | A exit | A leaked mbufs | A drops | B exit | B leaked mbufs | B drops |")
        w("|---|---:|---:|---|---:|---:|---|")
        lifetimes = [(f"round {rd['round']} search", rd["exit"]) for rd in e["rounds"]]
        if e["exit"]:
            lifetimes.append(("load runs", e["exit"]))
        for what, ex in lifetimes:
            w(f"| {what} | {ex['a']['exit_code']} | {ex['a']['mbufs_leaked']} | {drops_text(ex['a']['drops_total'])} | "
              f"{ex['b']['exit_code']} | {ex['b']['mbufs_leaked']} | {drops_text(ex['b']['drops_total'])} |")
        w("")
        plots = [pl for row in e["loads"] for pl in row["plots"]]
        if plots and rel_plot:
            w(f"Plots of the {e['loads'][-1]['load_pct']:g}% run (`pktgen/plot-gwgen.sh`):")
            w("")
            for pl in plots:
                w(f"![{pl}]({rel_plot}/{pl})")
            w("")

if unavailable:
    w("## Scenarios not available")
    w("")
    for name, why in unavailable.items():
        w(f"- `{name}`: not available: {why}.")
    w("")

if summary:
    w("## CPU cost per packet")
    w("")
    w("From the gateways' own counters, in the load run where the two workers' busy TSC cycles per packet add "
      "up to the least (low loads make small bursts, and a busy poll the scheduler interrupts counts the wait): "
      "and the rate " + ("one core could carry if it ran both gateways' work back to back (both share one CPU "
                         "here)" if layout.get("layout") == "shared" else "the slower gateway's core could carry")
      + ". The gap between that and the measured throughput is what the topology costs beyond packet work: "
      "on the shared layout, the two processes taking turns on one CPU (each sleeps when idle, and a sleep lasts "
      "about 60 us).")
    w("")
    w("| scenario | traffic | load run | A cycles/packet | B cycles/packet | CPU-bound rate (Mpps) | "
      "throughput (Mpps) | throughput / CPU-bound |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in summary:
        at = f"{r['cost_load_pct']:g}%" if r.get("cost_load_pct") is not None else "-"
        w(f"| {r['scenario']} | {r['profile']} | {at} | {r['cycles_per_packet_a'] or '-'} | "
          f"{r['cycles_per_packet_b'] or '-'} | "
          f"{mpps(r['cpu_bound_pps'])} | {mpps(r['throughput_pps'])} | "
          f"{fmt_ratio(ratio(r['throughput_pps'], r['cpu_bound_pps']))} |")
    w("")

if phases:
    w("## Host activity during the run")
    w("")
    w("Other processes' CPU use while each measurement ran, in CPUs of the host's "
      f"{meta.get('cpus')} (mean and the highest 1 s sample; the monitor is a small Python loop over "
      "/proc/*/stat started by this script; kernel threads are not counted):")
    w("")
    w("| measurement | seconds | other CPU mean | max | busiest other processes |")
    w("|---|---:|---:|---:|---|")
    for name, (start, end) in phases.items():
        h = host(name)
        if not h:
            w(f"| {name} | {end - start:.0f} | - | - | |")
            continue
        top = ", ".join(f"{c} {v * 100:.0f}%" for c, v in h["top"] if v >= 0.005)
        w(f"| {name} | {end - start:.0f} | {h['foreign_cpu_mean'] * 100:.0f}% | {h['foreign_cpu_max'] * 100:.0f}% | "
          f"{top} |")
    w("")

w("## How to read it")
w("")
w("- Throughput is the generator's offered rate at the highest passing trial; a trial fails when more than the "
  "loss threshold of what was offered did not arrive, including what the first link refused. A trial where the "
  "generator itself fell behind its schedule is `gen-lim` and fails too: it says nothing about the gateways. "
  "Below full load such a trial is repeated once at the same load; both appear in the trials column.")
w("- Loss, duplicates and reordering must be 0 at 10/50/90% of the found rate (the checks above). Above the "
  "found rate the gateways drop with `tx-full` (the next memif ring is full), which is correct behaviour.")
w(f"- Each load run is one gwgen process that first sends a warm-up stream ({meta.get('warmup_s')} s at "
  f"{int(meta.get('warmup_pps', 0)) // 1000} kpps or the run's rate if lower), then the measured stream from "
  "0.5 s after it ends; the load-run figures are the measured stream's. The first traffic through a new gwgen "
  "process's memif regions stalls for up to ~100 ms on this VM (seen at any rate, once per process; consistent "
  "with the first touch of fresh shared memory), which would otherwise count as loss at 10% load. The gateways' "
  "counters of a load run include the warm-up packets. In the RFC 2544 search the first trial (at full load, "
  "which fails anyway) takes it.")
w("- The host is a VM whose CPUs are shared with other machines: now and then a vCPU does not run for up to "
  "~10 ms (*gwgen's longest stall* is the worst delay of gwgen's own send loop in a run, or in any trial of a "
  "search that the generator kept up with). A "
  "stall longer than a memif ring holds (4096 slots: 1.4 ms at 3 Mpps) loses packets wherever it hits, which "
  "the monitor above cannot see. That is why each search runs in several rounds and the best counts, why the "
  "rounds differ, and why 90% of a found rate is not always loss-free here; on a dedicated host the rounds "
  "should agree.")
w("- End-to-end latency (gwgen) includes both gateways' sleeps and scheduling on the shared CPU; a gateway's "
  "residence time (gwctl) is its own processing and queueing from rx burst to tx burst.")
w("- Cycles per packet are TSC cycles of the worker's busy polls divided by packets received; on a shared CPU "
  "they include time the worker was preempted during a busy poll, so they are an upper bound.")
w("")
w("Reproduce (root, after `scripts/setup-host.sh` and `ninja -C build`):")
w("")
w("    flock /tmp/gw-bench.lock " + (meta.get("command") or "scripts/validate.sh"))
w("")
with open(md_path, "w") as f:
    f.write("\n".join(L))
fails = sum(1 for c in checks if not c["pass"]) + len(failures)
print(f"validate: {passed} of {len(checks)} checks passed, {len(failures)} failures")
sys.exit(1 if fails else 0)
PY
}
