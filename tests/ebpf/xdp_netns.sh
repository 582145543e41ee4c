#!/usr/bin/env bash
# XDP fast path in network namespaces, with no gatewayd or other user-space
# process in the path: gw-xdp attaches and configures, then exits.
#
#   ns src (10.1.0.2, 10.1.0.66) --veth-- ns gw [gi | go] --veth-- ns dst (10.2.0.2)
#
# The gw namespace has IP forwarding OFF: anything that crosses it was
# forwarded by XDP bypass. Checks: bypass both ways (ping, TTL decremented),
# TTL 1 left to the kernel, a blocked source cannot reach through, management
# traffic (ICMP echo and TCP 22 to gw's own address) reaches gw's kernel, and a
# rate-limited source is held near its rate (measured against the elapsed time).
#
# usage: xdp_netns.sh <path to gw-xdp>; exit 77 (skipped) when not root.
set -euo pipefail

GWXDP=${1:?usage: xdp_netns.sh <gw-xdp>}
if [[ $(id -u) -ne 0 ]]; then
    echo "xdp_netns: needs root; skipped"
    exit 77
fi

tag=$$
S=gwx-src-$tag; G=gwx-gw-$tag; D=gwx-dst-$tag
TMP=$(mktemp -d /tmp/gwx-netns.XXXXXX)
PIN=$TMP/bpffs/gw
fails=0

cleanup() {
    for ns in "$S" "$G" "$D"; do ip netns del "$ns" 2>/dev/null || true; done
    umount "$TMP/bpffs" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# ip netns exec remounts /sys, hiding /sys/fs/bpf: pin on a private bpffs.
mkdir -p "$TMP/bpffs"
mount -t bpf bpf "$TMP/bpffs"

for ns in "$S" "$G" "$D"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add s0 netns "$S" type veth peer name gi netns "$G"
ip link add d0 netns "$D" type veth peer name go netns "$G"
ip -n "$S" addr add 10.1.0.2/24 dev s0
ip -n "$S" addr add 10.1.0.66/24 dev s0
ip -n "$G" addr add 10.1.0.1/24 dev gi
ip -n "$G" addr add 10.2.0.1/24 dev go
ip -n "$D" addr add 10.2.0.2/24 dev d0
for l in "$S s0" "$G gi" "$G go" "$D d0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=0
ip -n "$S" route add 10.2.0.0/24 via 10.1.0.1
ip -n "$D" route add 10.1.0.0/24 via 10.2.0.1

mac() { ip -n "$1" -j link show "$2" | sed -n 's/.*"address":"\([0-9a-f:]*\)".*/\1/p'; }
MAC_S0=$(mac "$S" s0); MAC_D0=$(mac "$D" d0)
# Static neighbors: gw's kernel answers ARP (xdp pass arp), but pin them anyway
# so the test does not depend on ARP timing.
ip -n "$S" neigh replace 10.1.0.1 lladdr "$(mac "$G" gi)" dev s0
ip -n "$D" neigh replace 10.2.0.1 lladdr "$(mac "$G" go)" dev d0

x() { ip netns exec "$1" "$GWXDP" --pin-root "$PIN" "${@:2}"; }
stat() { x "$G" gi stats | awk -v k="$1" '$1 == k { print $2 }'; }

x "$G" gi attach
x "$G" go attach
# veth delivers redirected frames only to a peer with an XDP program: the end
# hosts get one too (it passes everything: no AF_XDP socket there).
x "$S" s0 attach
x "$D" d0 attach
x "$G" gi pass arp
x "$G" gi pass icmp
x "$G" gi pass tcp 22
x "$G" gi local 10.1.0.1
x "$G" gi block 10.1.0.64/26
x "$G" gi bypass 10.2.0.0/24 go "$MAC_D0"
x "$G" go bypass 10.1.0.0/24 gi "$MAC_S0"
# From here on no user-space process is involved in forwarding.

out=$(ip netns exec "$S" ping -c 3 -i 0.2 -W 1 10.2.0.2 2>&1) || true
if grep -q '3 received' <<<"$out" && grep -q 'ttl=63' <<<"$out"; then
    ok "bypass forwards both ways with forwarding off, TTL decremented (ttl=63)"
else
    bad "bypass ping: $out"
fi
[[ $(stat redirect-bypass) -ge 3 ]] && ok "redirect-bypass counted" || bad "redirect-bypass = $(stat redirect-bypass)"

before=$(stat pass-ttl)
ip netns exec "$S" ping -c 1 -t 1 -W 1 10.2.0.2 >/dev/null 2>&1 || true
[[ $(stat pass-ttl) -gt $before ]] && ok "TTL 1 left to the kernel (pass-ttl)" || bad "pass-ttl did not move"

if ip netns exec "$S" ping -c 2 -i 0.2 -W 1 -I 10.1.0.66 10.2.0.2 >/dev/null 2>&1; then
    bad "blocked source 10.1.0.66 reached 10.2.0.2"
else
    ok "blocked source cannot reach through"
fi
[[ $(stat drop-blocked) -ge 2 ]] && ok "drop-blocked counted" || bad "drop-blocked = $(stat drop-blocked)"
x "$G" gi stats | grep -q 'block  10.1.0.64/26 .* [1-9][0-9]* pkts' && ok "per-rule counter" || bad "rule counter"

before=$(stat pass-mgmt)
ip netns exec "$S" ping -c 2 -i 0.2 -W 1 10.1.0.1 >/dev/null 2>&1 && ok "ICMP echo to gw reaches its kernel" \
    || bad "ping gw"
ip netns exec "$S" timeout 2 bash -c 'echo > /dev/tcp/10.1.0.1/22' 2>/dev/null || true  # RST is fine
[[ $(stat pass-mgmt) -ge $((before + 3)) ]] && ok "management (ICMP, TCP 22) passed to the kernel" \
    || bad "pass-mgmt $before -> $(stat pass-mgmt)"

# Rate limit: 50 pps burst 10, offered ~250 pps (ping -i 0.002 on veth) from one source.
RATE=50; BURST=10; SENT=400
x "$G" gi ratelimit $RATE $BURST
before=$(stat drop-ratelimit)
t0=$(date +%s%N)
out=$(ip netns exec "$S" ping -q -c $SENT -i 0.002 -W 1 10.2.0.2 2>&1) || true
t1=$(date +%s%N)
recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
dropped=$(( $(stat drop-ratelimit) - before ))
elapsed_ms=$(( (t1 - t0) / 1000000 ))
allowed=$(( BURST + RATE * elapsed_ms / 1000 ))
echo "rate limit: sent $SENT in ${elapsed_ms} ms, received $recv, dropped by XDP $dropped, bucket allows ~$allowed"
if [[ -n $recv ]] && (( recv <= allowed * 12 / 10 + 5 && recv >= allowed / 2 && dropped > 0 )); then
    ok "rate-limited source held near $RATE pps"
else
    bad "rate limit: received $recv, expected about $allowed"
fi
x "$G" gi ratelimit 0 0

x "$G" gi stats
echo "xdp_netns: $fails failed"
((fails == 0))
