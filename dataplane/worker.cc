#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/forward.h"

namespace gw::dp {

Worker::Worker(unsigned lcore, RxList rx, const Tables& tables, uint16_t burst, uint32_t drain_us,
               uint32_t idle_sleep_us, uint32_t icmp_rate_pps, bool telemetry)
    : lcore_(lcore),
      rx_(new RxList(std::move(rx))),
      drain_tsc_((rte_get_tsc_hz() + US_PER_S - 1) / US_PER_S * drain_us),
      idle_sleep_us_(idle_sleep_us) {
    ctx_.tables = &tables;
    ctx_.burst = burst;
    ctx_.icmp_limit = make_icmp_limit(icmp_rate_pps);
    ctx_.telemetry = telemetry;
    ctx_.ns_mult = tsc_to_ns_mult(rte_get_tsc_hz());
}

Worker::~Worker() {
    delete rx_.load(std::memory_order_relaxed);
}

// A round's latency samples go to the buffers the recorders hand out now
// (LatencyRecorder protocol: begin, record, end — nothing outside a round).
void Worker::begin_round(const RxList& rx) noexcept {
    if (ctx_.telemetry) {
        for (std::size_t i = 0; i < rx.size(); ++i) {
            ctx_.latency[i] = &rx[i].tm->latency.begin_burst();
        }
    }
}

void Worker::end_round(const RxList& rx) noexcept {
    if (ctx_.telemetry) {
        for (std::size_t i = 0; i < rx.size(); ++i) {
            rx[i].tm->latency.end_burst();
            ctx_.latency[i] = nullptr;
        }
    }
}

uint16_t Worker::poll_once(uint64_t now_tsc) noexcept {
    const RxList& rx = *rx_.load(std::memory_order_acquire);
    const bool timed = ctx_.telemetry;
    begin_round(rx);
    uint64_t mark = now_tsc;  // end of the last measured step
    if (now_tsc - last_drain_tsc_ >= drain_tsc_) {
        flush_tx(ctx_);
        last_drain_tsc_ = now_tsc;
        mark = timed ? rte_rdtsc() : now_tsc;
    }
    rte_mbuf* pkts[kMaxBurstDp];
    uint16_t total = 0;
    for (std::size_t slot = 0; slot < rx.size(); ++slot) {
        const RxQueue& q = rx[slot];
        const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, ctx_.burst);
        ++ctx_.counters.polls;
        ++q.tm->polls;
        if (n == 0) {
            ++ctx_.counters.empty_polls;
            ++q.tm->empty_polls;
            mark = timed ? rte_rdtsc() : mark;  // idle time belongs to no stage
            continue;
        }
        uint64_t nested = 0;
        if (timed) {
            const uint64_t now = rte_rdtsc();
            ctx_.counters.stage(Stage::rx, n, now - mark);
            mark = now;
            const uint64_t stamp = make_rx_stamp(now, static_cast<uint16_t>(slot));
            for (uint16_t i = 0; i < n; ++i) {
                set_rx_stamp(pkts[i], stamp);
            }
            nested = ctx_.nested_cycles;
        }
        const uint64_t bytes_before = ctx_.counters.rx_bytes;
        forward_burst(ctx_, q.port, pkts, n);
        q.tm->rx_packets += n;
        q.tm->rx_bytes += ctx_.counters.rx_bytes - bytes_before;
        if (timed) {
            // Forwarding proper: ESP and tx bursts inside it count as their own stages.
            const uint64_t now = rte_rdtsc();
            ctx_.counters.stage(Stage::forward, n, now - mark - (ctx_.nested_cycles - nested));
            mark = now;
        }
        total = static_cast<uint16_t>(total + n);
    }
    if (total == 0 && idle_sleep_us_ != 0) {
        // The caller sleeps next; nothing buffered may wait longer than drain-us.
        flush_tx(ctx_);
    }
    end_round(rx);
    // A timed busy round has just read the TSC after its last poll (and end_round is a
    // store per queue): that mark ends the round too.
    const uint64_t elapsed = (timed && total != 0 ? mark : rte_rdtsc()) - now_tsc;
    ctx_.counters.total_cycles += elapsed;
    ctx_.counters.busy_cycles += total != 0 ? elapsed : 0;
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
            rte_rcu_qsbr_quiescent(qsbr_, qsbr_id_);  // holds no table or rx list pointer between rounds
        }
        if (n == 0 && idle_sleep_us_ != 0) {
            rte_delay_us_sleep(idle_sleep_us_);
        }
    }
    const RxList& rx = *rx_.load(std::memory_order_acquire);
    begin_round(rx);
    flush_tx(ctx_);
    end_round(rx);
    if (qsbr_ != nullptr) {
        rte_rcu_qsbr_thread_offline(qsbr_, qsbr_id_);
        rte_rcu_qsbr_thread_unregister(qsbr_, qsbr_id_);
    }
}

}  // namespace gw::dp
