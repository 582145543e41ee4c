#pragma once
// gwgen's control side: ports, the mempool, compiled streams, the tx and rx lanes on
// their lcores, and trials. A trial arms every lane, launches them on their lcores, then
// samples counters and latency every interval on the calling (main) lcore until the
// streams have finished and the packets in flight have arrived or the drain time is up.
// Every wait is bounded; lanes also stop on their own at a hard deadline.
//
// EAL must be initialised with the lcores the options name. Errors (ports that will not
// start, lcores not enabled, a link that stays down) come back as Error, never exit().

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "pktgen/gwgen/lanes.h"
#include "pktgen/gwgen/results.h"
#include "pktgen/gwgen/spec.h"

struct rte_mempool;

namespace gw::gen {

struct Trial {
    std::string label;
    double duration_s = 10;
    double load = 1;                                   // fraction of every stream's rate
    std::function<void(const Interval&)> on_interval;  // progress output; may be empty
};

class Generator {
public:
    // `opt` must have passed validate().
    [[nodiscard]] static Result<std::unique_ptr<Generator>> create(const Options& opt);
    ~Generator();
    Generator(const Generator&) = delete;
    Generator& operator=(const Generator&) = delete;

    // interrupts: 0 runs the trial out; 1 stops sending and drains; 2 or more stops now.
    [[nodiscard]] Result<RunResult> run(const Trial& trial, const std::atomic<int>& interrupts);

    // Drains the queues, stops and closes the ports, and reports how many mbufs did not
    // come back to the pool. Idempotent; the destructor calls it.
    MempoolReport shutdown();

    [[nodiscard]] const std::vector<PortInfo>& ports() const noexcept { return ports_; }
    [[nodiscard]] uint64_t tsc_hz() const noexcept { return tsc_hz_; }
    [[nodiscard]] std::size_t streams() const noexcept { return plans_.size(); }
    // Packets per second of all streams together at load 1.
    [[nodiscard]] double full_load_pps() const;

    // One lcore's work in a trial: its tx lane, the rx lane, or both.
    struct LaneTask {
        unsigned lcore = 0;
        TxLane* tx = nullptr;
        RxLane* rx = nullptr;
        uint64_t hard_end_tsc = 0;
        std::atomic<bool> stop{false};
        std::atomic<bool> tx_stop{false};
        std::atomic<bool> tx_active{false};
    };

private:
    explicit Generator(const Options& opt);
    Status setup();
    unsigned flush_rx();

    Options opt_;
    uint64_t tsc_hz_ = 0;
    rte_mempool* pool_ = nullptr;
    std::vector<PortInfo> ports_;
    std::vector<uint16_t> started_;  // ports to stop at shutdown
    std::vector<std::unique_ptr<TxStreamPlan>> plans_;
    std::vector<std::pair<std::size_t, std::size_t>> where_;  // stream -> (tx lane, index in it)
    std::vector<std::unique_ptr<TxLane>> tx_lanes_;
    std::unique_ptr<RxLane> rx_lane_;
    std::vector<std::unique_ptr<LaneTask>> tasks_;
    uint8_t epoch_ = 0;
    bool shut_down_ = false;
    MempoolReport mempool_;
};

}  // namespace gw::gen
