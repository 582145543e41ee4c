#pragma once
// A worker lcore: polls its (port, queue) pairs, forwards bursts, drains tx
// buffers on a deadline. Run-to-completion; never blocks, never allocates.

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/lcore_context.h"

struct rte_rcu_qsbr;

namespace gw::dp {

struct RxQueue {
    uint16_t port = 0;     // port index
    uint16_t port_id = 0;  // ethdev id
    uint16_t queue = 0;
};

class Worker {
public:
    Worker(unsigned lcore, std::vector<RxQueue> rx, const Tables& tables, uint16_t burst, uint32_t drain_us,
           uint32_t idle_sleep_us, uint32_t icmp_rate_pps) noexcept;

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
    [[nodiscard]] const std::vector<RxQueue>& rx_queues() const noexcept { return rx_; }
    [[nodiscard]] LcoreContext& context() noexcept { return ctx_; }
    [[nodiscard]] const LcoreContext& context() const noexcept { return ctx_; }

private:
    LcoreContext ctx_;
    unsigned lcore_;
    std::vector<RxQueue> rx_;
    uint64_t drain_tsc_;
    uint64_t last_drain_tsc_ = 0;
    uint32_t idle_sleep_us_;
    rte_rcu_qsbr* qsbr_ = nullptr;
    uint32_t qsbr_id_ = 0;
};

}  // namespace gw::dp
