#!/usr/bin/env bash
# Smoke run of the validation suite: scripts/validate.sh --quick on the forward and encrypt
# scenarios (two gatewayd over memif between gwgen's ports, the testpmd I/O ceiling, the
# crypto and LZ4 ceilings), then checks the report: its sections, the JSON's figures, no
# loss, duplicate or reordering at 10% of the found throughput, no leaked mbuf, clean
# gateway exits, the gateways' own counters, plots, and that nothing was left behind
# (processes, DPDK runtime directories, control sockets).
#
# Takes /tmp/gw-bench.lock (as every traffic run on a shared host must), waiting at most
# 60 s for a running benchmark.
#
# usage: validate_smoke.sh VALIDATE_SH   (VAL_BUILD: the build directory)
# Exit 77 (skipped) without root, dpdk-testpmd or jq, or when the lock stays held.
set -euo pipefail

validate=$1
[[ $(id -u) -eq 0 ]] || { echo "skip: needs root (DPDK, /run/gatewayd)"; exit 77; }
for tool in dpdk-testpmd jq; do
    command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done

work=$(mktemp -d /tmp/validate-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$work/report.md
json=$work/report.json

# What a validate.sh run could leave: processes, DPDK runtime directories, control sockets,
# its work directory.
leftovers() {
    {
        pgrep -f 'gwval-[0-9]' || true
        compgen -G '/var/run/dpdk/gwval-*' || true
        compgen -G '/run/gatewayd/gwval-*' || true
        compgen -G '/tmp/gwval-*' || true
    } | sort
}
leftovers >"$work/before"

exec 9>/tmp/gw-bench.lock
flock -w 60 9 || { echo "skip: /tmp/gw-bench.lock held by a benchmark for over 60 s"; exit 77; }
rc=0
# --keep-work: the raw results (gwgen's and the gateways' logs) are shown when a check
# fails, then removed.
timeout 150 "$validate" --quick --scenarios forward,encrypt --out "$out" --keep-work 9>&- \
    2> >(tee "$work/validate.err" >&2) || rc=$?
flock -u 9
echo "validate.sh exit code $rc"
kept=$(sed -n 's/^validate: raw results kept in //p' "$work/validate.err" 2>/dev/null || true)
# What the run wrote, for a failed check: what else used the CPUs in each phase, the tail
# of every log and each search's trials.
show_raw() {
    echo "--- other processes' CPU use per phase (CPUs) ---"
    jq -r '.host_activity // {} | to_entries[]
        | "\(.key): mean \(.value.foreign_cpu_mean) max \(.value.foreign_cpu_max) top \(.value.top[0:3])"' \
        "$json" 2>/dev/null || true
    [[ -n $kept && -d $kept ]] || return 0
    local f
    echo "--- raw results ($kept) ---"
    while IFS= read -r f; do
        echo "== ${f#"$kept"/}"
        tail -n 12 "$f"
    done < <(find "$kept" -name '*.log' | sort)
    while IFS= read -r f; do
        echo "== ${f#"$kept"/}"
        jq -c '.rfc2544.verdicts // empty | .[] | {load, offered_pps, frame_loss_ratio, generator_limited, pass}' "$f" 2>/dev/null || true
    done < <(find "$kept" -name 'search.json' | sort)
}
remove_kept() {
    if [[ -n $kept && -d $kept ]]; then rm -rf "$kept"; fi
}
trap 'remove_kept; rm -rf "$work"' EXIT

failures=0
ok() { echo "ok: $1"; }
fail() {
    echo "FAIL: $1"
    failures=$((failures + 1))
}
check() { # description, jq filter that must yield true
    if [[ $(jq -r "$2" "$json" 2>/dev/null) == true ]]; then ok "$1"; else fail "$1 ($2)"; fi
}

# 0: every check passed; 1: the report names a failed check (loss at 90% can happen on a
# loaded host); anything else is a broken run.
if ((rc == 0 || rc == 1)); then ok "validate.sh exited $rc"; else fail "validate.sh exited $rc"; fi
if [[ -s $out && -s $json ]]; then ok "report and JSON written"; else
    fail "report or JSON missing"
    exit 1
fi
for section in "## Summary" "## Topology" "## Ceilings" "### I/O: testpmd io-forward" "### Crypto: raw ipsec-mb" \
    "### LZ4: raw compression" "## Scenario: forward" "### forward, imix" "## Scenario: encrypt" \
    "### encrypt, imix" "## How to read it"; do
    if grep -qF -- "$section" "$out"; then ok "section '$section'"; else fail "section '$section' missing"; fi
done
if grep -qF -- "- FAIL: forward/imix at 10%" "$out" || grep -qF -- "- FAIL: encrypt/imix at 10%" "$out"; then
    fail "the report lists loss at 10% load"
fi

check "both scenarios in the summary" '[.summary[].scenario] | sort == ["encrypt", "forward"]'
check "throughput found, as a ratio to a ceiling" \
    '[.summary[] | .throughput_pps > 0 and .ceiling_pps > 0 and .ratio_to_ceiling > 0] | all'
check "I/O ceiling found by the testpmd chain" '.ceilings.io.imix.rfc2544.found == true'
check "crypto ceiling for 64, 576 and 1400 B, both directions" \
    '(.ceilings.crypto.encrypt_pps | keys | length) == 3 and (.ceilings.crypto.decrypt_pps | keys | length) == 3'
check "encrypt is divided by min(I/O, crypto)" \
    '[.summary[] | select(.scenario == "encrypt") | .ceiling_pps == ([.io_ceiling_pps, .crypto_ceiling_pps] | min)] | all'
if [[ -n $(jq -r '.ceilings.lz4 | keys[]' "$json") ]]; then
    check "LZ4 ceiling compresses text, not random payloads" \
        '.ceilings.lz4.text.sizes["1400"].ratio < 0.9 and .ceilings.lz4.random.sizes["1400"].ratio >= 0.99'
fi
check "no loss, duplicate or reordering at 10% of the throughput" \
    '[.scenarios[] | .loads[0] | .load_pct == 10 and .gwgen.frame_loss == 0 and .gwgen.duplicates == 0
      and .gwgen.reordered == 0 and .gwgen.received_unique > 0] | length == 2 and all'
