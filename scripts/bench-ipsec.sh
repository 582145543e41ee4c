#!/usr/bin/env bash
# IPsec benchmark: ESP tunnel encrypt and decrypt (AES-128-GCM) with one worker
# core over net_memif, as ratios to the two ceilings measured in the same run:
#   - I/O: dpdk-testpmd io-forward on the same memif link (scripts/lib/bench.sh);
#   - crypto: raw ipsec-mb AES-GCM on one core over the same bytes
#     (build/pktgen/gw-crypto-ceiling, pinned to the DUT's CPU).
#
#   encrypt: testpmd txonly (UDP, frame size S) --memif--> gatewayd (protect) --> net_null
#   decrypt: testpmd replaying a pcap of ESP packets (made by Scapy for the SA,
#            inner frame size S) --memif--> gatewayd (decrypt, inbound policy) --> net_null
#
# The decrypt SA runs with replay-window 0: the pcap replays the same sequence
# numbers endlessly. IMIX (7:4:1 of 64/576/1500 B by packet count) is computed
# from the three sizes' rates: pps = 12 / (7/r64 + 4/r576 + 1/r1500).
# Cycles per packet at saturation = TSC Hz / pps; the crypto stage's cycles
# come from the ceiling tool, forwarding's from a plain-forward run of the same
# size, and the rest (ESP framing, policy, SA lookup, replay) is the remainder.
#
# Every DUT figure is the median of --rounds runs, the kinds interleaved per
# round so that background load on a shared host hits them alike.
#
# usage: scripts/bench-ipsec.sh [--duration S] [--rounds N] [--sizes "64 576 1400 1500"] [--out FILE]
# Needs root, a build (ninja -C build), python3-scapy. Not part of the test suite.
set -euo pipefail

duration=8
rounds=3
sizes="64 576 1400 1500"
out=""
while (($#)); do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "bench-ipsec: unknown argument $1" >&2; exit 2 ;;
    esac
done

BENCH_NAME=gwbench-esp
# shellcheck source=lib/bench.sh
source "$(dirname "$0")/lib/bench.sh"
bench_init
ceiling_tool=$BENCH_ROOT/build/pktgen/gw-crypto-ceiling
[[ -x $ceiling_tool ]] || { echo "bench-ipsec: build gw-crypto-ceiling first (ninja -C build)" >&2; exit 1; }

key=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')

write_config() { # mode(forward|encrypt|decrypt) file
    {
        bench_gw_config
        case $1 in
            encrypt)
                echo "ipsec sa bench out spi 0x1001 aes-gcm-128 key $key tunnel 198.18.0.254 198.18.0.2"
                echo "ipsec policy out priority 1 src 198.18.0.0/24 dst 198.18.0.0/24 protect bench"
                ;;
            decrypt)
                echo "ipsec sa bench in spi 0x2001 aes-gcm-128 key $key tunnel 10.10.0.1 10.10.0.2 replay-window 0"
                echo "ipsec policy in priority 1 src 198.18.0.0/24 dst 198.18.0.0/24 protect bench"
                ;;
        esac
    } >"$2"
    chmod 600 "$2"
}

make_esp_pcap() { # frame_size file
    /usr/bin/python3 - "$1" "$2" "$key" "$BENCH_GW_MAC" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.layers.ipsec import SecurityAssociation, ESP
size, path, key, mac = int(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4]
sa = SecurityAssociation(ESP, spi=0x2001, crypt_algo='AES-GCM', crypt_key=key,
                         tunnel_header=IP(src='10.10.0.2', dst='10.10.0.1'))
payload = max(0, size - 14 - 20 - 8)
pkts = []
for seq in range(1, 1025):
    inner = IP(src='198.18.0.1', dst='198.18.0.2', ttl=64) / UDP(sport=1024, dport=1024) / Raw(b'\x00' * payload)
    pkts.append(Ether(dst=mac, src='02:00:00:00:03:03') / sa.encrypt(inner, seq_num=seq))
wrpcap(path, pkts)
PY
}

run_dut() { # kind(io|forward|encrypt|decrypt) size -> pps
    local kind=$1 size=$2
    if [[ $kind == io ]]; then
        bench_start_testpmd_io
    else
        write_config "$kind" "$BENCH_WORK/gw.conf"
        bench_start_gatewayd "$BENCH_WORK/gw.conf"
    fi
    if [[ $kind == decrypt ]]; then
        bench_measure pcap "$BENCH_WORK/esp-$size.pcap" "$duration"
    else
        bench_measure txonly "$size" "$duration"
    fi
}

