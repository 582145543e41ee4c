#pragma once
// What gwgen is asked to do: streams (from --stream options and profile files) and the
// run's global options, parsed into typed, validated values before any port starts.
// No DPDK here: parsing and validation are tested without EAL.
//
// Conventions, used everywhere in gwgen:
//   - A frame size counts the Ethernet frame including its 4-byte FCS, as RFC 2544,
//     Pktgen-DPDK and TRex do: a "64-byte frame" is a 60-byte mbuf.
//   - bps (and % of link) count bits on the wire: frame + 20 bytes of preamble, start
//     delimiter and inter-frame gap, so 100% of 10 Gb/s at 64 B is 14.88 Mpps.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/net.h"

namespace gw::gen {

inline constexpr uint16_t kFcsLen = 4;
inline constexpr uint16_t kWireOverhead = 20;  // preamble 7 + SFD 1 + inter-frame gap 12
inline constexpr uint16_t kMinFrameV4 = 64;    // Ethernet 14 + IPv4 20 + UDP 8 + signature 18 + FCS 4
inline constexpr uint16_t kMinFrameV6 = 84;    // Ethernet 14 + IPv6 40 + UDP 8 + signature 18 + FCS 4
inline constexpr uint16_t kMaxFrame = 9216;
inline constexpr std::size_t kMaxMixEntries = 16;
inline constexpr uint32_t kMaxMixWeight = 1000;
inline constexpr uint32_t kMaxFlows = 1u << 24;

enum class RateUnit { pps, bps, percent };

// pps: packets per second; bps: wire bits per second; percent: of the port's link speed.
struct Rate {
    RateUnit unit = RateUnit::pps;
    double value = 10'000;
    friend bool operator==(const Rate&, const Rate&) = default;
};

enum class SizeKind { fixed, range, mix };

struct SizeSpec {
    SizeKind kind = SizeKind::fixed;
    uint16_t lo = 64;                                // fixed: the size; range: smallest
    uint16_t hi = 64;                                // range: largest (inclusive, uniform random); fixed: == lo
    std::vector<std::pair<uint16_t, uint32_t>> mix;  // (size, weight); mix only
    friend bool operator==(const SizeSpec&, const SizeSpec&) = default;

