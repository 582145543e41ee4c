#!/usr/bin/env bash
# Try the Pktgen-DPDK profiles without NICs:
#
#   Pktgen port 0 (virtio-user) == vhost-user == dpdk-testpmd --forward-mode=io == Pktgen port 1
#
# or, with --gateways, through the two real gateways (memif between them):
#
#   Pktgen port 0 == vhost-user == lan [gatewayd A] wan == memif == wan [gatewayd B] lan == vhost-user == Pktgen port 1
#
# Without --gateways testpmd stands in for the two gateways, so this checks the profiles
# and the tester, not gatewayd. Either way packet rates are those of busy-polling
# processes sharing the host's CPUs. virtio-user rather than memif or net_ring: Pktgen
# 23.06 stops ("Cannot set MTU 1500 on port 0") on a port that does not support
# rte_eth_dev_set_mtu(), as DPDK 22.11's memif.
#
#   run-vdev.sh [--gateways BUILD_DIR] <path to pktgen> forward|encrypt|imix [trial seconds, default 2]
#
# --gateways BUILD_DIR: run BUILD_DIR/gateway/gatewayd twice (needs root), with the
# addresses of README.md and configs written to the results directory (mode 0600, the
# encrypt scenario's ESP keys drawn from /dev/urandom; deleted at exit, config-a.txt and
# config-b.txt keep them without the keys). forward and imix run the forward configs,
# encrypt adds the README's ipsec lines. net_vhost cannot set a MAC, so gateway A's LAN MAC
# is the vhost PMD's own (56:48:4F:53:54:xx), read with gwctl and handed to the profiles;
# Pktgen's ports get 02:00:00:00:0c:01/02, the gateways' static neighbors. After Pktgen
# ends, `gwctl show interface`, `show errors` (and `show ipsec sa`) of both gateways are
# printed, then each gatewayd is stopped with SIGINT; the run fails if either does not
# exit 0 (3: leaked mbufs).
#
# Results (<scenario>-results.txt, pktgen.log, testpmd.log or gw-{a,b}.log and
# gw-{a,b}-*.txt) go to a new directory under ${TMPDIR:-/tmp}, printed at the end.
# Environment:
#   TESTPMD    dpdk-testpmd to use (default: the one in PATH)
#   PG_LCORES  Pktgen's EAL --lcores (default 0@0,1@1: main on CPU 0, one worker on CPU 1)
#   PG_MAP     Pktgen's -m (default 1.[0-1]: that worker serves both ports)
#   TP_LCORES  testpmd's EAL --lcores (default 0@0,1@0: its forwarding lcore on CPU 0)
#   PG_MEM_MB  Pktgen's memory without hugepages (default 3200: 23.06 creates five pools of
#              24576 10-KB mbufs per port)
#   GW_WORKER  with --gateways: both gateways' worker lcore = CPU (default 1; main lcore 0)
#   GW_IDLE_SLEEP_US  with --gateways: `dataplane idle-sleep-us` (default 10: the two
#              workers share a CPU and take turns)
#   GW_MEM_MB  with --gateways: each gatewayd's `eal memory` without hugepages (default 1024)
set -euo pipefail

