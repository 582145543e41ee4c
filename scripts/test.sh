#!/usr/bin/env bash
# The one-command test run on a fresh Debian 12 machine: installs dependencies,
# prepares the host (hugepages, bpffs), configures and builds with meson/ninja, runs
# every registered test (unit suites and the netns 'integration' suite) and ends with
# the line "tests: N passed, M failed[, K skipped]". Exit status 0 only if nothing failed.
#
# usage: sudo scripts/test.sh [--skip-deps] [--suite NAME]... [-- extra meson test args]
#   --skip-deps   do not run scripts/install-deps.sh
#   --suite NAME  run only this meson test suite (repeatable)
# env:  BUILD_DIR (default build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-build}
skip_deps=0
meson_test_args=()

usage() {
    sed -n '7,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

while (($#)); do
    case $1 in
        --skip-deps) skip_deps=1; shift ;;
        --suite)
            [[ $# -ge 2 ]] || usage
            meson_test_args+=(--suite "$2")
            shift 2
            ;;
        --)
            shift
            meson_test_args+=("$@")
            break
            ;;
        -h | --help) usage 0 ;;
        *) echo "test.sh: unknown argument: $1" >&2; usage ;;
    esac
done

if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: must run as root (packages, hugepages, network namespaces); try: sudo $0" >&2
    exit 1
fi

cd "$repo"
say() { printf '\n==> %s\n' "$*"; }
die() {
    echo "test.sh: $*" >&2
    exit 1
}

if ((skip_deps == 0)); then
    say "install dependencies"
    scripts/install-deps.sh || die "scripts/install-deps.sh failed"
fi

say "prepare host"
scripts/setup-host.sh || die "scripts/setup-host.sh failed"

say "configure ($build_dir)"
if [[ -f $build_dir/build.ninja ]]; then
    # Keep the existing configuration; wipe it if meson cannot reuse it (e.g. it was
    # made by another meson version or is corrupt).
    if ! meson setup --reconfigure "$build_dir"; then
        echo "test.sh: reconfigure failed; wiping $build_dir and configuring afresh" >&2
        meson setup --wipe "$build_dir" || die "meson setup --wipe $build_dir failed"
    fi
elif [[ -d $build_dir/meson-private ]]; then
    # Configured once but without build.ninja: an interrupted or failed earlier setup.
    meson setup --wipe "$build_dir" || die "meson setup --wipe $build_dir failed"
else
    meson setup "$build_dir" || die "meson setup $build_dir failed"
fi

say "build"
ninja -C "$build_dir" || die "build failed (ninja -C $build_dir)"

say "test"
testlog="$build_dir/meson-logs/testlog.json"
rm -f "$testlog"
test_rc=0
meson test -C "$build_dir" --print-errorlogs "${meson_test_args[@]}" </dev/null || test_rc=$?

if [[ ! -f $testlog ]]; then
    die "meson test wrote no $testlog (exit status $test_rc)"
fi
# testlog.json holds one JSON object per test; "result" is a meson TestResult name.
read -r passed failed skipped < <(jq -rs '
    [ .[] | .result ] as $r
    | [ ($r | map(select(. == "OK" or . == "EXPECTEDFAIL")) | length),
        ($r | map(select(. != "OK" and . != "EXPECTEDFAIL" and . != "SKIP")) | length),
        ($r | map(select(. == "SKIP")) | length) ]
    | @tsv' "$testlog") || die "could not read $testlog"

if ((failed == 0 && test_rc != 0)); then
    # meson itself failed in a way no test result shows; count it as a failure.
    echo "test.sh: meson test exited with status $test_rc" >&2
    failed=1
fi

echo
line="tests: $passed passed, $failed failed"
((skipped == 0)) || line+=", $skipped skipped"
echo "$line"
((failed == 0))
