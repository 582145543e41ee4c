#pragma once
// A worker lcore: polls its (port, queue) pairs, forwards bursts, drains tx
// buffers on a deadline. Run-to-completion; never blocks, never allocates.

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/lcore_context.h"
#include "dataplane/worker_telemetry.h"

struct rte_rcu_qsbr;

namespace gw::dp {

struct RxQueue {
    uint16_t port = 0;     // port index
    uint16_t port_id = 0;  // ethdev id
    uint16_t queue = 0;
    QueueTelemetry* tm = nullptr;  // owned by the Dataplane; follows the queue between workers
};
using RxList = std::vector<RxQueue>;

class Worker {
public:
    // Every RxQueue must carry its QueueTelemetry. `telemetry`: stamp received
    // packets, record their residence time and the cycles of each stage.
    Worker(unsigned lcore, RxList rx, const Tables& tables, uint16_t burst, uint32_t drain_us, uint32_t idle_sleep_us,
           uint32_t icmp_rate_pps, bool telemetry);
    ~Worker();

    // One round over every rx queue; drains tx buffers whose deadline passed.
    // Returns the packets received. Exposed so tests can step a worker.
    uint16_t poll_once(uint64_t now_tsc) noexcept;

    // Loops until `stop` becomes true, then flushes what it holds.
    void run(const std::atomic<bool>& stop) noexcept;

    // Registers the worker with the RCU quiescent-state variable (thread id
    // `id`); run() then reports a quiescent state after every round.
    void set_qsbr(rte_rcu_qsbr* qs, uint32_t id) noexcept {
        qsbr_ = qs;
        qsbr_id_ = id;
    }

    [[nodiscard]] unsigned lcore() const noexcept { return lcore_; }
    // The queues this worker polls. Control thread: read it, or swap it with
    // set_rx_queues (the worker picks the new list up at its next round; the
    // caller frees the returned list once the worker passed a quiescent state).
    [[nodiscard]] const RxList& rx_queues() const noexcept { return *rx_.load(std::memory_order_acquire); }
    [[nodiscard]] const RxList* set_rx_queues(const RxList* next) noexcept {
        return rx_.exchange(next, std::memory_order_acq_rel);
    }
    [[nodiscard]] LcoreContext& context() noexcept { return ctx_; }
    [[nodiscard]] const LcoreContext& context() const noexcept { return ctx_; }

private:
    void begin_round(const RxList& rx) noexcept;
    void end_round(const RxList& rx) noexcept;

    LcoreContext ctx_;
    unsigned lcore_;
    std::atomic<const RxList*> rx_;
    uint64_t drain_tsc_;
    uint64_t last_drain_tsc_ = 0;
    uint32_t idle_sleep_us_;
    rte_rcu_qsbr* qsbr_ = nullptr;
    uint32_t qsbr_id_ = 0;
};

}  // namespace gw::dp
