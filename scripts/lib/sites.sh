# shellcheck shell=bash
# Two-site IPsec testbed: five network namespaces, two gatewayd instances.
# Source it, do not run it:
#
#   [P-sa] eth0 ── lan0 [P-gwa] wan0 ── a0 ┐                 ┌ b0 ── wan0 [P-gwb] lan0 ── eth0 [P-sb]
#   10.1.0.2/24                            └─ br0 [P-wan] ─┘                        10.2.0.2/24
#   fd00:a::2/64                           (tcpdump here sees the WAN)              fd00:b::2/64
#
#   gw A: lan 10.1.0.1/24 fd00:a::1/64, wan 192.0.2.1/24 2001:db8:ffff::1/64
#   gw B: lan 10.2.0.1/24 fd00:b::1/64, wan 192.0.2.2/24 2001:db8:ffff::2/64
#
# sites_up P / sites_down P build and remove it; sites_gw_config P a|b KEYSET
# writes a gatewayd config protecting site-to-site traffic with ESP (AES-GCM,
# ESN) over an IPv4 tunnel for IPv4 and an IPv6 tunnel for IPv6.
# sites_gw_start P a|b CONFIG DIR / sites_gw_stop a|b (sets SITES_RC_a / _b).

SITES_A_HOST4=10.1.0.2
SITES_A_HOST6=fd00:a::2
SITES_B_HOST4=10.2.0.2
SITES_B_HOST6=fd00:b::2

_sites_err() { echo "sites: $*" >&2; }

_sites_offloads_off() {
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1
}

_sites_host() { # ns a4 a6 gw4 gw6
    local ns=$1
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.eth0.accept_dad=0 &&
        ip -n "$ns" link set lo up &&
        ip -n "$ns" addr add "$2/24" dev eth0 &&
        ip -n "$ns" addr add "$3/64" dev eth0 nodad &&
        ip -n "$ns" link set eth0 up &&
        ip -n "$ns" route add default via "$4" dev eth0 &&
        ip -n "$ns" -6 route add default via "$5" dev eth0 &&
        _sites_offloads_off "$ns" eth0
}

_sites_gw_side() { # ns ifc
    ip netns exec "$1" sysctl -q -w "net.ipv6.conf.$2.disable_ipv6=1" &&
        ip -n "$1" link set "$2" up &&
        _sites_offloads_off "$1" "$2"
}

sites_up() {
    local p=$1 ns
    for ns in sa gwa wan gwb sb; do
        if ip netns list | grep -qw "$p-$ns"; then
            _sites_err "namespace $p-$ns exists; run sites_down $p first"
            return 1
        fi
    done
    for ns in sa gwa wan gwb sb; do ip netns add "$p-$ns" || return 1; done
    ip -n "$p-sa" link add eth0 type veth peer name lan0 netns "$p-gwa" &&
        ip -n "$p-sb" link add eth0 type veth peer name lan0 netns "$p-gwb" &&
        ip -n "$p-wan" link add a0 type veth peer name wan0 netns "$p-gwa" &&
        ip -n "$p-wan" link add b0 type veth peer name wan0 netns "$p-gwb" &&
        ip -n "$p-wan" link add br0 type bridge &&
        ip -n "$p-wan" link set a0 master br0 &&
        ip -n "$p-wan" link set b0 master br0 &&
        ip netns exec "$p-wan" sysctl -q -w net.ipv6.conf.br0.disable_ipv6=1 \
            net.ipv6.conf.a0.disable_ipv6=1 net.ipv6.conf.b0.disable_ipv6=1 &&
        ip -n "$p-wan" link set a0 up && ip -n "$p-wan" link set b0 up && ip -n "$p-wan" link set br0 up &&
        _sites_offloads_off "$p-wan" a0 && _sites_offloads_off "$p-wan" b0 &&
        _sites_host "$p-sa" "$SITES_A_HOST4" "$SITES_A_HOST6" 10.1.0.1 fd00:a::1 &&
        _sites_host "$p-sb" "$SITES_B_HOST4" "$SITES_B_HOST6" 10.2.0.1 fd00:b::1 &&
        _sites_gw_side "$p-gwa" lan0 && _sites_gw_side "$p-gwa" wan0 &&
        _sites_gw_side "$p-gwb" lan0 && _sites_gw_side "$p-gwb" wan0 || {
        _sites_err "building the testbed failed"
        sites_down "$p"
        return 1
    }
}

sites_down() {
    local p=$1 ns
    for ns in sa gwa wan gwb sb; do
        ip netns pids "$p-$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$p-$ns" 2>/dev/null || true
    done
    rm -rf "/var/run/dpdk/$p-gwa" "/var/run/dpdk/$p-gwb"  # gatewayd runtime dirs (--in-memory keeps no more)
}

