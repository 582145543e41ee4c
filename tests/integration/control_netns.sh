#!/usr/bin/env bash
# Integration test of the control plane: gwctl against two running gatewayd
# (the two-site testbed of scripts/lib/sites.sh, started with routing only).
#   - the control socket is root:root 0660; show commands answer tables and JSON;
#     exit codes: 0 ok, 1 rejected, 2 usage/unknown command
#   - SAs and policies added at run time: site-to-site traffic becomes ESP on the WAN
#   - keys are never shown (config show) nor logged
#   - a deleted route makes traffic drop under "no-route"; re-adding it restores it
#   - config save writes a 0600 file that gatewayd --check accepts; config reload of a
#     changed file under a 50 pps ping loses nothing
#   - a Prometheus scrape passes promtool check metrics and carries the expected series
#   - clean exit, no mbuf leaked
#
# usage: tests/integration/control_netns.sh /path/to/gatewayd /path/to/gwctl
#   (exit 77 = skipped when not root / no network namespaces)
set -euo pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
gatewayd=${1:?usage: $0 GATEWAYD GWCTL}
gwctl=${2:?usage: $0 GATEWAYD GWCTL}

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: control_netns needs root (network namespaces)"
    exit $SKIP
fi
for tool in jq tcpdump curl promtool ping; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "control_netns: missing tool '$tool' (run scripts/install-deps.sh)" >&2
        exit 1
    fi
done
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/sites.sh
source "$repo/scripts/lib/sites.sh"

p="gwc$$"
dir=$(mktemp -d "${TMPDIR:-/tmp}/control_netns.XXXXXX")
failures=0
total=0
pass() {
    total=$((total + 1))
    echo "ok - $*"
}
fail() {
    total=$((total + 1))
    failures=$((failures + 1))
    echo "not ok - $1${2:+ # $2}"
}
cleanup() {
    local rc=$?
    trap - EXIT
    [[ -n ${ping_pid:-} ]] && kill "$ping_pid" 2>/dev/null || true
    [[ -n ${tcpdump_pid:-} ]] && kill "$tcpdump_pid" 2>/dev/null || true
    sites_gw_stop a || true
    sites_gw_stop b || true
    sites_down "$p"
    if ((failures != 0 || rc != 0)); then
        for s in a b; do
            echo "# --- gateway $s log"
            tail -n 30 "$dir/gw$s.err" 2>/dev/null | sed 's/^/# /' || true
        done
    fi
    rm -rf "$dir"
    exit "$rc"
}
trap cleanup EXIT

sock_a=/run/gatewayd/$p-gwa.sock
sock_b=/run/gatewayd/$p-gwb.sock
ctl_a() { "$gwctl" -s "$sock_a" "$@"; }
ctl_b() { "$gwctl" -s "$sock_b" "$@"; }
in_a() { ip netns exec "$p-sa" "$@"; }
# expect_rc N DESCRIPTION CMD...: CMD exits with status N.
expect_rc() {
    local want=$1 desc=$2 rc=0
    shift 2
    "$@" >"$dir/last.out" 2>&1 || rc=$?
    if [[ $rc == "$want" ]]; then
        pass "$desc (exit $rc)"
    else
        fail "$desc" "exit $rc, expected $want: $(head -c 300 "$dir/last.out" | tr '\n' ' ')"
    fi
}
no_route_drops() {
    ctl_a --json show errors | jq '[.errors[] | select(.reason == "no-route") | .packets] | add'
}

if ! sites_up "$p"; then
    echo "SKIP: control_netns: cannot build the two-site testbed"
    exit $SKIP
fi
ip -n "$p-gwa" link set lo up # the Prometheus exposer listens on the namespace's loopback
sites_keys
SITES_IDLE_SLEEP_US=20
SITES_EXTRA_CONFIG="telemetry prometheus 127.0.0.1:9469 window-s 5" sites_gw_config "$p" a "$dir/a.conf" none
sites_gw_config "$p" b "$dir/b.conf" none
sites_gw_start "$p" a "$gatewayd" "$dir/a.conf" "$dir"
sites_gw_start "$p" b "$gatewayd" "$dir/b.conf" "$dir"
sites_gw_wait_ready a "$dir" 30 || { fail "gateway a ready"; exit 1; }
sites_gw_wait_ready b "$dir" 30 || { fail "gateway b ready"; exit 1; }