declare -A io fwd enc dec cenc cdec ccyc drops leaked
rounds_log=""
tsc_hz=0
for size in $sizes; do
    make_esp_pcap "$size" "$BENCH_WORK/esp-$size.pcap"
    read -r mpps cyc < <(taskset -c 1 "$ceiling_tool" --seconds 2 "$size" | awk '/^size/ { print $6, $10 }')
    cenc[$size]=$(awk -v m="$mpps" 'BEGIN { printf "%.0f", m * 1e6 }')
    ccyc[$size]=$cyc
    tsc_hz=$(awk -v m="$mpps" -v c="$cyc" 'BEGIN { printf "%.0f", m * 1e6 * c }')
    read -r mpps _ < <(taskset -c 1 "$ceiling_tool" --seconds 2 --decrypt "$size" | awk '/^size/ { print $6, $10 }')
    cdec[$size]=$(awk -v m="$mpps" 'BEGIN { printf "%.0f", m * 1e6 }')
    l_io=""; l_fwd=""; l_enc=""; l_dec=""; d_enc=0; d_dec=0; k_enc=0; k_dec=0
    for ((r = 1; r <= rounds; r++)); do
        l_io+="$(run_dut io "$size") "
        l_fwd+="$(run_dut forward "$size") "
        l_enc+="$(run_dut encrypt "$size") "
        d_enc=$((d_enc + $(bench_gw_drops))); k_enc=$((k_enc + $(bench_gw_leaked)))
        l_dec+="$(run_dut decrypt "$size") "
        d_dec=$((d_dec + $(bench_gw_drops))); k_dec=$((k_dec + $(bench_gw_leaked)))
    done
    io[$size]=$(echo "$l_io" | bench_median)
    fwd[$size]=$(echo "$l_fwd" | bench_median)
    enc[$size]=$(echo "$l_enc" | bench_median)
    dec[$size]=$(echo "$l_dec" | bench_median)
    drops[$size]="$d_enc/$d_dec"; leaked[$size]="$k_enc/$k_dec"
    rounds_log+="- $size B: io [$l_io] forward [$l_fwd] encrypt [$l_enc] decrypt [$l_dec] pps"$'\n'
done

imix() { # assoc-array-name -> pps
    local -n a=$1
    awk -v r64="${a[64]:-0}" -v r576="${a[576]:-0}" -v r1500="${a[1500]:-0}" \
        'BEGIN { if (r64 > 0 && r576 > 0 && r1500 > 0) printf "%.0f", 12 / (7 / r64 + 4 / r576 + 1 / r1500); else print 0 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
cyc() { awk -v h="$tsc_hz" -v p="$1" 'BEGIN { if (p > 0) printf "%.0f", h / p; else print "n/a" }'; }

report=""
line() { report+="$1"$'\n'; echo "$1"; }
line "# IPsec benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
line "command: scripts/bench-ipsec.sh --duration $duration --rounds $rounds --sizes \"$sizes\"; AES-128-GCM, one worker core, TSC $(awk -v h="$tsc_hz" 'BEGIN { printf "%.2f", h / 1e9 }') GHz"
line ""
line "| frame | I/O ceiling | crypto ceiling enc/dec | forward | encrypt | enc ratio | decrypt | dec ratio | drops enc/dec | leaked enc/dec |"
line "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $sizes; do
    le=$(min "${io[$size]}" "${cenc[$size]}"); ld=$(min "${io[$size]}" "${cdec[$size]}")
    line "| $size B | $(bench_mpps "${io[$size]}") | $(bench_mpps "${cenc[$size]}") / $(bench_mpps "${cdec[$size]}") | $(bench_mpps "${fwd[$size]}") | $(bench_mpps "${enc[$size]}") | $(ratio "${enc[$size]}" "$le") | $(bench_mpps "${dec[$size]}") | $(ratio "${dec[$size]}" "$ld") | ${drops[$size]} | ${leaked[$size]} |"
done
if [[ -n ${io[64]:-} && -n ${io[576]:-} && -n ${io[1500]:-} ]]; then
    i_io=$(imix io); i_ce=$(imix cenc); i_cd=$(imix cdec); i_f=$(imix fwd); i_e=$(imix enc); i_d=$(imix dec)
    line "| IMIX 7:4:1 | $(bench_mpps "$i_io") | $(bench_mpps "$i_ce") / $(bench_mpps "$i_cd") | $(bench_mpps "$i_f") | $(bench_mpps "$i_e") | $(ratio "$i_e" "$(min "$i_io" "$i_ce")") | $(bench_mpps "$i_d") | $(ratio "$i_d" "$(min "$i_io" "$i_cd")") | | |"
fi
line ""
line "Mpps; ratios are to min(I/O ceiling, crypto ceiling) of the same direction."
line ""
line "Cycles per packet at saturation (TSC Hz / pps):"
line ""
line "| frame | forward (I/O + routing) | AES-GCM (ceiling tool) | encrypt total | ESP framing + policy (rest) | decrypt total | rest |"
line "|---:|---:|---:|---:|---:|---:|---:|"
for size in $sizes; do
    f=$(cyc "${fwd[$size]}"); e=$(cyc "${enc[$size]}"); d=$(cyc "${dec[$size]}"); c=${ccyc[$size]}
    line "| $size B | $f | $c | $e | $(awk -v e="$e" -v f="$f" -v c="$c" 'BEGIN { printf "%.0f", e - f - c }') | $d | $(awk -v e="$d" -v f="$f" -v c="$c" 'BEGIN { printf "%.0f", e - f - c }') |"
done
line ""
line "Every round (median above):"
line "${rounds_log%$'\n'}"
if [[ -n $out ]]; then printf '%s' "$report" >"$out"; fi
