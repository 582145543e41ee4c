#!/usr/bin/env bash
# Installs the Debian 12 packages the gateway builds, tests and demos with.
# Idempotent: packages already present are left alone; apt runs only when something is missing.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: must run as root (apt-get install)" >&2
    exit 1
fi

packages=(
    # build chain
    build-essential meson ninja-build pkg-config clang clang-format llvm
    # data plane
    dpdk dpdk-dev libdpdk-dev libipsec-mb-dev liblz4-dev libnuma-dev
    # eBPF
    libbpf-dev bpftool libxdp-dev
    # control plane and tooling libraries
    libfmt-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev libedit-dev
    # tests
    libgtest-dev libgmock-dev python3-scapy python3-cryptography iperf3 iproute2 iputils-ping procps
    tcpdump kmod ethtool jq curl
    # metrics exporter test: promtool checks the exposition text and the dashboard's PromQL
    # (Debian ships it in `prometheus`, whose server is kept from running: see below)
    prometheus
    # XDP benchmark (scripts/bench-xdp.sh): frames written with xxd
    xxd
    # gwgen plots (pktgen/plot-gwgen.sh)
    gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

# Only promtool is wanted from `prometheus`: its server must neither start now nor at boot.
# During the install a policy-rc.d denies starting it (unless one exists already, as in Debian's
# container images, which deny every start); afterwards the unit is disabled and stopped.
installing_prometheus=false
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    installing_prometheus=true
fi
policy_rc=/usr/sbin/policy-rc.d
if $installing_prometheus && [[ ! -e $policy_rc ]]; then
    # invoke-rc.d passes the init script's name (after an optional --quiet),
    # deb-systemd-invoke the unit's; 101 = action forbidden, 0 = allowed.
    cat >"$policy_rc" <<'EOF'
#!/bin/sh
# Written by install-deps.sh for one apt-get install: only promtool is wanted from `prometheus`.
for arg in "$@"; do
    case "$arg" in prometheus | prometheus.service) exit 101 ;; esac
done
exit 0
EOF
    chmod 0755 "$policy_rc"
    trap 'rm -f "$policy_rc"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
if $installing_prometheus && command -v systemctl >/dev/null; then
    systemctl disable --quiet prometheus.service 2>/dev/null || true
    if [[ -d /run/systemd/system ]]; then
        systemctl stop prometheus.service 2>/dev/null || true
    fi
fi