# --- the socket and read-only commands ----------------------------------------
mode=$(stat -c '%a %U %G' "$sock_a")
[[ $mode == "660 root root" ]] && pass "control socket is root:root 0660" || fail "control socket is root:root 0660" "$mode"
expect_rc 0 "gwctl show interface" ctl_a show interface
grep -q "lan" "$dir/last.out" && grep -q "rx packets" "$dir/last.out" &&
    pass "show interface prints a table with the ports" || fail "show interface prints a table with the ports"
name=$(ctl_a --json show interface | jq -r '.ports[0].name')
[[ $name == lan ]] && pass "gwctl --json: .ports[0].name = lan" || fail "gwctl --json: .ports[0].name = lan" "$name"
expect_rc 2 "unknown command" ctl_a show nonsense
expect_rc 2 "usage error" ctl_a ip route add 10.9.0.0/16
expect_rc 1 "invalid route rejected" ctl_a ip route add 10.9.0.1/16 via 192.0.2.2
expect_rc 1 "route via an unreachable next hop rejected" ctl_a ip route add 10.9.0.0/16 via 203.0.113.1
expect_rc 1 "xdp rule without an xdp port: unavailable" ctl_a xdp blocklist add 198.51.100.0/24
expect_rc 0 "rx-placement onto the queue's own worker" ctl_a set interface rx-placement lan queue 0 worker 0
expect_rc 1 "rx-placement onto a worker that does not exist" ctl_a set interface rx-placement lan queue 0 worker 5
for cmd in "show queues" "show runtime" "show latency" "show ipsec sa" "show ipsec spd" "show ip route" "config show" "help"; do
    # shellcheck disable=SC2086
    expect_rc 0 "gwctl $cmd" ctl_a $cmd
done

# --- plain routing first -------------------------------------------------------
if in_a timeout 20 ping -c 3 -i 0.2 -W 2 "$SITES_B_HOST4" >"$dir/ping0" 2>&1; then
    pass "ping site A -> site B, routed in clear"
else
    fail "ping site A -> site B, routed in clear" "$(tail -n 2 "$dir/ping0" | tr '\n' ' ')"
fi

# --- IPsec added at run time ----------------------------------------------------
ip netns exec "$p-wan" timeout 60 tcpdump -i br0 -n -U -w "$dir/wan.pcap" 'ip and (icmp or esp)' 2>"$dir/tcpdump.err" &
tcpdump_pid=$!
sleep 1
add_ipsec() { # side me peer my_lan peer_lan out_spi in_spi key_out key_in
    local ctl=ctl_$1
    $ctl ipsec sa add out4 out spi "$6" aes-gcm-128 key "$8" tunnel "192.0.2.$2" "192.0.2.$3" esn &&
        $ctl ipsec sa add in4 in spi "$7" aes-gcm-128 key "$9" tunnel "192.0.2.$2" "192.0.2.$3" esn &&
        $ctl ipsec policy add out priority 10 src "$4.0/24" dst "$5.0/24" protect out4 &&
        $ctl ipsec policy add in priority 10 src "$5.0/24" dst "$4.0/24" protect in4
}
if add_ipsec b 2 1 10.2.0 10.1.0 0x2001 0x1001 "$SITES_KEY_BA" "$SITES_KEY_AB" >"$dir/add_b" 2>&1 &&
    add_ipsec a 1 2 10.1.0 10.2.0 0x1001 0x2001 "$SITES_KEY_AB" "$SITES_KEY_BA" >"$dir/add_a" 2>&1; then
    pass "SAs and policies added on both gateways with gwctl"
