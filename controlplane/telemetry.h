#pragma once
// A point-in-time copy of everything the appliance measures, taken by the
// control thread (Dataplane::snapshot) and handed, immutable, to its readers:
// the control socket's `show` commands, the Prometheus exposer's scrape thread
// and the final report. Plain data, no DPDK: readers never touch data-plane
// memory, so a slow scrape cannot stall a worker.
//
// Units are in the names: *_ns nanoseconds, *_cycles TSC cycles (tsc_hz
// converts), everything else a count. Counters are monotonic since start
// (or since the last `clear counters`, see Snapshot::cleared_at_ns).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gw::telemetry {

// Latency of one population (a queue, an lcore, the whole gateway) in
// nanoseconds, from LatencyHistogram: percentiles never under-report and are
// within +0.79% of the exact value (exact below 256 ns).
struct LatencySummary {
    uint64_t count = 0;
    uint64_t sum_ns = 0;
    uint64_t min_ns = 0;
    uint64_t max_ns = 0;
    uint64_t p50_ns = 0;
    uint64_t p90_ns = 0;
    uint64_t p99_ns = 0;
    uint64_t p999_ns = 0;
};

// Cumulative bucket counts at fixed upper bounds (Prometheus `le`), plus the
// count and sum, for the since-start population. A sample is counted under the
// first bound >= the upper edge of its histogram bucket, so a bucket may hold
// samples up to 0.79% above its bound's nominal value; never fewer.
inline constexpr std::array<uint64_t, 16> kLatencyBucketBoundsNs = {
    1'000,   2'000,     5'000,     10'000,    20'000,     50'000,     100'000,     200'000,
    500'000, 1'000'000, 2'000'000, 5'000'000, 10'000'000, 50'000'000, 100'000'000, 1'000'000'000,
};
struct LatencyBuckets {
    std::array<uint64_t, kLatencyBucketBoundsNs.size()> cumulative{};  // count with value <= bound
    uint64_t count = 0;                                                // the +Inf bucket
    uint64_t sum_ns = 0;
};

struct Latency {
    LatencySummary window;       // the last `window_s` seconds (sliding)
    LatencySummary since_start;  // since start or the last clear
    LatencyBuckets buckets;      // since_start, bucketed
};

struct PortStats {
    std::string name;
    std::string driver;  // "net_memif", "net_af_xdp", "0000:3b:00.0" ...
    std::string mac;
    uint16_t mtu = 0;
    bool link_up = false;
    uint32_t link_speed_mbps = 0;
    uint16_t rx_queues = 0;
    uint16_t tx_queues = 0;
    uint64_t ipackets = 0;
    uint64_t opackets = 0;
    uint64_t ibytes = 0;
    uint64_t obytes = 0;
    uint64_t imissed = 0;  // dropped by the NIC: no descriptor (the data plane fell behind)
    uint64_t ierrors = 0;
    uint64_t oerrors = 0;
    uint64_t rx_nombuf = 0;  // rx failed: mempool empty
};

// One rx queue as its worker sees it.
struct QueueStats {
    std::string port;
    uint16_t queue = 0;
    unsigned lcore = 0;
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t polls = 0;
    uint64_t empty_polls = 0;
    Latency latency;  // residence time: rx burst -> tx burst, per packet received here
};

// A processing stage of a worker (as VPP's `show runtime` nodes): how often it
// ran, on how many packets, and the TSC cycles spent in it.
struct StageStats {
    std::string name;  // "rx", "forward", "esp-encrypt", "esp-decrypt", "tx"
    uint64_t calls = 0;
    uint64_t packets = 0;
    uint64_t cycles = 0;
};

struct DropCount {
    std::string reason;  // label from dataplane/drop_reasons.h: "no-route", ...
    uint64_t packets = 0;
};

struct LcoreStats {
    unsigned lcore = 0;
    std::string role;  // "worker" or "control"
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t polls = 0;
    uint64_t empty_polls = 0;
    uint64_t busy_cycles = 0;   // cycles in rounds that received packets
    uint64_t total_cycles = 0;  // cycles in all rounds; load = busy / total
    uint64_t punted = 0;
    uint64_t icmp_sent = 0;
    uint64_t icmp_rate_limited = 0;
    uint64_t fragments_made = 0;
    std::vector<DropCount> drops;  // every reason, zero or not, in declaration order
    std::vector<StageStats> stages;
    Latency latency;  // merged over this lcore's queues
};

struct SaStats {
    std::string name;
    uint32_t spi = 0;
    std::string direction;  // "in" or "out"
    std::string cipher;     // "aes-gcm-128", "aes-gcm-256"
    std::string local;
    std::string remote;
    bool esn = false;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t replay_drops = 0;
    uint64_t auth_drops = 0;
    uint64_t seq = 0;  // outbound: last sequence number used; inbound: highest seen
};

struct XdpVerdict {
    std::string iface;
    std::string verdict;  // label from gw::bpf::stat_table(): "drop-blocklist", "redirect-xsk", ...
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

struct Snapshot {
    uint64_t taken_ns = 0;       // CLOCK_REALTIME when taken
    uint64_t started_ns = 0;     // CLOCK_REALTIME when the data plane started
    uint64_t cleared_at_ns = 0;  // CLOCK_REALTIME of the last `clear counters`, 0 if never
    uint64_t tsc_hz = 0;
    uint32_t window_s = 0;  // length of the sliding latency window
    bool latency_enabled = false;
    uint64_t mbufs_in_use = 0;
    uint64_t mbufs_total = 0;
    std::vector<PortStats> ports;
    std::vector<QueueStats> queues;
    std::vector<LcoreStats> lcores;  // workers in config order, then the control lcore
    Latency latency;                 // the whole gateway
    std::vector<SaStats> sas;
    std::vector<XdpVerdict> xdp;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace gw::telemetry
