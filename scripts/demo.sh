#!/usr/bin/env bash
# The one-command demo on a fresh Debian 12 machine: installs dependencies, prepares
# the host, builds, starts gatewayd between a LAN and a WAN network namespace
# (gwdemo-lan, gwdemo-gw, gwdemo-wan) and shows it routing: pings (v4, v6, the gateway
# itself), a 5 s iperf3 TCP run, ICMP time exceeded, then the final counters. Then
# the product itself: two gateways joining two sites with an IPsec ESP tunnel
# (AES-GCM), pings and iperf3 across it, and a capture of the WAN showing only ESP.
# Ends with a PASS/FAIL summary. Cleans up everything it started, also on failure or Ctrl-C.
#
# usage: sudo scripts/demo.sh [--xdp] [--no-ipsec] [--skip-deps] [--no-build] [--log-level LEVEL] [--hugepages N]
#   --xdp         AF_XDP ports (copy mode, the only mode veth has) instead of AF_PACKET
#   --no-ipsec    skip the two-site IPsec part
#   --skip-deps   do not run scripts/install-deps.sh
#   --no-build    do not build; use build/gateway/gatewayd (or $GATEWAYD) as it is
#   --log-level   gatewayd log level: error|warn|info|debug (default info)
#   --hugepages   2 MiB hugepages setup-host.sh ensures (default 512)
# Exit status 0 only if every step passed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=gwdemo
file_prefix=gwdemo
ports=packet
skip_deps=0
do_build=1
log_level=info
hugepages=512
ipsec=1

usage() {
    sed -n '8,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

while (($#)); do
    case $1 in
        --xdp) ports=xdp; shift ;;
        --no-ipsec) ipsec=0; shift ;;
        --skip-deps) skip_deps=1; shift ;;
        --no-build) do_build=0; shift ;;
        --log-level)
            [[ $# -ge 2 ]] || usage
            log_level=$2
            shift 2
            ;;
        --hugepages)
            [[ $# -ge 2 ]] || usage
            hugepages=$2
            shift 2
            ;;
        -h | --help) usage 0 ;;
        *) echo "demo: unknown argument: $1" >&2; usage ;;
    esac
done
case $log_level in
    error | warn | info | debug) ;;
    *) echo "demo: --log-level must be error, warn, info or debug" >&2; exit 2 ;;
esac

if [[ $(id -u) -ne 0 ]]; then
    echo "demo: must run as root (packages, hugepages, network namespaces); try: sudo $0" >&2
    exit 1
fi

cd "$repo"
# shellcheck source-path=SCRIPTDIR source=lib/netns.sh
source "$repo/scripts/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=lib/sites.sh
source "$repo/scripts/lib/sites.sh"
sites_prefix=gwsite
sites_made=0

gatewayd=${GATEWAYD:-$repo/build/gateway/gatewayd}
workdir=$(mktemp -d /tmp/gwdemo.XXXXXX) # mode 0700
cfg="$workdir/gatewayd.conf"
out="$workdir/gatewayd.stdout"
err="$workdir/gatewayd.stderr"
stats="$workdir/stats.json"

step_names=()
step_results=()
iperf_mbps=""
testbed_made=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $GW_PID ]]; then
        gw_stop 10 >/dev/null 2>&1 || true
    fi
    if ((testbed_made)); then
        testbed_down "$prefix"
    fi
    sites_gw_stop a >/dev/null 2>&1 || true
    sites_gw_stop b >/dev/null 2>&1 || true
    if ((sites_made)); then
        sites_down "$sites_prefix"
    fi
    gw_cleanup_hugepages "$file_prefix"
    rm -rf "$workdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: terminated" >&2; exit 143' TERM

banner() { printf '\n==> %s\n' "$*"; }
record() {
    step_names+=("$1")
    step_results+=("$2")
    printf -- '--- %s: %s\n' "$2" "$1"
}
# step NAME CMD...: runs CMD with its output shown, records PASS or FAIL.
step() {
    local name=$1
    shift
    banner "$name"
    if "$@"; then
        record "$name" PASS
    else
        record "$name" FAIL
        return 1
    fi
}

summary() {
    local i failed=0
    printf '\n==================== gwdemo summary (%s ports) ====================\n' "$ports"
    for i in "${!step_names[@]}"; do
        printf '  %-4s  %s\n' "${step_results[$i]}" "${step_names[$i]}"
        [[ ${step_results[$i]} == PASS ]] || failed=$((failed + 1))
    done
    if [[ -n $iperf_mbps ]]; then
        printf '  iperf3 TCP lan -> wan throughput: %s Mbit/s\n' "$iperf_mbps"
    fi
    if [[ -n ${ipsec_mbps:-} ]]; then
        printf '  iperf3 TCP site A -> site B through the ESP tunnel: %s Mbit/s\n' "$ipsec_mbps"
    fi
    if ((failed == 0)); then
        printf '  RESULT: PASS (%d steps)\n' "${#step_names[@]}"
    else
        printf '  RESULT: FAIL (%d of %d steps failed)\n' "$failed" "${#step_names[@]}"
    fi
    return "$failed"
}

