#!/usr/bin/env bash
# Checks and prepares this host for gatewayd and its tests: root, AES-NI, 2 MiB
# hugepages (reserved and mounted at /dev/hugepages) and bpffs at /sys/fs/bpf.
# Idempotent: what is already in place is left alone. One summary line per check.
#
# usage: scripts/setup-host.sh [--hugepages N]     (default N = 512 pages of 2 MiB)
set -euo pipefail

want_pages=512

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

while (($#)); do
    case $1 in
        --hugepages)
            [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "setup-host: --hugepages needs a number" >&2; usage; }
            want_pages=$2
            shift 2
            ;;
        --hugepages=*)
            want_pages=${1#*=}
            [[ $want_pages =~ ^[0-9]+$ ]] || { echo "setup-host: --hugepages needs a number" >&2; usage; }
            shift
            ;;
        -h | --help) usage 0 ;;
        *) echo "setup-host: unknown argument: $1" >&2; usage ;;
    esac
done

ok() { printf 'setup-host: %-10s ok   %s\n' "$1" "$2"; }
fail() {
    printf 'setup-host: %-10s FAIL %s\n' "$1" "$2" >&2
    exit 1
}

# --- root -------------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
    fail root "must run as root (hugepages, mounts); try: sudo $0"
fi
ok root "running as uid 0"

# --- AES-NI -----------------------------------------------------------------
if ! grep -m1 -qw aes /proc/cpuinfo; then
    fail aes-ni "CPU has no 'aes' flag in /proc/cpuinfo; the IPsec data path (ipsec-mb AES-GCM) needs AES-NI"
fi
extra=""
grep -m1 -qw vaes /proc/cpuinfo && extra=" (+VAES)"
ok aes-ni "CPU has AES-NI${extra}"

# --- hugepages --------------------------------------------------------------
hp_sysfs=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[[ -e $hp_sysfs ]] || fail hugepages "kernel has no 2 MiB hugepage support ($hp_sysfs missing)"
default_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)

have_pages=$(<"$hp_sysfs")
if ((have_pages >= want_pages)); then
    ok hugepages "$have_pages x 2 MiB reserved (>= $want_pages wanted)"
else
    if [[ $default_kb == 2048 ]]; then
        sysctl -q -w vm.nr_hugepages="$want_pages"
    else
        echo "$want_pages" >"$hp_sysfs"
    fi
    have_pages=$(<"$hp_sysfs")
    if ((have_pages < want_pages)); then
        # Memory may be fragmented: compact once and retry before giving up.
        echo 1 >/proc/sys/vm/compact_memory 2>/dev/null || true
        echo "$want_pages" >"$hp_sysfs"
        have_pages=$(<"$hp_sysfs")
    fi
    if ((have_pages < want_pages)); then
        fail hugepages "asked for $want_pages x 2 MiB pages, kernel reserved only $have_pages (not enough free memory?)"
    fi
    ok hugepages "$have_pages x 2 MiB reserved (raised to $want_pages)"
fi

# --- hugetlbfs mount --------------------------------------------------------
if findmnt -n -t hugetlbfs /dev/hugepages >/dev/null 2>&1; then
    ok hugetlbfs "mounted at /dev/hugepages"
else
    mkdir -p /dev/hugepages
    mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages ||
        fail hugetlbfs "could not mount hugetlbfs at /dev/hugepages"
    ok hugetlbfs "mounted at /dev/hugepages (now)"
fi

# --- bpffs mount ------------------------------------------------------------
if findmnt -n -t bpf /sys/fs/bpf >/dev/null 2>&1; then
    ok bpffs "mounted at /sys/fs/bpf"
else
    mkdir -p /sys/fs/bpf 2>/dev/null || true
    mount -t bpf bpf /sys/fs/bpf || fail bpffs "could not mount bpffs at /sys/fs/bpf"
    ok bpffs "mounted at /sys/fs/bpf (now)"
fi