else
    fail "SAs and policies added on both gateways with gwctl" "$(cat "$dir/add_a" "$dir/add_b" 2>/dev/null | tr '\n' ' ')"
fi
expect_rc 1 "a second SA of the same name is rejected" ctl_a ipsec sa add out4 out spi 0x3001 aes-gcm-128 \
    key "$SITES_KEY_AB" tunnel 192.0.2.1 192.0.2.2
expect_rc 1 "deleting an SA a policy uses is rejected" ctl_a ipsec sa del out4
if in_a timeout 20 ping -c 5 -i 0.2 -W 2 "$SITES_B_HOST4" >"$dir/ping1" 2>&1; then
    pass "ping site A -> site B through the tunnel made at run time"
else
    fail "ping site A -> site B through the tunnel made at run time" "$(tail -n 2 "$dir/ping1" | tr '\n' ' ')"
fi
sleep 1
kill "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=
tcpdump -n -r "$dir/wan.pcap" 2>/dev/null >"$dir/wan.txt" || true
esp=$(grep -c 'ESP(spi=' "$dir/wan.txt" || true)
clear_icmp=$(grep -c "$SITES_A_HOST4 > $SITES_B_HOST4: ICMP" "$dir/wan.txt" || true)
if ((esp >= 10 && clear_icmp == 0)); then
    pass "WAN after the change: $esp ESP packets, no clear ICMP between the sites"
else
    fail "WAN after the change: ESP only" "esp=$esp clear=$clear_icmp"
fi
sa_packets=$(ctl_a --json show ipsec sa | jq '[.sas[] | select(.name == "out4") | .packets] | add')
((sa_packets >= 5)) && pass "show ipsec sa: out4 carried $sa_packets packets" || fail "show ipsec sa: out4 packets" "$sa_packets"

# --- secrets ------------------------------------------------------------------
key_tail=${SITES_KEY_AB:8}
if ctl_a config show | grep -q "$key_tail"; then
    fail "config show masks keys"
else
    pass "config show masks keys"
fi
if grep -q "$key_tail" "$dir/gwa.err" "$dir/gwa.out"; then
    fail "gatewayd never logs a key"
else
    pass "gatewayd never logs a key"
fi

# --- routes ---------------------------------------------------------------------
before=$(no_route_drops)
expect_rc 0 "ip route del 10.2.0.0/24" ctl_a ip route del 10.2.0.0/24
in_a timeout 10 ping -c 3 -i 0.2 -W 1 "$SITES_B_HOST4" >/dev/null 2>&1 || true
after=$(no_route_drops)
if ((after >= before + 3)); then
    pass "without the route, pings are dropped under no-route ($before -> $after)"
else
    fail "without the route, pings are dropped under no-route" "$before -> $after"
fi
expect_rc 1 "deleting it again: not found" ctl_a ip route del 10.2.0.0/24
expect_rc 0 "ip route add 10.2.0.0/24 via 192.0.2.2" ctl_a ip route add 10.2.0.0/24 via 192.0.2.2
if in_a timeout 20 ping -c 3 -i 0.2 -W 2 "$SITES_B_HOST4" >"$dir/ping2" 2>&1; then
    pass "route restored: ping site A -> site B"
else
    fail "route restored: ping site A -> site B" "$(tail -n 2 "$dir/ping2" | tr '\n' ' ')"
fi

# --- save and reload under traffic ---------------------------------------------
expect_rc 0 "config save" ctl_a config save "$dir/a-saved.conf"
perm=$(stat -c '%a' "$dir/a-saved.conf" 2>/dev/null || echo missing)
[[ $perm == 600 ]] && pass "saved config has mode 0600" || fail "saved config has mode 0600" "$perm"
expect_rc 0 "gatewayd --check accepts the saved config" "$gatewayd" --check --config "$dir/a-saved.conf"
grep -q "^ipsec sa out4 out spi 0x1001" "$dir/a-saved.conf" && pass "saved config holds the SAs added at run time" ||
    fail "saved config holds the SAs added at run time"
