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
    bool no_huge = false;    // run from anonymous memory (tests, hosts without hugepages)
    bool in_memory = false;  // no hugepage files or shared config on disk
    unsigned memory_mb = 0;  // 0: EAL default
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
    uint16_t burst = 32;          // rx/tx burst size, 1..kMaxBurst
    uint32_t drain_us = 100;      // max time a packet waits in a partial tx buffer
    uint32_t idle_sleep_us = 0;   // 0: pure busy poll; else sleep after an idle round
    uint32_t icmp_rate_pps = 1000;  // ICMP errors per second per lcore (RFC 1812 rate limit)
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
    net::IpPrefix prefix;             // canonical
    std::optional<net::IpAddr> via;   // absent: destination is on-link
    uint16_t port = 0;                // index into Config::ports (given, or found from `via`)
    bool blackhole = false;           // drop everything matching (no via/port)
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

struct Config {
    EalConfig eal;
    MempoolConfig mempool;
    DataplaneConfig dataplane;
    std::vector<PortConfig> ports;
    std::vector<WorkerConfig> workers;
    std::vector<RouteConfig> routes;
    std::vector<NeighborConfig> neighbors;

    [[nodiscard]] std::optional<uint16_t> find_port(std::string_view name) const;
    bool operator==(const Config&) const = default;
};

// Parses and validates `text`; `source` names the file in error messages.
[[nodiscard]] Result<Config> parse_config(std::string_view text, std::string_view source);

// Reads `path` and parses it. Fails on unreadable files.
[[nodiscard]] Result<Config> load_config(const std::filesystem::path& path);

// Canonical text for `config` (one statement per line, in grammar order).
[[nodiscard]] std::string format_config(const Config& config);

}  // namespace gw::cp