# sites_gw_config P a|b OUTFILE [STAGE]: writes gateway A's or B's config
# (mode 0600). Keys are generated per run by sites_keys into SITES_KEY_*.
# STAGE walks a make-before-break rekey of the IPv4 tunnel (reload with SIGHUP):
#   0  the old SAs only (default)
#   1  + the new inbound SA beside the old one
#   2  outbound switched to the new SA; both inbound SAs still installed
#   3  the old SAs removed
#   none  no IPsec at all: plain routing between the sites (SAs come later, e.g. from gwctl)
sites_gw_config() {
    local p=$1 side=$2 out=$3 stage=${4:-0} me peer my_lan peer_lan my_lan6 peer_lan6 out_spi in_spi
    if [[ $side == a ]]; then
        me=1; peer=2; my_lan=10.1.0; peer_lan=10.2.0; my_lan6=fd00:a; peer_lan6=fd00:b
        out_spi=0x1001; in_spi=0x2001
    else
        me=2; peer=1; my_lan=10.2.0; peer_lan=10.1.0; my_lan6=fd00:b; peer_lan6=fd00:a
        out_spi=0x2001; in_spi=0x1001
    fi
    local key_out key_in key_out6 key_in6 key_outn key_inn
    if [[ $side == a ]]; then
        key_out=$SITES_KEY_AB; key_in=$SITES_KEY_BA; key_out6=$SITES_KEY_AB6; key_in6=$SITES_KEY_BA6
        key_outn=$SITES_KEY_ABN; key_inn=$SITES_KEY_BAN
    else
        key_out=$SITES_KEY_BA; key_in=$SITES_KEY_AB; key_out6=$SITES_KEY_BA6; key_in6=$SITES_KEY_AB6
        key_outn=$SITES_KEY_BAN; key_inn=$SITES_KEY_ABN
    fi
    local old4="" new4="" out4=out4 in4=in4 sel_in=in4 n=$stage
    [[ $stage == none ]] && n=0
    if ((n < 3)); then
        old4="ipsec sa out4 out spi $out_spi aes-gcm-128 key $key_out tunnel 192.0.2.$me 192.0.2.$peer esn
ipsec sa in4 in spi $in_spi aes-gcm-128 key $key_in tunnel 192.0.2.$me 192.0.2.$peer esn replay-window 1024"
    fi
    if ((n >= 1)); then
        new4="ipsec sa out4n out spi $((out_spi + 0x100)) aes-gcm-128 key $key_outn tunnel 192.0.2.$me 192.0.2.$peer esn
ipsec sa in4n in spi $((in_spi + 0x100)) aes-gcm-128 key $key_inn tunnel 192.0.2.$me 192.0.2.$peer esn"
    fi
    ((n >= 2)) && out4=out4n
    ((n >= 3)) && in4=in4n
    # The inbound policy accepts any SA of the same tunnel, so it can keep
    # naming the old SA while the new one takes over.
    sel_in="ipsec policy in priority 10 src $peer_lan.0/24 dst $my_lan.0/24 protect $in4"
    local ipsec="$old4
$new4
ipsec sa out6 out spi $((out_spi + 1)) aes-gcm-256 key $key_out6 tunnel 2001:db8:ffff::$me 2001:db8:ffff::$peer esn
ipsec sa in6 in spi $((in_spi + 1)) aes-gcm-256 key $key_in6 tunnel 2001:db8:ffff::$me 2001:db8:ffff::$peer esn
ipsec policy out priority 10 src $my_lan.0/24 dst $peer_lan.0/24 protect $out4
$sel_in
ipsec policy out priority 20 src $my_lan6::/64 dst $peer_lan6::/64 protect out6
ipsec policy in priority 20 src $peer_lan6::/64 dst $my_lan6::/64 protect in6"
    [[ $stage == none ]] && ipsec=""
    (
        umask 077
        cat >"$out" <<CONF
# gateway $side of the two-site testbed ($p)
eal main-lcore 0
eal file-prefix $p-gw$side
eal in-memory
dataplane idle-sleep-us ${SITES_IDLE_SLEEP_US:-20}
port lan dev net_af_packet0,iface=lan0
port lan address $my_lan.1/24
port lan address $my_lan6::1/64
port wan dev net_af_packet1,iface=wan0
port wan address 192.0.2.$me/24
port wan address 2001:db8:ffff::$me/64
worker 1
route $peer_lan.0/24 via 192.0.2.$peer
route $peer_lan6::/64 via 2001:db8:ffff::$peer
${SITES_EXTRA_CONFIG:-}
$ipsec
CONF
    )
}

# sites_keys: fresh random keys (key || salt) for this run.
sites_keys() {
    SITES_KEY_AB=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
    SITES_KEY_BA=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
    SITES_KEY_AB6=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
    SITES_KEY_BA6=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
    SITES_KEY_ABN=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
    SITES_KEY_BAN=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
}

# sites_gw_start P a|b BINARY CONFIG OUTDIR [extra gatewayd args]: starts
# gatewayd in P-gwa / P-gwb; logs in OUTDIR/gw<side>.{out,err}.
sites_gw_start() {
    local p=$1 side=$2 bin=$3 cfg=$4 dir=$5
    shift 5
    ip netns exec "$p-gw$side" "$bin" --config "$cfg" --stats-json "$dir/gw$side.json" "$@" \
        </dev/null >"$dir/gw$side.out" 2>"$dir/gw$side.err" &
    eval "SITES_PID_$side=$!"
}

# sites_gw_wait_ready a|b OUTDIR [TIMEOUT_S]: waits for gatewayd's "ready" line.
sites_gw_wait_ready() {
    local side=$1 dir=$2 limit=${3:-30} pid deadline
    pid=$(eval "echo \${SITES_PID_$side:-}")
    deadline=$((SECONDS + limit))
    while ((SECONDS < deadline)); do
        grep -q 'gatewayd\[info\]: ready' "$dir/gw$side.err" 2>/dev/null && return 0
        if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
            _sites_err "gateway $side exited before it was ready:"
            tail -n 20 "$dir/gw$side.err" >&2
            return 1
        fi
        sleep 0.2
    done
    _sites_err "gateway $side not ready after ${limit}s"
    tail -n 20 "$dir/gw$side.err" >&2
    return 1
}

# sites_gw_stop a|b: SIGTERM, bounded wait, SIGKILL; sets SITES_RC_<side>.
sites_gw_stop() {
    local side=$1 pid rc=0 i
    pid=$(eval "echo \${SITES_PID_$side:-}")
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    eval "SITES_RC_$side=$rc"
    eval "SITES_PID_$side="
}