    [[nodiscard]] uint16_t min_size() const noexcept;
    [[nodiscard]] uint16_t max_size() const noexcept;
    [[nodiscard]] double mean_size() const noexcept;
};

enum class Payload { zeros, text, random };

// A contiguous range of addresses: first, first + 1, ..., first + count - 1 (IPv6: the
// count is added to the low 32 bits, with carry).
struct AddrRange {
    net::IpAddr first = net::Ip4Addr{};
    uint32_t count = 1;
    friend bool operator==(const AddrRange&, const AddrRange&) = default;
};

struct PortRange {
    uint16_t first = 0;
    uint32_t count = 1;  // up to 65536
    friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct StreamSpec {
    std::string name;  // default "s<index>"
    Rate rate;
    SizeSpec size;
    uint64_t count = 0;                                // packets to offer; 0: until the run's end
    double start_s = 0;                                // offset from the run's start
    double stop_s = 0;                                 // offset from the run's start; 0: the run's end
    AddrRange src{.first = net::Ip4Addr{0xc6120001}};  // 198.18.0.1 (RFC 2544 benchmarking range)
    AddrRange dst{.first = net::Ip4Addr{0xc6130001}};  // 198.19.0.1
    PortRange sport{.first = 10000};
    PortRange dport{.first = 20000};
    uint32_t flows = 0;  // 0: every combination of the ranges (their product)
    Payload payload = Payload::zeros;
    std::optional<net::MacAddr> src_mac;  // default: the tx port's MAC
    std::optional<net::MacAddr> dst_mac;  // default: --dst-mac, else the tx port's own MAC (a loop)
    uint16_t port = 0;                    // index of the tx port in --port order
    int lane = -1;                        // index into --tx-lcores; -1: round robin
    int line = 0;                         // profile line (0: command line)
    friend bool operator==(const StreamSpec&, const StreamSpec&) = default;

    [[nodiscard]] bool is_v6() const noexcept { return !net::is_v4(src.first); }
    [[nodiscard]] uint64_t combinations() const noexcept {
        return uint64_t{src.count} * dst.count * sport.count * dport.count;
    }
    [[nodiscard]] uint32_t flow_count() const noexcept {
        return flows != 0 ? flows : static_cast<uint32_t>(combinations());
    }
};

struct Rfc2544Options {
    bool enabled = false;
    double loss_threshold_pct = 0;  // a trial passes with loss <= this
    double trial_s = 2;
    unsigned max_trials = 10;                                // search trials, the first at full load included
    double resolution_pct = 1;                               // stop when the interval is narrower (of the full load)
    double min_load_pct = 0;                                 // the search's floor (assumed to pass, never tried)
    std::vector<double> latency_loads_pct{10, 50, 90, 100};  // of the found rate
};

struct Options {
    std::vector<std::string> ports;  // DPDK devargs, a PCI address or a vdev
    std::vector<StreamSpec> streams;
    double duration_s = 0;  // 0: from the streams' counts if all have one, else 10 s
    double drain_s = 0.5;   // after tx ends: wait at most this long for packets in flight
    double interval_s = 1;  // per-interval series
    uint16_t burst = 32;
    uint32_t mbufs = 0;  // 0: sized from ports, queues and descriptors
    uint16_t rx_queues = 1;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    uint64_t link_speed_mbps = 0;  // 0: ask the tx port (for % rates)
    std::optional<net::MacAddr> dst_mac;
    unsigned main_lcore = 0;
    std::vector<unsigned> tx_lcores{1};
    unsigned rx_lcore = 1;
    uint64_t max_lag_us = 10'000;  // a stream this far behind its schedule skips ahead
    uint64_t seed = 1;
    double link_timeout_s = 10;
    Rfc2544Options rfc2544;
    // EAL
    std::string file_prefix;  // default gwgen-<pid>
    bool no_huge = false;
    unsigned memory_mb = 0;
    std::string log_level = "warn";
    std::vector<std::string> eal_extra;  // after "--" on the command line
    // output
    std::string json_path;
    bool quiet = false;
};

// "50000", "50kpps", "1.5Mpps", "2Gbps", "100Mbps", "10%"; SI prefixes k, M, G (powers of ten).
[[nodiscard]] Result<Rate> parse_rate(std::string_view s);
// "64", "64-1518", "imix" (64:7,576:4,1500:1), "64:7,576:4,1500:1" (size:weight list).
[[nodiscard]] Result<SizeSpec> parse_size(std::string_view s);
// "10G", "25000M", "100000" (Mb/s).
[[nodiscard]] Result<uint64_t> parse_link_speed_mbps(std::string_view s);
// "10.0.0.1", "10.0.0.1-10.0.0.100", "2001:db8::1-2001:db8::ff".
[[nodiscard]] Result<AddrRange> parse_addr_range(std::string_view s);
// "1000", "1000-1999".
[[nodiscard]] Result<PortRange> parse_port_range(std::string_view s);
// "1,2,5" or "1-3".
[[nodiscard]] Result<std::vector<unsigned>> parse_lcore_list(std::string_view s);

// One stream: space-separated key=value tokens (see pktgen/README.md for the keys).
// `where` prefixes error messages ("--stream", "file.gwgen:3").
[[nodiscard]] Result<StreamSpec> parse_stream(std::string_view text, std::string_view where);

// A profile: its streams and, optionally, how long it runs (a --duration overrides it).
struct Profile {
    std::vector<StreamSpec> streams;
    double duration_s = 0;  // 0: not given
};

// A profile file: '#' comments, blank lines, "stream key=value ..." lines and at most one
// "duration SECONDS" line.
[[nodiscard]] Result<Profile> parse_profile(std::string_view text, std::string_view source);
[[nodiscard]] Result<Profile> load_profile(const std::filesystem::path& path);

// Checks a stream on its own (sizes fit the family, ranges, flows, times); `where`
// prefixes the message.
[[nodiscard]] Status validate_stream(const StreamSpec& s, std::string_view where);

// Checks the whole run (every stream, ports, lcores); fills in stream names and the
// default duration. Called once, before EAL starts.
[[nodiscard]] Result<Options> validate(Options o);

[[nodiscard]] std::string to_string(const Rate& r);
[[nodiscard]] std::string to_string(const SizeSpec& s);
[[nodiscard]] std::string_view to_string(Payload p) noexcept;

}  // namespace gw::gen
