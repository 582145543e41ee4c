#!/usr/bin/env bash
# Plots a gwgen result (its --json file) with gnuplot (Debian's gnuplot-nox) and jq:
#
#   PREFIX-throughput.EXT  tx and rx packet rates over time (all streams, and rx per stream)
#   PREFIX-latency.EXT     latency p50/p90/p99/p99.9/max per interval, all streams (log scale)
#   PREFIX-cdf.EXT         latency CDF per stream and overall (log latency axis)
#   PREFIX-rfc2544.EXT     RFC 2544 runs only: latency percentiles at each latency load
#
# A plain run plots .run; an RFC 2544 result plots its latency trial at the highest load
# (or the last search trial when there is none).
#
# usage: pktgen/plot-gwgen.sh [-f png|svg] [-o PREFIX] RESULT.json
#   -f  output format (default png)
#   -o  output prefix (default: RESULT without .json)
# Prints the files it wrote, one per line.
set -euo pipefail

format=png
prefix=""
while getopts "f:o:h" opt; do
    case $opt in
        f) format=$OPTARG ;;
        o) prefix=$OPTARG ;;
        *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if (($# != 1)); then
    echo "usage: plot-gwgen.sh [-f png|svg] [-o PREFIX] RESULT.json" >&2
    exit 2
fi
json=$1
[[ -r $json ]] || { echo "plot-gwgen: cannot read '$json'" >&2; exit 1; }
case $format in
    png) terminal="pngcairo size 1100,650 font 'sans,10'" ;;
    svg) terminal="svg size 1100,650 dynamic font 'sans,10'" ;;
    *) echo "plot-gwgen: format '$format' is not png or svg" >&2; exit 2 ;;
esac
for tool in gnuplot jq; do
    command -v "$tool" >/dev/null || { echo "plot-gwgen: $tool not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -n $prefix ]] || prefix=${json%.json}

work=$(mktemp -d /tmp/plot-gwgen.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The run to plot, as a jq path.
mode=$(jq -r '.mode' "$json")
if [[ $mode == rfc2544 ]]; then
    if (($(jq '.rfc2544.latency_trials | length' "$json") > 0)); then
        run='(.rfc2544.latency_trials | max_by(.load))'
    else
        run='.rfc2544.trials[-1]'
    fi
else
    run='.run'
fi
label=$(jq -r "$run.label" "$json")
streams=$(jq "$run.streams | length" "$json")
names=$(jq -r "[$run.streams[].name] | join(\" \")" "$json")

jq -r "$run.series[] | [.t_s, .total.tx_pps, .total.rx_pps] + [.streams[].rx_pps] | @tsv" "$json" >"$work/rate.dat"
jq -r "$run.series[] | select(.total.latency_ns.count > 0)
       | [.t_s] + ([.total.latency_ns | .p50, .p90, .p99, .p99_9, .max] | map(. / 1000)) | @tsv" \
    "$json" >"$work/latency.dat"
for ((i = 0; i < streams; i++)); do
    jq -r "$run.streams[$i].latency_cdf[] | [(.[1] | if . < 1 then 1 else . end) / 1000, .[0] / 100] | @tsv" \
        "$json" >"$work/cdf_$i.dat"
done
jq -r "$run.total.latency_cdf[] | [(.[1] | if . < 1 then 1 else . end) / 1000, .[0] / 100] | @tsv" \
    "$json" >"$work/cdf_total.dat"

outputs=("$prefix-throughput.$format" "$prefix-latency.$format" "$prefix-cdf.$format")
gnuplot <<GNUPLOT
set terminal $terminal
set grid
set key outside right top
set datafile separator "\t"
names = "$names"

set output "${outputs[0]}"
set title "gwgen: packet rate ($label)" noenhanced
set xlabel "time (s)"
set xrange [0:*]
set ylabel "packets per second"
set format y "%.3s%c"
set yrange [0:*]
plot "$work/rate.dat" using 1:2 with linespoints lw 2 title "tx (all)", \
     "$work/rate.dat" using 1:3 with linespoints lw 2 title "rx (all)", \
     for [i=1:$streams] "$work/rate.dat" using 1:(column(3 + i)) with lines dt 2 title sprintf("rx %s", word(names, i)) noenhanced

set output "${outputs[1]}"
set title "gwgen: latency per interval, all streams ($label)" noenhanced
set ylabel "latency (us)"
set format y "%g"
set logscale y
set yrange [*:*]
if (system("wc -l < '$work/latency.dat'") + 0 > 0) {
    plot "$work/latency.dat" using 1:2 with linespoints title "p50", \
         "" using 1:3 with linespoints title "p90", \
         "" using 1:4 with linespoints title "p99", \
         "" using 1:5 with linespoints title "p99.9", \
         "" using 1:6 with linespoints title "max"
} else {
    set label 1 "no latency samples" at graph 0.4, 0.5
    unset logscale y
    plot [0:1] [0:1] NaN notitle
    unset label 1
}

set output "${outputs[2]}"
set title "gwgen: latency CDF ($label)" noenhanced
set xlabel "latency (us)"
set ylabel "fraction of packets"
set logscale x
set xrange [*:*]
unset logscale y
set yrange [0:1]
set format x "%g"
plot for [i=0:$streams - 1] sprintf("$work/cdf_%d.dat", i) using 1:2 with steps lw 2 title word(names, i + 1) noenhanced, \
     "$work/cdf_total.dat" using 1:2 with steps lw 1 dt 2 lc rgb "black" title "all streams"
GNUPLOT

if [[ $mode == rfc2544 ]] && (($(jq '.rfc2544.latency_trials | length' "$json") > 0)); then
    jq -r '.rfc2544.latency_trials[] | [.load * 100] + ([.total.latency_ns | .p50, .p90, .p99, .p99_9, .max]
           | map(. / 1000)) | @tsv' "$json" >"$work/rfc.dat"
    outputs+=("$prefix-rfc2544.$format")
    gnuplot <<GNUPLOT
set terminal $terminal
set grid
set key outside right top
set datafile separator "\t"
set output "${outputs[3]}"
set title sprintf("gwgen: RFC 2544 latency at fractions of the throughput (%.1f%% load)", $(jq '.rfc2544.load * 100' "$json"))
set xlabel "load (% of the configured rates)"
set ylabel "latency (us)"
set logscale y
plot "$work/rfc.dat" using 1:2 with linespoints title "p50", \
     "" using 1:3 with linespoints title "p90", \
     "" using 1:4 with linespoints title "p99", \
     "" using 1:5 with linespoints title "p99.9", \
     "" using 1:6 with linespoints title "max"
GNUPLOT
fi
printf '%s\n' "${outputs[@]}"
