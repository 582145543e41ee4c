#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/forward.h"

namespace gw::dp {

Worker::Worker(unsigned lcore, std::vector<RxQueue> rx, const Tables& tables, uint16_t burst, uint32_t drain_us,
               uint32_t idle_sleep_us, uint32_t icmp_rate_pps) noexcept
    : lcore_(lcore),
      rx_(std::move(rx)),
      drain_tsc_((rte_get_tsc_hz() + US_PER_S - 1) / US_PER_S * drain_us),
      idle_sleep_us_(idle_sleep_us) {
    ctx_.tables = &tables;
    ctx_.burst = burst;
    ctx_.icmp_limit = make_icmp_limit(icmp_rate_pps);
}

uint16_t Worker::poll_once(uint64_t now_tsc) noexcept {
    if (now_tsc - last_drain_tsc_ >= drain_tsc_) {
        flush_tx(ctx_);
        last_drain_tsc_ = now_tsc;
    }
    rte_mbuf* pkts[kMaxBurstDp];
    uint16_t total = 0;
    for (const auto& q : rx_) {
        const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, ctx_.burst);
        ++ctx_.counters.polls;
        if (n == 0) {
            ++ctx_.counters.empty_polls;
            continue;
        }
        forward_burst(ctx_, q.port, pkts, n);
        total = static_cast<uint16_t>(total + n);
    }
    return total;
}

void Worker::run(const std::atomic<bool>& stop) noexcept {
    if (qsbr_ != nullptr) {
        rte_rcu_qsbr_thread_register(qsbr_, qsbr_id_);
        rte_rcu_qsbr_thread_online(qsbr_, qsbr_id_);
    }
    while (!stop.load(std::memory_order_relaxed)) {
        const uint16_t n = poll_once(rte_rdtsc());
        if (qsbr_ != nullptr) {
            rte_rcu_qsbr_quiescent(qsbr_, qsbr_id_);  // holds no table pointer between rounds
        }
        if (n == 0 && idle_sleep_us_ != 0) {
            // Nothing buffered may wait longer than drain-us: flush before sleeping.
            flush_tx(ctx_);
            rte_delay_us_sleep(idle_sleep_us_);
        }
    }
    flush_tx(ctx_);
    if (qsbr_ != nullptr) {
        rte_rcu_qsbr_thread_offline(qsbr_, qsbr_id_);
        rte_rcu_qsbr_thread_unregister(qsbr_, qsbr_id_);
    }
}

}  // namespace gw::dp
