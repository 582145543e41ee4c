#pragma once
// The packet path of gwgen: a TxLane sends its streams' packets on schedule, an RxLane
// receives, recognises and accounts for them. Each is owned by one lcore (a thread that
// only polls); the control thread reads their counters racily (monotonic 64-bit values,
// as in dataplane/counters.h) and takes latency samples through LatencyRecorder's flip.
// Both are steppable from a test on the main thread: poll(now) does one round.
//
// Hot-path rules as in the data plane: no allocation, locking, logging or exceptions in
// poll(); mbufs a port refuses are freed at once (never retried: a retry would shift the
// schedule) and counted.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/latency_histogram.h"
#include "pktgen/gwgen/frame.h"
#include "pktgen/gwgen/pacing.h"
#include "pktgen/gwgen/seq_tracker.h"
#include "pktgen/gwgen/size_model.h"
#include "pktgen/gwgen/spec.h"

struct rte_mbuf;
struct rte_mempool;

namespace gw::gen {

inline constexpr uint16_t kMaxBurst = 256;
// Bursts an RxLane takes from one queue per round while they come back full.
inline constexpr unsigned kRxBurstsPerRound = 16;

// A racy read of a counter another thread writes (never torn on x86-64, never hoisted).
[[nodiscard]] inline uint64_t read_counter(const uint64_t& c) noexcept {
    return __atomic_load_n(&c, __ATOMIC_RELAXED);
}

// One stream as a lane sends it. Immutable while lanes run.
struct TxStreamPlan {
    uint8_t index = 0;  // the signature's stream field
    FrameTemplate frame;
    SizeSpec sizes;
    Rate rate;
    uint64_t link_mbps = 0;  // for percent rates
    uint64_t count = 0;      // 0: unbounded
    double start_s = 0;
    double stop_s = 0;  // 0: the trial's end
    uint16_t port_id = 0;
    uint16_t queue = 0;
    uint64_t seed = 1;
};

// Per stream, written by the owning TxLane only.
struct TxCounters {
    uint64_t packets = 0;      // accepted by the port
    uint64_t bytes = 0;        // frame bytes (FCS included) of accepted packets
    uint64_t refused = 0;      // built but refused by the tx queue (freed)
    uint64_t nombuf = 0;       // due but the pool had no mbuf
    uint64_t slips = 0;        // schedule restarted after falling more than max_lag behind
    uint64_t max_lag_tsc = 0;  // the furthest behind schedule a burst went out
    uint64_t start_tsc = 0;    // when the stream's schedule began
    uint64_t done_tsc = 0;     // when it finished (0 while running)
};

class TxLane {
public:
    TxLane(rte_mempool* pool, uint16_t burst, uint64_t tsc_hz, uint64_t max_lag_tsc);

    // Not owned; must outlive the lane.
    void add(const TxStreamPlan* plan);
    // Prepares a trial: counters cleared, schedules at rate * load starting at
    // t0 + start, ending at t0 + min(stop, duration).
    void arm(uint64_t t0_tsc, double duration_s, uint8_t epoch, double load);
    // Sends what is due (at most one burst per stream). Returns true while any stream
    // has packets left to send.
    bool poll(uint64_t now_tsc) noexcept;
    // Ends every stream now (an interrupt).
    void stop_all(uint64_t now_tsc) noexcept;

    [[nodiscard]] std::size_t size() const noexcept { return streams_.size(); }
    [[nodiscard]] const TxStreamPlan& plan(std::size_t i) const noexcept { return *streams_[i].plan; }
    [[nodiscard]] const TxCounters& counters(std::size_t i) const noexcept { return streams_[i].c; }
    [[nodiscard]] const Schedule& schedule(std::size_t i) const noexcept { return streams_[i].schedule; }

private:
    struct alignas(64) State {
        const TxStreamPlan* plan;
        SizeModel sizes;
        Pacer pacer;
        Schedule schedule;
        uint64_t seq = 0;
        uint64_t rng = 1;
        uint64_t start_tsc = 0;
        uint64_t end_tsc = 0;
        uint64_t count = 0;
        uint8_t epoch = 0;
        bool done = true;
        TxCounters c;
    };
    bool poll_stream(State& s, uint64_t now) noexcept;

    rte_mempool* pool_;
    uint16_t burst_;
    uint64_t tsc_hz_;
    uint64_t max_lag_tsc_;
    std::vector<State> streams_;
};

struct RxQueueRef {
    uint16_t port_id = 0;
    uint16_t queue = 0;
};

// Per stream, written by the RxLane only.
struct RxCounters {
    uint64_t packets = 0;     // signed packets of this stream and trial, duplicates included
    uint64_t bytes = 0;       // frame bytes, FCS included
    uint64_t duplicates = 0;  // a sequence number seen before (within the window)
    uint64_t late = 0;        // reordered: arrived after a higher sequence number
    uint64_t too_late = 0;    // older than the reorder window (counted as unique)
    uint64_t first_tsc = 0;
    uint64_t last_tsc = 0;

    [[nodiscard]] uint64_t unique() const noexcept { return packets - duplicates; }
};

// Whole lane, written by the RxLane only.
struct RxLaneCounters {
    uint64_t packets = 0;         // everything received
    uint64_t foreign = 0;         // no gwgen signature
    uint64_t stale = 0;           // a signature of an earlier trial (epoch)
    uint64_t unknown_stream = 0;  // this trial's epoch, a stream number not in it
};

class RxLane {
public:
    RxLane(std::vector<RxQueueRef> queues, uint16_t burst, uint64_t tsc_hz);

    // Prepares a trial of n_streams with this epoch: counters, sequence windows and
    // latency recorders start afresh. Call only while no thread polls.
    void arm(unsigned n_streams, uint8_t epoch);
    // One round over every queue. Returns the packets received.
    unsigned poll() noexcept;
    // Accounts for and frees n packets received at rx_tsc (poll's inner step; tests
    // call it with bursts of their own).
    void receive(rte_mbuf** pkts, uint16_t n, uint64_t rx_tsc) noexcept;

    [[nodiscard]] unsigned streams() const noexcept { return n_streams_; }
    [[nodiscard]] const RxCounters& counters(std::size_t i) const noexcept { return streams_[i]->c; }
    [[nodiscard]] const RxLaneCounters& lane_counters() const noexcept { return lane_; }
    // Control side of stream i's latency (ns).
    [[nodiscard]] dp::LatencyRecorder& latency(std::size_t i) noexcept { return *streams_[i]->latency; }
    [[nodiscard]] const std::vector<RxQueueRef>& queues() const noexcept { return queues_; }

private:
    void account(rte_mbuf* m, uint64_t rx_tsc) noexcept;

    struct alignas(64) Stream {
        RxCounters c;
        dp::LatencyHistogram* round = nullptr;  // this round's buffer (begin_burst)
        SeqTracker seq;
        std::unique_ptr<dp::LatencyRecorder> latency;
    };

    std::vector<RxQueueRef> queues_;
    uint16_t burst_;
    double ns_per_tsc_;
    uint8_t epoch_ = 0;
    unsigned n_streams_ = 0;
    RxLaneCounters lane_;
    std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace gw::gen