ctl_a config show >"$dir/show-before"
expect_rc 0 "config reload of the saved file" ctl_a config reload "$dir/a-saved.conf"
ctl_a config show >"$dir/show-after"
if cmp -s "$dir/show-before" "$dir/show-after"; then
    pass "the saved config reloads to the same running state"
else
    fail "the saved config reloads to the same running state" "$(diff "$dir/show-before" "$dir/show-after" | head -5 | tr '\n' ' ')"
fi
cp "$dir/a-saved.conf" "$dir/a-next.conf"
echo "route 10.77.0.0/16 via 192.0.2.2" >>"$dir/a-next.conf"
in_a timeout 20 ping -c 150 -i 0.02 -W 1 "$SITES_B_HOST4" >"$dir/ping3" 2>&1 &
ping_pid=$!
sleep 1
expect_rc 0 "config reload of a changed file under traffic" ctl_a config reload "$dir/a-next.conf"
wait "$ping_pid" || true
ping_pid=
loss=$(grep -o '[0-9.]*% packet loss' "$dir/ping3" || echo "no summary")
[[ $loss == "0% packet loss" ]] && pass "reload under a 50 pps ping: $loss" || fail "reload under a 50 pps ping: 0% loss" "$loss"
ctl_a show ip route | grep -q "10.77.0.0/16" && pass "reloaded route is running" || fail "reloaded route is running"

# --- telemetry --------------------------------------------------------------------
lat=$(ctl_a --json show latency | jq '.gateway.since_start.count')
((lat > 0)) && pass "show latency: $lat packets measured" || fail "show latency: packets measured" "$lat"
fwd=$(ctl_a --json show runtime | jq '[.lcores[].stages[]? | select(.name == "forward") | .packets] | add')
((fwd > 0)) && pass "show runtime: forward stage saw $fwd packets" || fail "show runtime: forward stage packets" "$fwd"
sleep 1.2 # the exposer serves the snapshot of the last tick
ip netns exec "$p-gwa" curl -sf --max-time 5 http://127.0.0.1:9469/metrics >"$dir/metrics.txt" || true
if [[ -s $dir/metrics.txt ]] && promtool check metrics <"$dir/metrics.txt" >"$dir/promtool.out" 2>&1; then
    pass "promtool check metrics on the scrape"
else
    fail "promtool check metrics on the scrape" "$(head -c 300 "$dir/promtool.out" 2>/dev/null | tr '\n' ' ')"
fi
for series in 'gateway_up 1' 'gateway_port_rx_packets_total{port="lan"}' 'gateway_drops_total{lcore="1",reason="no-route"}' \
    'gateway_ipsec_sa_packets_total{sa="out4"' 'gateway_latency_seconds_bucket{le=' 'gateway_stage_cycles_total{lcore="1",stage="forward"}'; do
    if grep -qF "$series" "$dir/metrics.txt"; then
        pass "scrape carries $series"
    else
        fail "scrape carries $series"
    fi
done
expect_rc 0 "clear counters" ctl_a clear counters
rx=$(ctl_a --json show interface | jq '.ports[0].ipackets')
((rx < 20)) && pass "after clear counters, lan rx packets = $rx" || fail "after clear counters, lan rx small" "$rx"

# --- stop --------------------------------------------------------------------------
sites_gw_stop a
sites_gw_stop b
[[ ${SITES_RC_a:-x} == 0 && ${SITES_RC_b:-x} == 0 ]] && pass "both gateways exit 0" ||
    fail "both gateways exit 0" "a=${SITES_RC_a:-?} b=${SITES_RC_b:-?}"
leaked=$(jq -r '.mbufs_leaked' "$dir/gwa.json" 2>/dev/null || echo missing)
[[ $leaked == 0 ]] && pass "gateway a: mbufs_leaked 0" || fail "gateway a: mbufs_leaked 0" "$leaked"
[[ ! -e $sock_a ]] && pass "control socket removed on exit" || fail "control socket removed on exit"

echo "# $((total - failures))/$total assertions passed"
((failures == 0))