check "three load runs per scenario" '[.scenarios[] | .loads | length == 3] | all'
check "no leaked mbuf and a clean exit for every gateway (search and load-run pairs)" \
    '[.scenarios[] | (.exit, .rounds[].exit) | .[] | .mbufs_leaked == 0 and .exit_code == "0"] | length >= 8 and all'
check "host activity recorded for every search and load run" \
    '[.host_activity | to_entries[] | select(.key | test("round|load")) | .value.samples > 0] | length >= 9 and all'
check "each gateway's counters: packets, residence latency, stage cycles" \
    '[.scenarios[] | .loads[0].gateways[] | .rx_packets > 0 and .residence_ns.count > 0
      and .residence_ns.p50_ns > 0 and (.stages.forward.cycles_per_packet > 0)] | length == 4 and all'
check "encrypt ran ESP in both gateways" \
    '[.scenarios[] | select(.scenario == "encrypt") | .loads[0].gateways | .a.stages["esp-encrypt"].packets > 0
      and .b.stages["esp-decrypt"].packets > 0] | all'
check "every figure has its command" \
    '([.scenarios[] | .search_command != null and ([.loads[].command != null] | all)] | all)
     and .ceilings.crypto.commands.enc != null and .ceilings.io.imix.command_gwgen != null'
if command -v gnuplot >/dev/null; then
    n=$(find "$work/report" -name '*.png' 2>/dev/null | wc -l || true)
    if ((n >= 6)); then ok "$n plots"; else fail "expected 6 plots, found $n"; fi
    if grep -q '!\[forward-imix-load90-cdf.png\](report/forward-imix-load90-cdf.png)' "$out"; then
        ok "plots referenced from the report"
    else
        fail "plots not referenced from the report"
    fi
fi

# Nothing left behind (compared with what existed before), once the kept raw results are
# shown and removed.
if ((failures)); then show_raw; fi
remove_kept
left=$(comm -13 "$work/before" <(leftovers))
if [[ -z $left ]]; then ok "no process, runtime directory, socket or work directory left"; else
    fail "left behind: $left"
fi

if ((failures)); then
    echo "--- report ---"
    sed -n '/^## Summary/,/^## Topology/p' "$out"
    echo "validate_smoke: $failures checks failed"
    exit 1
fi
echo "validate_smoke: all checks passed"
