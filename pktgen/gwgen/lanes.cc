#include "pktgen/gwgen/lanes.h"

#include <algorithm>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

namespace gw::gen {

TxLane::TxLane(rte_mempool* pool, uint16_t burst, uint64_t tsc_hz, uint64_t max_lag_tsc)
    : pool_(pool), burst_(std::min(burst, kMaxBurst)), tsc_hz_(tsc_hz), max_lag_tsc_(max_lag_tsc) {}

void TxLane::add(const TxStreamPlan* plan) {
    streams_.push_back(State{.plan = plan, .sizes = SizeModel(plan->sizes)});
}

void TxLane::arm(uint64_t t0_tsc, double duration_s, uint8_t epoch, double load) {
    const auto at = [&](double s) { return t0_tsc + static_cast<uint64_t>(s * static_cast<double>(tsc_hz_)); };
    for (auto& s : streams_) {
        const TxStreamPlan& p = *s.plan;
        s.schedule = make_schedule(p.rate, load, p.link_mbps);
        s.start_tsc = at(p.start_s);
        s.end_tsc = at(p.stop_s == 0 ? duration_s : std::min(p.stop_s, duration_s));
        s.pacer.start(s.start_tsc, tsc_hz_, s.schedule.units_per_s);
        s.sizes.restart();
        s.seq = 0;
        s.rng = seed_state(p.seed);
        s.count = p.count;
        s.epoch = epoch;
        s.c = TxCounters{.start_tsc = s.start_tsc};
        s.done = s.start_tsc >= s.end_tsc;
        if (s.done) {
            s.c.done_tsc = s.start_tsc;
        }
    }
}

bool TxLane::poll(uint64_t now_tsc) noexcept {
    bool active = false;
    for (auto& s : streams_) {
        active |= poll_stream(s, now_tsc);
    }
    return active;
}

void TxLane::stop_all(uint64_t now_tsc) noexcept {
    for (auto& s : streams_) {
        if (!s.done) {
            s.done = true;
            s.c.done_tsc = now_tsc;
        }
    }
}

bool TxLane::poll_stream(State& s, uint64_t now) noexcept {
    if (s.done) {
        return false;
    }
    if (now < s.pacer.deadline()) {
        return true;
    }
    uint64_t lag = now - s.pacer.deadline();
    if (lag > max_lag_tsc_) [[unlikely]] {
        ++s.c.slips;
        s.pacer.rebase(now);
        lag = 0;
    }
    s.c.max_lag_tsc = std::max(s.c.max_lag_tsc, lag);

    uint16_t sizes[kMaxBurst];
    uint16_t n = 0;
    bool finished = false;
    while (n < burst_) {
        const uint64_t due = s.pacer.deadline();
        if (due >= s.end_tsc || (s.count != 0 && s.seq + n >= s.count)) {
            // The last packet's slot has passed: the stream has run its course.
            finished = now >= std::min(due, s.end_tsc);
            break;
        }
        if (due > now) {
            break;
        }
        sizes[n] = s.sizes.next(s.rng);
        s.pacer.advance(s.schedule.units(sizes[n]));
        ++n;
    }
    if (n > 0) {
        rte_mbuf* pkts[kMaxBurst];
        if (rte_pktmbuf_alloc_bulk(pool_, pkts, n) != 0) [[unlikely]] {
            s.c.nombuf += n;
            s.seq += n;
        } else {
            const TxStreamPlan& p = *s.plan;
            const uint64_t tsc = rte_rdtsc();
            const uint32_t flows = p.frame.flows();
            for (uint16_t i = 0; i < n; ++i) {
                rte_mbuf* m = pkts[i];
                const uint16_t len = sizes[i] - kFcsLen;
                m->data_len = len;
                m->pkt_len = len;
                const uint64_t seq = s.seq + i;
                p.frame.write(rte_pktmbuf_mtod(m, uint8_t*), sizes[i], static_cast<uint32_t>(seq % flows),
                              Signature{.epoch = s.epoch, .stream = p.index, .seq = seq, .tx_tsc = tsc});
            }
            s.seq += n;
            const uint16_t sent = rte_eth_tx_burst(p.port_id, p.queue, pkts, n);
            if (sent < n) {
                rte_pktmbuf_free_bulk(pkts + sent, n - sent);
                s.c.refused += n - sent;
            }
            uint64_t bytes = 0;
            for (uint16_t i = 0; i < sent; ++i) {
                bytes += sizes[i];
            }
            s.c.packets += sent;
            s.c.bytes += bytes;
        }
    }
    if (finished) {
        s.done = true;
        s.c.done_tsc = now;
    }
    return !s.done;
}

RxLane::RxLane(std::vector<RxQueueRef> queues, uint16_t burst, uint64_t tsc_hz)
    : queues_(std::move(queues)), burst_(std::min(burst, kMaxBurst)), ns_per_tsc_(1e9 / static_cast<double>(tsc_hz)) {}

void RxLane::arm(unsigned n_streams, uint8_t epoch) {
    n_streams_ = n_streams;
    epoch_ = epoch;
    lane_ = RxLaneCounters{};
    while (streams_.size() < n_streams) {
        streams_.push_back(std::make_unique<Stream>());
    }
    for (auto& s : streams_) {
        s->c = RxCounters{};
        s->seq.reset();
        s->latency = std::make_unique<dp::LatencyRecorder>(1);
        s->round = nullptr;
    }
}

unsigned RxLane::poll() noexcept {
    for (unsigned i = 0; i < n_streams_; ++i) {
        streams_[i]->round = &streams_[i]->latency->begin_burst();
    }
    unsigned total = 0;
    rte_mbuf* pkts[kMaxBurst];
    for (const auto& q : queues_) {
        // Full bursts mean more is waiting: keep taking (bounded), so that a lane that
        // also sends (one burst per stream per round) is never outpaced by its own tx.
        for (unsigned b = 0; b < kRxBurstsPerRound; ++b) {
            const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, burst_);
            if (n == 0) {
                break;
            }
            const uint64_t rx_tsc = rte_rdtsc();
            lane_.packets += n;
            for (uint16_t i = 0; i < n; ++i) {
                if (i + 1 < n) {
                    rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
                }
                account(pkts[i], rx_tsc);
            }
            rte_pktmbuf_free_bulk(pkts, n);
            total += n;
            if (n < burst_) {
                break;
            }
        }
    }
    for (unsigned i = 0; i < n_streams_; ++i) {
        streams_[i]->latency->end_burst();
    }
    return total;
}

