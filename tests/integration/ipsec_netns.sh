#!/usr/bin/env bash
# End-to-end IPsec: site A LAN <-> gateway A <-> WAN <-> gateway B <-> site B LAN,
# two real gatewayd processes on af_packet ports in network namespaces.
# Asserts: ping IPv4/IPv6 across the tunnel, a bounded iperf3 TCP run and a UDP
# flow pass, a make-before-break rekey of the IPv4 tunnel applied at runtime
# (SIGHUP reload on both gateways) loses no packet of a running ping, everything
# that crossed the WAN between the gateways was ESP (tcpdump on the WAN bridge; the bridge's own IGMP aside)
# and the new SPIs carry the traffic afterwards, no ESP drops, no leaked mbufs,
# clean exits.
#
# usage: tests/integration/ipsec_netns.sh GATEWAYD   (exit 77 = skipped)
set -euo pipefail

gatewayd=${1:?usage: $0 GATEWAYD}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/sites.sh
source "$repo/scripts/lib/sites.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "skip: needs root (network namespaces)"
    exit 77
fi
for t in ip ethtool iperf3 tcpdump timeout; do
    command -v "$t" >/dev/null || { echo "skip: missing $t (scripts/install-deps.sh)"; exit 77; }
done

p="gwi$$"
dir=$(mktemp -d /tmp/ipsec-netns.XXXXXX)
failures=0
pass() { echo "ok - $*"; }
fail() {
    echo "not ok - $1${2:+ ($2)}"
    failures=$((failures + 1))
}
cleanup() {
    sites_gw_stop a || true
    sites_gw_stop b || true
    [[ -n ${tcpdump_pid:-} ]] && kill "$tcpdump_pid" 2>/dev/null || true
    sites_down "$p"
    if ((failures != 0)); then
        for s in a b; do
            echo "--- gateway $s log"
            tail -n 30 "$dir/gw$s.err" 2>/dev/null || true
        done
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

sites_up "$p"
sites_keys
sites_gw_config "$p" a "$dir/a.conf"
sites_gw_config "$p" b "$dir/b.conf"
SITES_IDLE_SLEEP_US=20

ip netns exec "$p-wan" timeout 120 tcpdump -i br0 -n -U -w "$dir/wan.pcap" 2>"$dir/tcpdump.err" &
tcpdump_pid=$!
sites_gw_start "$p" a "$gatewayd" "$dir/a.conf" "$dir"
sites_gw_start "$p" b "$gatewayd" "$dir/b.conf" "$dir"
sites_gw_wait_ready a "$dir" 30
sites_gw_wait_ready b "$dir" 30
sleep 1

in_a() { ip netns exec "$p-sa" "$@"; }
in_b() { ip netns exec "$p-sb" "$@"; }

if in_a timeout 20 ping -c 5 -i 0.2 -W 2 "$SITES_B_HOST4" >"$dir/ping4" 2>&1; then
    pass "ping site A -> site B over the IPv4 tunnel"
else
    fail "ping site A -> site B over the IPv4 tunnel" "$(tail -n 2 "$dir/ping4" | tr '\n' ' ')"
fi
if in_a timeout 20 ping -6 -c 5 -i 0.2 -W 2 "$SITES_B_HOST6" >"$dir/ping6" 2>&1; then
    pass "ping site A -> site B over the IPv6 tunnel"
else
    fail "ping site A -> site B over the IPv6 tunnel" "$(tail -n 2 "$dir/ping6" | tr '\n' ' ')"
fi

in_b timeout 30 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
server=$!
sleep 0.5
if in_a timeout 25 iperf3 -c "$SITES_B_HOST4" -p 5201 -t 3 -J >"$dir/tcp.json" 2>&1; then
    mbps=$(/usr/bin/python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$dir/tcp.json")
    pass "iperf3 TCP site A -> site B: ${mbps} Mbit/s"
else
    fail "iperf3 TCP site A -> site B"
fi
wait "$server" 2>/dev/null || true

in_b timeout 30 iperf3 -s -1 -p 5202 >/dev/null 2>&1 &
server=$!
sleep 0.5
if in_a timeout 25 iperf3 -6 -u -b 20M -l 1200 -c "$SITES_B_HOST6" -p 5202 -t 3 -J >"$dir/udp.json" 2>&1; then
    read -r lost total < <(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["end"]["sum"]; print(s["lost_packets"], s["packets"])' "$dir/udp.json")
    if ((total > 0 && lost * 100 <= total)); then
        pass "iperf3 UDP over IPv6 site A -> site B: $total datagrams, $lost lost"
    else
        fail "iperf3 UDP over IPv6 site A -> site B" "$total datagrams, $lost lost"
    fi
else
    fail "iperf3 UDP over IPv6 site A -> site B"
fi
wait "$server" 2>/dev/null || true

# Make-before-break rekey under traffic: new inbound SAs on both sides, then
# outbound switched to the new SAs, then the old ones removed, each step a
# SIGHUP reload, while a ping runs every 20 ms.
in_a timeout 30 ping -i 0.02 -c 250 -W 1 "$SITES_B_HOST4" >"$dir/rekey-ping" 2>&1 &
pinger=$!
sleep 1
for stage in 1 2 3; do
    for s in a b; do
        sites_gw_config "$p" "$s" "$dir/$s.conf" "$stage"
        pid=$(eval "echo \$SITES_PID_$s")
        kill -HUP "$pid"
    done
    sleep 1
done
wait "$pinger" || true
loss=$(grep -o '[0-9.]*% packet loss' "$dir/rekey-ping" | cut -d% -f1)
applied=$(grep -c 'SIGHUP: reloaded' "$dir/gwa.err" "$dir/gwb.err" | awk -F: '{ s += $2 } END { print s }')
if [[ $loss == 0 && $applied == 6 ]]; then
    pass "rekey at runtime (3 reloads per gateway) lost no ping: $(grep -o '[0-9]* received' "$dir/rekey-ping")"
else
    fail "rekey at runtime lost no ping" "loss ${loss:-?}%, $applied of 6 reloads applied"
fi
in_a timeout 10 ping -c 3 -i 0.2 -W 2 "$SITES_B_HOST4" >/dev/null 2>&1 || true
bad_reload=$(printf 'ipsec sa broken out spi 0x3001 aes-gcm-128 key 00 tunnel 192.0.2.1 192.0.2.2\n' | cat "$dir/a.conf" - >"$dir/a-bad.conf" && echo x)
cp "$dir/a-bad.conf" "$dir/a.conf"
kill -HUP "$SITES_PID_a"
sleep 0.5
if grep -q 'reload rejected, running state unchanged' "$dir/gwa.err" &&
    in_a timeout 10 ping -c 3 -i 0.2 -W 2 "$SITES_B_HOST4" >/dev/null 2>&1; then
    pass "a bad config on reload is rejected and traffic keeps flowing"
else
    fail "a bad config on reload is rejected and traffic keeps flowing"
fi
: "$bad_reload"

sites_gw_stop a
sites_gw_stop b
kill "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=""

[[ ${SITES_RC_a:-x} == 0 ]] && pass "gateway A exited 0" || fail "gateway A exited 0" "status ${SITES_RC_a:-?}"
[[ ${SITES_RC_b:-x} == 0 ]] && pass "gateway B exited 0" || fail "gateway B exited 0" "status ${SITES_RC_b:-?}"

# What crossed the WAN: IP packets between the gateways must all be ESP.
total_ip=$(tcpdump -n -r "$dir/wan.pcap" 'ip or ip6' 2>/dev/null | wc -l)
esp=$(tcpdump -n -r "$dir/wan.pcap" '(ip and ip proto 50) or (ip6 and ip6 proto 50)' 2>/dev/null | wc -l)
clear=$(tcpdump -n -r "$dir/wan.pcap" '(ip and not ip proto 50 and not ip multicast) or (ip6 and not ip6 proto 50 and not icmp6)' 2>/dev/null | wc -l)
inner=$(tcpdump -n -r "$dir/wan.pcap" 'net 10.1.0.0/24 or net 10.2.0.0/24 or net fd00:a::/64 or net fd00:b::/64' 2>/dev/null | wc -l)
if ((esp > 100 && clear == 0 && inner == 0)); then
    pass "WAN carried only ESP between the gateways ($esp ESP of $total_ip IP packets; ND aside)"
else
    fail "WAN carried only ESP" "$esp ESP, $clear clear, $inner with site addresses, of $total_ip"
    tcpdump -n -r "$dir/wan.pcap" '(ip and not ip proto 50 and not ip multicast) or (ip6 and not ip6 proto 50 and not icmp6)' 2>/dev/null |
        head -n 5 | sed 's/^/#   /'
fi

new_spi=$(tcpdump -n -r "$dir/wan.pcap" 'ip proto 50' 2>/dev/null | tail -n 20 | grep -c -E 'spi=0x0000(1101|2101)' || true)
if ((new_spi == 20)); then
    pass "after the rekey the IPv4 tunnel runs on the new SPIs 0x1101/0x2101"
else
    fail "after the rekey the IPv4 tunnel runs on the new SPIs" "$new_spi of the last 20 ESP packets"
fi

for s in a b; do
    f="$dir/gw$s.json"
    if [[ -f $f ]]; then
        leaked=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mbufs_leaked"])' "$f")
        [[ $leaked == 0 ]] && pass "gateway $s leaked no mbufs" || fail "gateway $s leaked no mbufs" "$leaked"
        bad=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["drops"]
print(" ".join(f"{k}={v}" for k, v in d.items() if k.startswith(("esp-", "ipsec-"))))' "$f")
        [[ -z $bad ]] && pass "gateway $s: no ESP or policy drops" || fail "gateway $s: no ESP or policy drops" "$bad"
    else
        fail "gateway $s wrote its stats"
    fi
done

echo "$failures failure(s)"
((failures == 0))
