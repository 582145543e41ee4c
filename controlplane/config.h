#pragma once
// Startup configuration: parsed from a line-oriented file into an immutable,
// fully validated Config before any port starts. configs/README.md documents
// the grammar; format_config() writes a Config back in that grammar so that
// parse(format(c)) == c.
//
// Every error names "<source>:<line>: <reason>".

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/net.h"

namespace gw::cp {

inline constexpr uint16_t kMaxPorts = 32;
inline constexpr uint16_t kMaxRxQueues = 64;
inline constexpr unsigned kMaxLcores = 128;  // RTE_MAX_LCORE of Debian's DPDK build
inline constexpr uint16_t kMaxBurst = 64;

struct EalConfig {
    unsigned main_lcore = 0;
    std::string file_prefix = "gatewayd";
    bool no_huge = false;                 // run from anonymous memory (tests, hosts without hugepages)
    bool in_memory = false;               // no hugepage files or shared config on disk
    unsigned memory_mb = 0;               // 0: EAL default
    std::vector<std::string> extra_args;  // passed to rte_eal_init verbatim
    auto operator<=>(const EalConfig&) const = default;
};

struct MempoolConfig {
    uint32_t mbufs = 0;         // per NUMA socket; 0: sized from ports, queues and lcores
    uint32_t cache = 256;       // per-lcore mempool cache
    uint16_t data_room = 2176;  // RTE_MBUF_DEFAULT_BUF_SIZE: 2048 + headroom
    auto operator<=>(const MempoolConfig&) const = default;
};

struct DataplaneConfig {
    uint16_t burst = 32;            // rx/tx burst size, 1..kMaxBurst
    uint32_t drain_us = 100;        // max time a packet waits in a partial tx buffer
    uint32_t idle_sleep_us = 0;     // 0: pure busy poll; else sleep after an idle round
    uint32_t icmp_rate_pps = 1000;  // ICMP errors per second per lcore (RFC 1812 rate limit)
    bool ipsec_fragment = false;    // pre-fragment non-DF IPv4 too big for its tunnel (else drop)
    auto operator<=>(const DataplaneConfig&) const = default;
};

struct InterfaceAddress {
    net::IpAddr addr;
    uint8_t prefix_len = 0;
    auto operator<=>(const InterfaceAddress&) const = default;
    [[nodiscard]] net::IpPrefix subnet() const { return net::IpPrefix{addr, prefix_len}.canonical(); }
};

struct PortConfig {
    std::string name;     // operator's name: "lan", "wan"
    std::string devargs;  // DPDK devargs: PCI address or vdev ("net_af_packet0,iface=veth0")
    uint16_t rx_queues = 1;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    uint16_t mtu = 1500;
    bool promiscuous = true;
    std::optional<net::MacAddr> mac;  // override the port's MAC
    std::vector<InterfaceAddress> addresses;
    int line = 0;  // where the port was declared
    auto operator<=>(const PortConfig&) const = default;
};

struct RxQueueRef {
    uint16_t port = 0;  // index into Config::ports
    uint16_t queue = 0;
    auto operator<=>(const RxQueueRef&) const = default;
};

struct WorkerConfig {
    unsigned lcore = 0;
    std::vector<RxQueueRef> rx_queues;
    int line = 0;
    auto operator<=>(const WorkerConfig&) const = default;
};

struct RouteConfig {
    net::IpPrefix prefix;            // canonical
    std::optional<net::IpAddr> via;  // absent: destination is on-link
    uint16_t port = 0;               // index into Config::ports (given, or found from `via`)
    bool blackhole = false;          // drop everything matching (no via/port)
    int line = 0;
    auto operator<=>(const RouteConfig&) const = default;
};

struct NeighborConfig {
    uint16_t port = 0;  // index into Config::ports
    net::IpAddr addr;
    net::MacAddr mac;
    int line = 0;
    auto operator<=>(const NeighborConfig&) const = default;
};

enum class IpsecDirection : uint8_t { in, out };

// An ESP tunnel-mode security association with AES-GCM (RFC 4303, RFC 4106).
// `key` holds the AES key followed by the 4-byte salt: secret, never logged
// or shown in full.
struct SaConfig {
    std::string name;
    IpsecDirection direction = IpsecDirection::out;
    uint32_t spi = 0;
    std::vector<uint8_t> key;  // 16 + 4 (aes-gcm-128) or 32 + 4 (aes-gcm-256) bytes
    net::IpAddr local;         // tunnel endpoints; same family
    net::IpAddr remote;
    bool esn = false;                         // 64-bit extended sequence numbers
    uint32_t replay_window = 1024;            // packets; 0 disables anti-replay (inbound)
    uint64_t soft_bytes = 0, hard_bytes = 0;  // 0: no limit
    uint64_t soft_packets = 0, hard_packets = 0;
    uint32_t soft_seconds = 0, hard_seconds = 0;
    int line = 0;
    auto operator<=>(const SaConfig&) const = default;
    [[nodiscard]] uint16_t key_bits() const noexcept { return static_cast<uint16_t>((key.size() - 4) * 8); }
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
    auto operator<=>(const PortRange&) const = default;
    [[nodiscard]] bool any() const noexcept { return lo == 0 && hi == 65535; }
};

enum class PolicyAction : uint8_t { protect, bypass, discard };

// A security policy (RFC 4301 SPD entry). Lower priority values win.
struct PolicyConfig {
    IpsecDirection direction = IpsecDirection::out;
    uint32_t priority = 0;
    net::IpPrefix src;  // canonical; src and dst of one family
    net::IpPrefix dst;
    std::optional<uint8_t> proto;  // absent: any
    PortRange sport;               // only with tcp/udp
    PortRange dport;
    PolicyAction action = PolicyAction::bypass;
    uint16_t sa = 0;  // index into Config::sas when action == protect
    int line = 0;
    auto operator<=>(const PolicyConfig&) const = default;
};

// XDP fast path on kernel-driven ports (ebpf/). The rules apply to
// every `xdp port`; they are added to the maps pinned in bpffs at startup, so
// rules added at run time survive a restart alongside them.
enum class XdpMode : uint8_t { native, generic };

struct XdpPortConfig {
    uint16_t port = 0;  // index into Config::ports: a net_af_xdp or net_af_packet port with iface=
    XdpMode mode = XdpMode::native;
    bool replace = false;  // replace another (non-gateway) XDP program on the interface
    auto operator<=>(const XdpPortConfig&) const = default;
};

struct XdpBypassConfig {
    net::IpPrefix prefix;   // canonical destination prefix
    std::string via_iface;  // kernel interface the frames leave on
    net::MacAddr dst_mac;
    std::optional<net::MacAddr> src_mac;  // absent: the egress interface's MAC
    auto operator<=>(const XdpBypassConfig&) const = default;
};

struct XdpConfig {
    std::vector<XdpPortConfig> ports;
    std::vector<net::IpPrefix> blocks;  // canonical source prefixes
    uint64_t rate_pps = 0;              // 0: no rate limit
    uint64_t rate_burst = 0;
    bool pass_arp = false;
    bool pass_nd = false;
    bool pass_icmp = false;          // ICMP/ICMPv6 echo to the interface's own addresses
    std::vector<uint16_t> pass_tcp;  // destination ports to the interface's own addresses
    std::vector<uint16_t> pass_udp;
    std::vector<XdpBypassConfig> bypass;
    auto operator<=>(const XdpConfig&) const = default;
};

// Live measurement (controlplane/telemetry.h). Counters are always kept;
// `latency` adds per-packet residence time and per-stage cycles on workers.
struct TelemetryConfig {
    bool latency = true;
    uint32_t window_s = 10;  // sliding window of the latency percentiles, seconds
    std::string prometheus;  // "ADDRESS:PORT" of the metrics exposer; empty: none
    auto operator<=>(const TelemetryConfig&) const = default;
};

// The control socket gwctl talks to (line-delimited JSON, docs/cli.md).
struct ControlConfig {
    std::string socket;  // empty: /run/gatewayd/<eal file-prefix>.sock (unique per instance, as DPDK's prefix is)
    std::string group;   // socket owned by root:<group>, mode 0660; empty: root's group
    auto operator<=>(const ControlConfig&) const = default;
};

// The kernel interface of a port's devargs ("net_af_xdp0,iface=veth0" -> "veth0"),
// when it is a net_af_xdp or net_af_packet device; empty otherwise.
[[nodiscard]] std::string kernel_iface(std::string_view devargs);

struct Config {
    EalConfig eal;
    MempoolConfig mempool;
    DataplaneConfig dataplane;
    std::vector<PortConfig> ports;
    std::vector<WorkerConfig> workers;
    std::vector<RouteConfig> routes;
    std::vector<NeighborConfig> neighbors;
    std::vector<SaConfig> sas;
    std::vector<PolicyConfig> policies;
    XdpConfig xdp;
    TelemetryConfig telemetry;
    ControlConfig control;

    [[nodiscard]] std::optional<uint16_t> find_port(std::string_view name) const;
    [[nodiscard]] std::optional<uint16_t> find_sa(std::string_view name) const;
    bool operator==(const Config&) const = default;
};

// Where the control socket of `config` listens (ControlConfig::socket).
[[nodiscard]] std::string control_socket_path(const Config& config);

// Parses and validates `text`; `source` names the file in error messages.
[[nodiscard]] Result<Config> parse_config(std::string_view text, std::string_view source);

// Reads `path` and parses it. Fails on unreadable files, and on files that
// hold IPsec keys yet are readable by users other than the owner's group.
[[nodiscard]] Result<Config> load_config(const std::filesystem::path& path);

// `config` with every `line` field zeroed: what compares equal when two
// configs say the same thing (format_config does not preserve line numbers).
[[nodiscard]] Config without_lines(Config config);

// Canonical text for `config` (one statement per line, in grammar order).
// Includes keys in full: write it only to a file of mode 0600.
[[nodiscard]] std::string format_config(const Config& config);

}  // namespace gw::cp