# abort_rest REASON: a prerequisite failed; the remaining traffic steps cannot run.
abort_rest() {
    echo "demo: $1; skipping the remaining steps" >&2
    summary || true
    exit 1
}

# --- preparation ---------------------------------------------------------------------
# (runs as an `if` condition, where set -e is off: every command checks itself)
build() {
    if [[ ! -f build/build.ninja ]]; then
        meson setup build || return 1
    fi
    ninja -C build || return 1
    [[ -x $gatewayd ]] || { echo "demo: build did not produce $gatewayd" >&2; return 1; }
}

if ((skip_deps == 0)); then
    step "install dependencies (scripts/install-deps.sh)" "$repo/scripts/install-deps.sh" ||
        abort_rest "dependency installation failed"
fi
step "prepare host (scripts/setup-host.sh)" "$repo/scripts/setup-host.sh" --hugepages "$hugepages" ||
    abort_rest "host preparation failed"
if ((do_build)); then
    step "build (meson + ninja)" build || abort_rest "build failed"
elif [[ ! -x $gatewayd ]]; then
    record "gatewayd binary present" FAIL
    abort_rest "$gatewayd missing (drop --no-build)"
fi

banner "testbed $prefix-{lan,gw,wan}"
testbed_down "$prefix" # a stale testbed from an interrupted run
testbed_made=1
if testbed_up "$prefix"; then
    record "testbed up" PASS
else
    record "testbed up" FAIL
    abort_rest "could not build the testbed"
fi

banner "start gatewayd ($ports ports)"
(umask 077 && testbed_gw_config "$file_prefix" "$ports" >"$cfg") # mode 0600
sed 's/^/    /' "$cfg"
gw_start "$prefix" "$out" "$err" "$gatewayd" --config "$cfg" --log-level "$log_level" --stats-json "$stats"
if gw_wait_ready "$err" 30; then
    record "gatewayd ready" PASS
else
    record "gatewayd ready" FAIL
    abort_rest "gatewayd did not come up"
fi

# --- traffic -------------------------------------------------------------------------
lan() { testbed_exec "$prefix" lan "$@"; }

step "ping IPv4 lan -> wan ($TB_WAN_HOST4)" lan timeout 20 ping -c 5 -i 0.2 -W 2 "$TB_WAN_HOST4" || true
step "ping IPv6 lan -> wan ($TB_WAN_HOST6)" lan timeout 20 ping -6 -c 5 -i 0.2 -W 2 "$TB_WAN_HOST6" || true
step "ping the gateway ($TB_LAN_GW4)" lan timeout 20 ping -c 5 -i 0.2 -W 2 "$TB_LAN_GW4" || true

iperf_step() {
    local mbps
    mbps=$(testbed_iperf "$prefix" 5) || return 1
    iperf_mbps=$mbps
    echo "iperf3: $mbps Mbit/s received"
}
step "iperf3 TCP lan -> wan, 5 s" iperf_step || true

ttl_step() {
    local text
    text=$(lan timeout 10 ping -c 1 -t 1 -W 2 "$TB_WAN_HOST4" 2>&1 || true)
    echo "$text"
    grep -q "From $TB_LAN_GW4 .*Time to live exceeded" <<<"$text"
}
step "ping -t 1 $TB_WAN_HOST4: time exceeded from $TB_LAN_GW4" ttl_step || true

# --- the operator's view: gwctl on the control socket ----------------------------------
gwctl="$(dirname "$gatewayd")/gwctl"
ctl() { "$gwctl" -s "/run/gatewayd/$file_prefix.sock" "$@"; }
step "gwctl show interface" ctl show interface || true
step "gwctl show runtime (load, cycles per packet per stage)" ctl show runtime || true
step "gwctl show latency (residence time percentiles)" ctl show latency || true
route_step() { # a route added and removed at run time: traffic to it is dropped and counted
    local before after
    before=$(ctl --json show errors | jq '[.errors[] | select(.reason == "blackhole") | .packets] | add')
    ctl ip route add 10.0.2.0/28 blackhole &&
        { lan timeout 5 ping -c 3 -i 0.2 -W 1 "$TB_WAN_HOST4" || true; } &&
        ctl ip route del 10.0.2.0/28 &&
        lan timeout 10 ping -c 2 -i 0.2 -W 2 "$TB_WAN_HOST4" >/dev/null &&
        after=$(ctl --json show errors | jq '[.errors[] | select(.reason == "blackhole") | .packets] | add') &&
        echo "blackhole drops: $before -> $after" && ((after >= before + 3))
}
step "gwctl ip route add/del at run time (blackhole drops counted, then forwarding again)" route_step || true