usage() {
    echo "usage: $0 [--gateways BUILD_DIR] <path to pktgen> forward|encrypt|imix [trial seconds]" >&2
    exit 2
}
gwbuild=
if [[ ${1:-} == --gateways ]]; then
    (($# >= 2)) || usage
    gwbuild=$2
    shift 2
fi
(($# >= 2)) || usage
pktgen=$1 scenario=$2 trial_s=${3:-2}
[[ -x $pktgen ]] || { echo "$0: '$pktgen' is not an executable" >&2; exit 2; }
[[ $scenario == forward || $scenario == encrypt || $scenario == imix ]] || usage
[[ $trial_s =~ ^[1-9][0-9]*$ ]] || usage
if [[ -n $gwbuild ]]; then
    gatewayd=$gwbuild/gateway/gatewayd gwctl=$gwbuild/gateway/gwctl
    [[ -x $gatewayd && -x $gwctl ]] || { echo "$0: no gateway/gatewayd and gateway/gwctl in '$gwbuild'" >&2; exit 2; }
    ((EUID == 0)) || { echo "$0: --gateways needs root (DPDK, /run/gatewayd)" >&2; exit 2; }
    gw_worker=${GW_WORKER:-1}
    [[ $gw_worker =~ ^[1-9][0-9]*$ ]] || { echo "$0: GW_WORKER must be an lcore above 0" >&2; exit 2; }
else
    testpmd=${TESTPMD:-$(command -v dpdk-testpmd || true)}
    [[ -x $testpmd ]] || { echo "$0: dpdk-testpmd not found; set TESTPMD" >&2; exit 2; }
fi
command -v script >/dev/null || { echo "$0: needs script(1) (util-linux): Pktgen wants a terminal" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/pktgen-vdev.XXXXXX")
prefix=pgvdev$$
if ((EUID == 0)); then rundir=/var/run/dpdk; else rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
tp_pid='' gw_a_pid='' gw_b_pid=''

# stop_pid PID: SIGINT, up to 20 s to exit, then SIGKILL; its exit status in stop_rc (not
# in a subshell: only this shell can wait for its children).
stop_pid() {
    local pid=$1
    stop_rc=0
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || stop_rc=$?
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local pid
    for pid in "$tp_pid" "$gw_a_pid" "$gw_b_pid"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then stop_pid "$pid"; fi
    done
    rm -f "$out/vhost0.sock" "$out/vhost1.sock" "$out/a-lan.sock" "$out/b-lan.sock" "$out/wan.sock"
    rm -f "$out/a.conf" "$out/b.conf"
    rm -rf "$rundir/${prefix}tp" "$rundir/${prefix}pg" "$rundir/${prefix}a" "$rundir/${prefix}b"
    if [[ -n $gwbuild ]]; then rm -f "/run/gatewayd/${prefix}a.sock" "/run/gatewayd/${prefix}b.sock"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each trial takes trial_s plus up to 1 s to start on a second and 1.2 s to settle; the
# searches stop after 7 trials, then 3 load trials, for each of 3 frame sizes.
limit=$((60 + 3 * 10 * (trial_s + 3)))
[[ $scenario == imix ]] && limit=$((60 + trial_s))

# wait_socket PATH PID: until PATH is a socket (10 s), or PID has exited.
wait_socket() {
    for _ in $(seq 100); do
        [[ -S $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# gw_config a|b: gatewayd's config on stdout; A serves the WAN memif link, B is its client.
gw_config() {
    local side=$1 local_ip=198.51.100.1 remote_ip=198.51.100.2 ab=out ba=in
    local memif="socket-abstract=no,rsize=12"
    echo "# gatewayd $side of run-vdev.sh --gateways: $scenario"
    echo "eal main-lcore 0"
    echo "eal file-prefix $prefix$side"
    echo "eal no-huge"
    echo "eal memory ${GW_MEM_MB:-1024}"
    echo "dataplane idle-sleep-us ${GW_IDLE_SLEEP_US:-10}"
    # net_vhost has no mac_addr_set: the LAN ports keep the PMD's MAC. One queue pair, as
    # virtio-user's; gatewayd then shares the tx queue between its lcores under a lock.
    # rxq 2 on the WAN: memif pairs the client's tx queues (one per lcore) with the
    # server's rx queues one to one.
    if [[ $side == a ]]; then
        echo "port lan dev net_vhost0,iface=$out/a-lan.sock,queues=1"
        echo "port lan address 10.10.0.1/24"
        echo "port wan dev net_memif0,role=server,socket=$out/wan.sock,$memif,mac=02:00:00:00:0a:02 rxq 2"
        echo "port wan address 198.51.100.1/30"
        echo "neighbor lan 10.10.0.2 02:00:00:00:0c:01"
        echo "neighbor wan 198.51.100.2 02:00:00:00:0b:02"
        echo "route 10.20.0.0/24 via 198.51.100.2"
    else
        local_ip=198.51.100.2 remote_ip=198.51.100.1 ab=in ba=out
        echo "port wan dev net_memif0,role=client,socket=$out/wan.sock,$memif,mac=02:00:00:00:0b:02 rxq 2"
        echo "port wan address 198.51.100.2/30"
        echo "port lan dev net_vhost0,iface=$out/b-lan.sock,queues=1"
        echo "port lan address 10.20.0.1/24"
        echo "neighbor lan 10.20.0.2 02:00:00:00:0c:02"
        echo "neighbor wan 198.51.100.1 02:00:00:00:0a:02"
        echo "route 10.10.0.0/24 via 198.51.100.1"
    fi
    echo "worker $gw_worker"
    if [[ $scenario == encrypt ]]; then
        echo "ipsec sa a2b $ab spi 0x1001 aes-gcm-128 key $k_ab tunnel $local_ip $remote_ip"
        echo "ipsec sa b2a $ba spi 0x2001 aes-gcm-128 key $k_ba tunnel $local_ip $remote_ip"
        echo "ipsec policy $ab priority 10 src 10.10.0.0/24 dst 10.20.0.0/24 protect a2b"
        echo "ipsec policy $ba priority 10 src 10.20.0.0/24 dst 10.10.0.0/24 protect b2a"
    fi
}

# gw_show a|b WHAT...: `gwctl show WHAT` of that gateway.
gw_show() {
    local side=$1
    shift
    timeout 10 "$gwctl" -s "/run/gatewayd/$prefix$side.sock" --timeout 5 show "$@"
}

gw_a_lan_mac=02:00:00:00:0a:01
pg_mac=("" "")
if [[ -n $gwbuild ]]; then
    k_ab=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
    k_ba=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
    for side in a b; do
        (umask 077 && gw_config "$side" >"$out/$side.conf")
        chmod 600 "$out/$side.conf"
        sed -E 's/ key [0-9a-f]+ / key (random per run) /' "$out/$side.conf" >"$out/config-$side.txt"
    done
    unset k_ab k_ba
    gw_life=$((limit + 60))
    timeout -s INT -k 10 "$gw_life" "$gatewayd" --config "$out/a.conf" --log-level info \
        --stats-json "$out/stats-a.json" </dev/null >"$out/gw-a.log" 2>&1 &
    gw_a_pid=$!
    # B's WAN port is a memif client: A's socket must exist before B starts.
    if ! wait_socket "$out/wan.sock" "$gw_a_pid" || ! wait_socket "$out/a-lan.sock" "$gw_a_pid" ||
        ! wait_socket "/run/gatewayd/${prefix}a.sock" "$gw_a_pid"; then
        echo "$0: gatewayd A did not start, see $out/gw-a.log" >&2; exit 1
    fi
    timeout -s INT -k 10 "$gw_life" "$gatewayd" --config "$out/b.conf" --log-level info \
        --stats-json "$out/stats-b.json" </dev/null >"$out/gw-b.log" 2>&1 &
    gw_b_pid=$!
    if ! wait_socket "$out/b-lan.sock" "$gw_b_pid" || ! wait_socket "/run/gatewayd/${prefix}b.sock" "$gw_b_pid"; then
        echo "$0: gatewayd B did not start, see $out/gw-b.log" >&2; exit 1
    fi
    up=0
    for _ in $(seq 50); do
        if gw_show a interface 2>/dev/null | awk '$1 == "wan" && $4 == "up" { ok = 1 } END { exit !ok }'; then
            up=1
            break
        fi
        sleep 0.2
    done
    ((up)) || { echo "$0: the WAN memif link between the gateways did not come up" >&2; exit 1; }
    gw_a_lan_mac=$(gw_show a interface | awk '$1 == "lan" { print tolower($3) }' || true)
    [[ $gw_a_lan_mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || { echo "$0: cannot read gateway A's LAN MAC" >&2; exit 1; }
    pg_mac=(",mac=02:00:00:00:0c:01" ",mac=02:00:00:00:0c:02")
    sock0=$out/a-lan.sock sock1=$out/b-lan.sock
else
    timeout $((limit + 30)) "$testpmd" --no-pci --no-huge -m 512 --file-prefix "${prefix}tp" \
        --lcores "${TP_LCORES:-0@0,1@0}" \
        --vdev "net_vhost0,iface=$out/vhost0.sock,queues=1" \
        --vdev "net_vhost1,iface=$out/vhost1.sock,queues=1" \
        -- --forward-mode=io --auto-start --stats-period 60 --rxq=1 --txq=1 \
        --total-num-mbufs=16384 </dev/null >"$out/testpmd.log" 2>&1 &
    tp_pid=$!
    for _ in $(seq 50); do
        [[ -S $out/vhost0.sock && -S $out/vhost1.sock ]] && break
        kill -0 "$tp_pid" 2>/dev/null || { echo "$0: testpmd exited, see $out/testpmd.log" >&2; exit 1; }
        sleep 0.2
    done
    sock0=$out/vhost0.sock sock1=$out/vhost1.sock
fi

if [[ $scenario == imix ]]; then
    # imix.pkt addresses gateway A's LAN as 02:00:00:00:0a:01: give it the one in use.
    sed "s/02:00:00:00:0a:01/$gw_a_lan_mac/g" "$here/imix.pkt" >"$out/imix.pkt"
    # After imix.pkt: send the sequence for trial_s (wall clock, as forward.lua's trials),
    # then count port 1's frames by size.
    cat >"$out/imix-check.lua" <<LUA
local f = io.open("$out/imix-results.txt", "w")
pktgen.clr()
local t = os.time(); while os.time() == t do pktgen.delay(5) end
pktgen.start("0"); while os.time() < t + 1 + $trial_s do pktgen.delay(5) end
pktgen.stop("0"); pktgen.delay(1500)
local ok, st = pcall(pktgen.portStats, "0,1", "port")
if not ok then st = pktgen.portStats("0,1") end
local tx, rx = st[0].curr or st[0], st[1].curr or st[1]
f:write(string.format("port 0 sent %d packets (%d bytes, %.3f Mpps), port 1 received %d (%d bytes)\n",
    tx.opackets, tx.obytes, tx.opackets / $trial_s / 1e6, rx.ipackets, rx.ibytes))
local z = pktgen.portSizes and pktgen.portSizes("1")[1] or st[1].sizes
f:write(string.format("port 1 by frame size: 64 %d, 65-127 %d, 128-255 %d, 256-511 %d, 512-1023 %d, 1024-1518 %d\n",
    z._64, z._65_127, z._128_255, z._256_511, z._512_1023, z._1024_1518 or z._1024_1522))
f:close()
pktgen.page("seq"); pktgen.delay(1000)
pktgen.quit()
LUA
    files=(-f "$out/imix.pkt" -f "$out/imix-check.lua")
else
    cat >"$out/run.lua" <<LUA
GW_SCENARIO = { trial_ms = $trial_s * 1000, settle_ms = 1200, max_trials = 7, quit = true,
                gw_a_lan_mac = "$gw_a_lan_mac", logfile = "$out/$scenario-results.txt" }
dofile("$here/$scenario.lua")
LUA
    files=(-f "$out/run.lua")
fi

cmd=(timeout "$limit" "$pktgen" --no-pci --no-huge -m "${PG_MEM_MB:-3200}" --file-prefix "${prefix}pg"
     --lcores "${PG_LCORES:-0@0,1@1}"
     --vdev "net_virtio_user0,path=$sock0,queues=1${pg_mac[0]}"
     --vdev "net_virtio_user1,path=$sock1,queues=1${pg_mac[1]}"
     -- -P -m "${PG_MAP:-1.[0-1]}" "${files[@]}")
rc=0
(cd "$out" && script -qfec "$(printf '%q ' "${cmd[@]}")" "$out/pktgen.log" </dev/null >/dev/null) || rc=$?

cat "$out/$scenario-results.txt" 2>/dev/null || true
echo "pktgen exit status $rc; logs in $out"
ok=1
grep -q -E '^== done|^port 1 by frame size' "$out/$scenario-results.txt" 2>/dev/null || ok=0

if [[ -n $gwbuild ]]; then
    shows=(interface errors)
    [[ $scenario == encrypt ]] && shows+=("ipsec sa")
    for side in a b; do
        for what in "${shows[@]}"; do
            # shellcheck disable=SC2086  # "ipsec sa" is two words
            gw_show "$side" $what >"$out/gw-$side-${what// /-}.txt" 2>&1 || true
            echo "== gateway ${side^^}: gwctl show $what"
            cat "$out/gw-$side-${what// /-}.txt"
        done
    done
    # Stop A first: B's memif client then sees its server leave, as in validate.sh.
    stop_pid "$gw_a_pid"
    gw_rc_a=$stop_rc gw_a_pid=''
    stop_pid "$gw_b_pid"
    gw_rc_b=$stop_rc gw_b_pid=
    for side in a b; do
        echo "== gateway ${side^^}: counters printed at exit"
        sed -n '/signal 2: stopping/,$p' "$out/gw-$side.log"
    done
    echo "gatewayd A exit status $gw_rc_a, gatewayd B exit status $gw_rc_b (0: clean, 3: leaked mbufs)"
    [[ $gw_rc_a == 0 && $gw_rc_b == 0 ]] || ok=0
fi
((ok)) || exit 1
exit "$rc"
