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
    tcpdump kmod ethtool jq
    # XDP benchmark (scripts/bench-xdp.sh): frames written with xxd
    xxd
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
apt-get install -y -qq --no-install-recommends "${missing[@]}"