void RxLane::receive(rte_mbuf** pkts, uint16_t n, uint64_t rx_tsc) noexcept {
    for (unsigned i = 0; i < n_streams_; ++i) {
        streams_[i]->round = &streams_[i]->latency->begin_burst();
    }
    lane_.packets += n;
    for (uint16_t i = 0; i < n; ++i) {
        account(pkts[i], rx_tsc);
    }
    rte_pktmbuf_free_bulk(pkts, n);
    for (unsigned i = 0; i < n_streams_; ++i) {
        streams_[i]->latency->end_burst();
    }
}

void RxLane::account(rte_mbuf* m, uint64_t rx_tsc) noexcept {
    const auto sig = parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
    if (!sig) {
        ++lane_.foreign;
        return;
    }
    if (sig->epoch != epoch_) [[unlikely]] {
        ++lane_.stale;
        return;
    }
    if (sig->stream >= n_streams_) [[unlikely]] {
        ++lane_.unknown_stream;
        return;
    }
    Stream& s = *streams_[sig->stream];
    if (s.c.packets == 0) {
        s.c.first_tsc = rx_tsc;
    }
    s.c.last_tsc = rx_tsc;
    ++s.c.packets;
    s.c.bytes += m->pkt_len + kFcsLen;
    switch (s.seq.observe(sig->seq)) {
        case SeqTracker::Verdict::in_order:
        case SeqTracker::Verdict::gap:
            break;
        case SeqTracker::Verdict::late:
            ++s.c.late;
            break;
        case SeqTracker::Verdict::duplicate:
            ++s.c.duplicates;
            return;  // a copy's latency says nothing about the path
        case SeqTracker::Verdict::too_late:
            ++s.c.too_late;
            break;
    }
    s.round->record(static_cast<uint64_t>(static_cast<double>(tsc_delta48(rx_tsc, sig->tx_tsc)) * ns_per_tsc_));
}

}  // namespace gw::gen