# --- shutdown ------------------------------------------------------------------------
banner "stop gatewayd"
if gw_stop 15 && [[ $GW_RC == 0 ]]; then
    record "gatewayd clean shutdown" PASS
else
    record "gatewayd clean shutdown (exit status $GW_RC)" FAIL
fi
banner "gatewayd final counters"
cat "$out" 2>/dev/null || true
if [[ -s $stats ]] && command -v jq >/dev/null 2>&1; then
    printf 'stats-json: drops %s, mbufs_leaked %s\n' "$(jq -c '.drops // {}' "$stats")" "$(jq -r '.mbufs_leaked // "?"' "$stats")"
fi

# --- part 2: two sites joined by an IPsec tunnel ---------------------------------------
if ((ipsec)); then
    banner "two-site IPsec testbed $sites_prefix-{sa,gwa,wan,gwb,sb}"
    sites_down "$sites_prefix"
    sites_made=1
    if sites_up "$sites_prefix"; then
        record "two-site testbed up" PASS
        sites_keys
        sites_gw_config "$sites_prefix" a "$workdir/site-a.conf"
        sites_gw_config "$sites_prefix" b "$workdir/site-b.conf"
        echo "gateway A config (keys masked):"
        sed -E 's/(key )[0-9a-f]{8}[0-9a-f]*/\1********/; s/^/    /' "$workdir/site-a.conf"
        sites_gw_start "$sites_prefix" a "$gatewayd" "$workdir/site-a.conf" "$workdir" --log-level "$log_level"
        sites_gw_start "$sites_prefix" b "$gatewayd" "$workdir/site-b.conf" "$workdir" --log-level "$log_level"
        if sites_gw_wait_ready a "$workdir" 30 && sites_gw_wait_ready b "$workdir" 30; then
            record "gateways A and B ready" PASS
            site_a() { ip netns exec "$sites_prefix-sa" "$@"; }
            ip netns exec "$sites_prefix-wan" timeout 30 tcpdump -i br0 -n -U -c 2000 -w "$workdir/wan.pcap" \
                2>/dev/null &
            capture=$!
            sleep 0.5
            step "ping site A -> site B, IPv4 through the tunnel" site_a timeout 20 ping -c 5 -i 0.2 -W 2 "$SITES_B_HOST4" || true
            step "ping site A -> site B, IPv6 through the tunnel" site_a timeout 20 ping -6 -c 5 -i 0.2 -W 2 "$SITES_B_HOST6" || true
            ipsec_iperf() {
                ip netns exec "$sites_prefix-sb" timeout 30 iperf3 -s -1 >/dev/null 2>&1 &
                local server=$!
                sleep 0.5
                local json
                json=$(site_a timeout 25 iperf3 -c "$SITES_B_HOST4" -t 5 -J) || { wait "$server" 2>/dev/null; return 1; }
                wait "$server" 2>/dev/null || true
                ipsec_mbps=$(/usr/bin/python3 -c 'import json,sys; print("%.0f" % (json.loads(sys.stdin.read())["end"]["sum_received"]["bits_per_second"]/1e6))' <<<"$json")
                echo "iperf3 through the tunnel: $ipsec_mbps Mbit/s received"
            }
            step "iperf3 TCP site A -> site B, 5 s" ipsec_iperf || true
            kill "$capture" 2>/dev/null || true
            wait "$capture" 2>/dev/null || true
            wan_step() {
                echo "first packets seen on the WAN bridge:"
                tcpdump -n -r "$workdir/wan.pcap" 2>/dev/null | head -n 6 | sed 's/^/    /'
                local clear
                clear=$(tcpdump -n -r "$workdir/wan.pcap" '(ip and not ip proto 50 and not ip multicast) or (ip6 and not ip6 proto 50 and not icmp6)' 2>/dev/null | wc -l)
                echo "non-ESP IP packets on the WAN: $clear"
                ((clear == 0))
            }
            step "the WAN carried only ESP" wan_step || true
            step "gwctl show ipsec sa on gateway A" "$(dirname "$gatewayd")/gwctl" \
                -s "/run/gatewayd/$sites_prefix-gwa.sock" show ipsec sa || true
        else
            record "gateways A and B ready" FAIL
        fi
        banner "stop gateways A and B"
        sites_gw_stop a
        sites_gw_stop b
        if [[ ${SITES_RC_a:-x} == 0 && ${SITES_RC_b:-x} == 0 ]]; then
            record "gateways A and B clean shutdown" PASS
        else
            record "gateways A and B clean shutdown (exit ${SITES_RC_a:-?}/${SITES_RC_b:-?})" FAIL
        fi
        echo "gateway A final counters:"
        sed 's/^/    /' "$workdir/gwa.out" 2>/dev/null || true
        sites_down "$sites_prefix"
        sites_made=0
    else
        record "two-site testbed up" FAIL
    fi
fi

summary || exit 1
