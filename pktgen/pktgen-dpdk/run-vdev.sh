#!/usr/bin/env bash
# Try the Pktgen-DPDK profiles without NICs or gateways:
#
#   Pktgen port 0 (virtio-user) == vhost-user == dpdk-testpmd --forward-mode=io == Pktgen port 1
#
# testpmd stands in for the two gateways, so this checks the profiles and the tester, not
# gatewayd; packet rates are those of two busy-polling processes sharing the host's CPUs.
# virtio-user rather than memif or net_ring: Pktgen 23.06 stops ("Cannot set MTU 1500 on
# port 0") on a port that does not support rte_eth_dev_set_mtu(), as DPDK 22.11's memif.
#
#   run-vdev.sh <path to pktgen> forward|encrypt|imix [trial seconds, default 2]
#
# Results (<scenario>-results.txt, pktgen.log, testpmd.log) go to a new directory under
# ${TMPDIR:-/tmp}, printed at the end. Environment:
#   TESTPMD    dpdk-testpmd to use (default: the one in PATH)
#   PG_LCORES  Pktgen's EAL --lcores (default 0@0,1@1: main on CPU 0, one worker on CPU 1)
#   PG_MAP     Pktgen's -m (default 1.[0-1]: that worker serves both ports)
#   TP_LCORES  testpmd's EAL --lcores (default 0@0,1@0: its forwarding lcore on CPU 0)
#   PG_MEM_MB  Pktgen's memory without hugepages (default 3200: 23.06 creates five pools of
#              24576 10-KB mbufs per port)
set -euo pipefail

usage() { echo "usage: $0 <path to pktgen> forward|encrypt|imix [trial seconds]" >&2; exit 2; }
(($# >= 2)) || usage
pktgen=$1 scenario=$2 trial_s=${3:-2}
[[ -x $pktgen ]] || { echo "$0: '$pktgen' is not an executable" >&2; exit 2; }
[[ $scenario == forward || $scenario == encrypt || $scenario == imix ]] || usage
[[ $trial_s =~ ^[1-9][0-9]*$ ]] || usage
testpmd=${TESTPMD:-$(command -v dpdk-testpmd || true)}
[[ -x $testpmd ]] || { echo "$0: dpdk-testpmd not found; set TESTPMD" >&2; exit 2; }
command -v script >/dev/null || { echo "$0: needs script(1) (util-linux): Pktgen wants a terminal" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/pktgen-vdev.XXXXXX")
prefix=pgvdev$$
if ((EUID == 0)); then rundir=/var/run/dpdk; else rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
tp_pid=

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    if [[ -n $tp_pid ]] && kill -0 "$tp_pid" 2>/dev/null; then
        kill -INT "$tp_pid" 2>/dev/null || true
        for _ in 1 2 3 4 5; do kill -0 "$tp_pid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$tp_pid" 2>/dev/null || true
        wait "$tp_pid" 2>/dev/null || true
    fi
    rm -f "$out/vhost0.sock" "$out/vhost1.sock"
    rm -rf "$rundir/${prefix}tp" "$rundir/${prefix}pg"
}
trap cleanup EXIT

# Each trial takes trial_s plus up to 1 s to start on a second and 1.2 s to settle; the
# searches stop after 7 trials, then 3 load trials, for each of 3 frame sizes.
limit=$((60 + 3 * 10 * (trial_s + 3)))
[[ $scenario == imix ]] && limit=$((60 + trial_s))

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

if [[ $scenario == imix ]]; then
    # After imix.pkt: send the sequence for trial_s (wall clock, as forward.lua's trials),
    # then count port 1's frames by size.
    cat >"$out/imix-check.lua" <<EOF
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
EOF
    files=(-f "$here/imix.pkt" -f "$out/imix-check.lua")
else
    cat >"$out/run.lua" <<EOF
GW_SCENARIO = { trial_ms = $trial_s * 1000, settle_ms = 1200, max_trials = 7, quit = true,
                logfile = "$out/$scenario-results.txt" }
dofile("$here/$scenario.lua")
EOF
    files=(-f "$out/run.lua")
fi

cmd=(timeout "$limit" "$pktgen" --no-pci --no-huge -m "${PG_MEM_MB:-3200}" --file-prefix "${prefix}pg"
     --lcores "${PG_LCORES:-0@0,1@1}"
     --vdev "net_virtio_user0,path=$out/vhost0.sock,queues=1"
     --vdev "net_virtio_user1,path=$out/vhost1.sock,queues=1"
     -- -P -m "${PG_MAP:-1.[0-1]}" "${files[@]}")
rc=0
(cd "$out" && script -qfec "$(printf '%q ' "${cmd[@]}")" "$out/pktgen.log" </dev/null >/dev/null) || rc=$?

cat "$out/$scenario-results.txt" 2>/dev/null || true
echo "pktgen exit status $rc; logs in $out"
grep -q -E '^== done|^port 1 by frame size' "$out/$scenario-results.txt" 2>/dev/null || exit 1
exit "$rc"
