#pragma once
// What a gwgen run measured, as plain values: per stream, per interval (the time
// series) and overall; the RFC 2544 search's trials and verdict. report.h renders them.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/latency_histogram.h"

namespace gw::gen {

struct LatencySummary {
    uint64_t count = 0;
    uint64_t min_ns = 0;
    double mean_ns = 0;
    uint64_t p50_ns = 0;
    uint64_t p90_ns = 0;
    uint64_t p99_ns = 0;
    uint64_t p999_ns = 0;
    uint64_t max_ns = 0;

    [[nodiscard]] static LatencySummary of(const dp::LatencyHistogram& h) noexcept {
        return LatencySummary{.count = h.count(),
                              .min_ns = h.min(),
                              .mean_ns = h.mean(),
                              .p50_ns = h.percentile(50),
                              .p90_ns = h.percentile(90),
                              .p99_ns = h.percentile(99),
                              .p999_ns = h.percentile(99.9),
                              .max_ns = h.max()};
    }
};

// (percentile, ns) points of a latency CDF, p from 0 to 100.
using LatencyCdf = std::vector<std::pair<double, uint64_t>>;
[[nodiscard]] LatencyCdf latency_cdf(const dp::LatencyHistogram& h);

struct StreamResult {
    std::string name;
    unsigned index = 0;
    std::string rate;  // as given ("50000 pps", "10%")
    std::string size;  // as given ("64", "imix" as its mix)
    double target_pps = 0;
    double target_bps = 0;  // wire bits
    // tx
    uint64_t offered = 0;  // scheduled: accepted + refused + nombuf
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t tx_refused = 0;
    uint64_t tx_nombuf = 0;
    uint64_t tx_slips = 0;
    double tx_max_lag_us = 0;
    double tx_s = 0;  // the stream's sending time
    double tx_pps = 0;
    double tx_bps = 0;
    // rx
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t rx_unique = 0;
    uint64_t duplicates = 0;
    uint64_t reordered = 0;
    uint64_t too_late = 0;
    int64_t lost = 0;             // tx_packets - rx_unique (negative: more arrived than sent)
    double loss_ratio = 0;        // lost / tx_packets
    double frame_loss_ratio = 0;  // (offered - rx_unique) / offered: RFC 2544's, refusals included
    double rx_pps = 0;
    double rx_bps = 0;
    LatencySummary latency;
    LatencyCdf cdf;
};

struct IntervalStream {
    uint64_t tx_packets = 0;
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    LatencySummary latency;
};

struct Interval {
    double t_s = 0;   // end of the interval, from the trial's start
    double dt_s = 0;  // its length
    std::vector<IntervalStream> streams;
    IntervalStream total;
};

struct RunResult {
    std::string label;
    double load = 1;  // fraction of the streams' configured rates
    double duration_s = 0;
    double elapsed_s = 0;  // start to the end of draining
    bool interrupted = false;
    std::vector<StreamResult> streams;
    StreamResult total;  // sums; latency over every stream
    std::vector<Interval> series;
    uint64_t rx_total = 0;
    uint64_t foreign = 0;
    uint64_t stale = 0;
    uint64_t unknown_stream = 0;
    uint64_t rx_after_stop = 0;  // drained from the queues after the trial ended
};

struct TrialVerdict {
    double load = 0;
    double offered_pps = 0;
    double frame_loss_ratio = 0;
    bool generator_limited = false;  // the generator fell behind its schedule: no verdict on the DUT
    bool pass = false;
};

struct Rfc2544Result {
    double loss_threshold_pct = 0;
    double trial_s = 0;
    bool found = false;  // some load passed
    double load = 0;     // highest passing fraction of the configured rates
    double pps = 0;      // at that load, all streams
    double bps = 0;
    bool interrupted = false;
    std::vector<TrialVerdict> verdicts;
    std::vector<RunResult> trials;          // the search, in order
    std::vector<RunResult> latency_trials;  // at the latency loads
};

struct MempoolReport {
    uint32_t size = 0;
    uint32_t available = 0;  // after ports stopped
    [[nodiscard]] uint32_t in_use() const noexcept { return size - available; }
};

struct PortInfo {
    std::string devargs;
    std::string driver;
    uint16_t port_id = 0;
    std::string mac;
    uint64_t link_mbps = 0;  // 0: unknown
    uint16_t rx_queues = 0;
    uint16_t tx_queues = 0;
};

}  // namespace gw::gen
