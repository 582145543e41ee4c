// Dataplane: what the control thread changes and reads while the workers run
// (runtime table swaps, rx placement, telemetry snapshots). Lifecycle and
// construction live in dataplane.cc.

#include <algorithm>
#include <chrono>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "common/log.h"
#include "common/net.h"
#include "dataplane/dataplane.h"

namespace gw::dp {
namespace {

uint64_t realtime_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

telemetry::LatencySummary summarize(const LatencyHistogram& h) {
    return telemetry::LatencySummary{
        .count = h.count(),
        .sum_ns = h.sum(),
        .min_ns = h.min(),
        .max_ns = h.max(),
        .p50_ns = h.percentile(50.0),
        .p90_ns = h.percentile(90.0),
        .p99_ns = h.percentile(99.0),
        .p999_ns = h.percentile(99.9),
    };
}

// A sample goes under the first bound >= the upper edge of its bucket
// (telemetry.h): cumulative counts never claim a sample is faster than it was.
telemetry::LatencyBuckets bucketize(const LatencyHistogram& h) {
    telemetry::LatencyBuckets b;
    const auto& bounds = telemetry::kLatencyBucketBoundsNs;
    for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
        const uint64_t c = h.bucket_count(i);
        if (c == 0) {
            continue;
        }
        const uint64_t hi = LatencyHistogram::bucket_highest_ns(i);
        const auto it = std::lower_bound(bounds.begin(), bounds.end(), hi);
        for (auto j = static_cast<std::size_t>(it - bounds.begin()); j < bounds.size(); ++j) {
            b.cumulative[j] += c;
        }
    }
    b.count = h.count();
    b.sum_ns = h.sum();
    return b;
}

telemetry::Latency latency_of(const LatencyHistogram& window, const LatencyHistogram& total) {
    return telemetry::Latency{
        .window = summarize(window), .since_start = summarize(total), .buckets = bucketize(total)};
}

uint64_t minus(uint64_t now, uint64_t base) noexcept {
    return now >= base ? now - base : 0;
}

}  // namespace

QueueTelemetry& Dataplane::queue_telemetry(uint16_t port, uint16_t queue) const {
    return *queue_tm_[queue_tm_base_[port] + queue];
}

void Dataplane::synchronize() noexcept {
    if (qsbr_ != nullptr && launched_ && !stopped_) {
        rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
    }
}

Status Dataplane::apply_routes(const cp::Config& next) {
    cp::Config candidate = config_;
    candidate.routes = next.routes;
    auto fib = Fib::build(candidate, SOCKET_ID_ANY);
    if (!fib) {
        return std::unexpected(fib.error());
    }
    std::unique_ptr<Fib> old = std::move(fib_);
    fib_ = std::move(*fib);
    tables_.fib_ptr.store(fib_.get(), std::memory_order_release);
    synchronize();  // no worker holds the old table past its round
    old.reset();
    config_.routes = next.routes;
    return {};
}

Status Dataplane::apply_ipsec(const cp::Config& next, uint64_t now_tsc) {
    if (auto st = ipsec_->apply(next, now_tsc); !st) {
        return st;
    }
    config_.sas = next.sas;
    config_.policies = next.policies;
    return {};
}

Status Dataplane::set_rx_placement(uint16_t port, uint16_t queue, unsigned lcore) {
    if (port >= config_.ports.size()) {
        return make_error("rx-placement: no port {}", port);
    }
    const auto& pc = config_.ports[port];
    if (queue >= pc.rx_queues) {
        return make_error("rx-placement: port '{}' has rx queues 0..{}, not {}", pc.name, pc.rx_queues - 1, queue);
    }
    auto to = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w->lcore() == lcore; });
    if (to == workers_.end()) {
        return make_error("rx-placement: lcore {} runs no worker", lcore);
    }
    auto polls = [&](const Worker& w) {
        return std::ranges::any_of(w.rx_queues(), [&](const RxQueue& q) { return q.port == port && q.queue == queue; });
    };
    auto from = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return polls(*w); });
    if (from == to) {
        return {};
    }
    if ((*to)->rx_queues().size() >= kMaxQueuesPerWorker) {
        return make_error("rx-placement: lcore {} already polls {} queues", lcore, kMaxQueuesPerWorker);
    }
    // Step 1: the old owner lets go, and has finished every round that polled it.
    // (A packet still in its tx buffers may record its latency under the slot
    // the next queue takes in that worker's list: at most drain-us of samples.)
    if (from != workers_.end()) {
        auto* rx = new RxList((*from)->rx_queues());
        std::erase_if(*rx, [&](const RxQueue& q) { return q.port == port && q.queue == queue; });
        std::unique_ptr<const RxList> old((*from)->set_rx_queues(rx));
        synchronize();
    }
    // Step 2: the new owner starts polling it.
    auto* rx = new RxList((*to)->rx_queues());
    rx->push_back(RxQueue{
        .port = port, .port_id = tables_.ports[port].port_id, .queue = queue, .tm = &queue_telemetry(port, queue)});
    std::unique_ptr<const RxList> old((*to)->set_rx_queues(rx));
    synchronize();

    for (auto& wc : config_.workers) {
        std::erase_if(wc.rx_queues, [&](const cp::RxQueueRef& r) { return r.port == port && r.queue == queue; });
        if (wc.lcore == lcore) {
            wc.rx_queues.push_back(cp::RxQueueRef{.port = port, .queue = queue});
        }
    }
    log::info("rx-placement: port '{}' queue {} now polled by lcore {}", pc.name, queue, lcore);
    return {};
}

unsigned Dataplane::collect_latency() noexcept {
    unsigned n = 0;
    if (stopped_ || !config_.telemetry.latency) {
        return n;  // with latency off, workers never take a buffer: nothing to collect
    }
    for (auto& tm : queue_tm_) {
        n += tm->latency.try_collect() == LatencyRecorder::Collect::done ? 1 : 0;
    }
    return n;
}

void Dataplane::clear_counters() {
    Baseline b;
    for (const auto& w : workers_) {
        b.lcores.push_back(w->context().counters);
    }
    if (control_ctx_) {
        b.lcores.push_back(control_ctx_->counters);
    }
    b.ports = port_stats();
    for (const auto& tm : queue_tm_) {
        b.queues.push_back({tm->rx_packets, tm->rx_bytes, tm->polls, tm->empty_polls});
        tm->latency.clear_collected();
        if (config_.telemetry.latency && !stopped_) {
            (void)tm->latency.try_collect();  // the worker moves to a fresh buffer now
        }
    }
    b.at_ns = realtime_ns();
    baseline_ = std::move(b);
    log::info("counters cleared");
}

telemetry::Snapshot Dataplane::snapshot() const {
    telemetry::Snapshot s;
    s.taken_ns = realtime_ns();
    s.started_ns = started_ns_;
    s.cleared_at_ns = baseline_.at_ns;
    s.tsc_hz = rte_get_tsc_hz();
    s.window_s = config_.telemetry.window_s;
    s.latency_enabled = config_.telemetry.latency;
    s.mbufs_in_use = mbufs_in_use();
    for (const auto* pool : pools_) {
        s.mbufs_total += pool->size;
    }

    const auto ports = port_stats();
    for (std::size_t p = 0; p < ports.size(); ++p) {
        const auto& now = ports[p];
        const PortStats base = p < baseline_.ports.size() ? baseline_.ports[p] : PortStats{};
        telemetry::PortStats ps{
            .name = now.name,
            .driver = {},
            .mac = {},
            .mtu = config_.ports[p].mtu,
            .rx_queues = config_.ports[p].rx_queues,
            .ipackets = minus(now.ipackets, base.ipackets),
            .opackets = minus(now.opackets, base.opackets),
            .ibytes = minus(now.ibytes, base.ibytes),
            .obytes = minus(now.obytes, base.obytes),
            .imissed = minus(now.imissed, base.imissed),
            .ierrors = minus(now.ierrors, base.ierrors),
            .oerrors = minus(now.oerrors, base.oerrors),
            .rx_nombuf = minus(now.rx_nombuf, base.rx_nombuf),
        };
        const uint16_t id = tables_.ports[p].port_id;
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof mac, &tables_.ports[p].mac);
        ps.mac = mac;
        rte_eth_dev_info info{};
        if (!stopped_ && rte_eth_dev_info_get(id, &info) == 0) {
            ps.driver = info.driver_name != nullptr ? info.driver_name : "";
            ps.tx_queues = info.nb_tx_queues;
            rte_eth_link link{};
            if (rte_eth_link_get_nowait(id, &link) == 0) {
                ps.link_up = link.link_status == RTE_ETH_LINK_UP;
                ps.link_speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
            }
        }
        s.ports.push_back(std::move(ps));
    }

    auto drops_of = [](const LcoreCounters& c) {
        std::vector<telemetry::DropCount> out;
        for (std::size_t r = 0; r < kNumDropReasons; ++r) {
            out.push_back({.reason = std::string(kDropReasonInfo[r].label), .packets = c.drops[r]});
        }
        return out;
    };
    LatencyHistogram all_window;
    LatencyHistogram all_total;
    auto lcore_entry = [&](std::size_t index, unsigned lcore, bool control, const LcoreCounters& now,
                           const RxList* rx) {
        LcoreCounters c = now;
        if (index < baseline_.lcores.size()) {
            const auto& b = baseline_.lcores[index];
            c.rx_packets = minus(c.rx_packets, b.rx_packets);
            c.rx_bytes = minus(c.rx_bytes, b.rx_bytes);
            c.tx_packets = minus(c.tx_packets, b.tx_packets);
            c.tx_bytes = minus(c.tx_bytes, b.tx_bytes);
            c.polls = minus(c.polls, b.polls);
            c.empty_polls = minus(c.empty_polls, b.empty_polls);
            c.punted = minus(c.punted, b.punted);
            c.icmp_sent = minus(c.icmp_sent, b.icmp_sent);
            c.icmp_rate_limited = minus(c.icmp_rate_limited, b.icmp_rate_limited);
            c.fragments_made = minus(c.fragments_made, b.fragments_made);
            c.busy_cycles = minus(c.busy_cycles, b.busy_cycles);
            c.total_cycles = minus(c.total_cycles, b.total_cycles);
            for (std::size_t r = 0; r < kNumDropReasons; ++r) {
                c.drops[r] = minus(c.drops[r], b.drops[r]);
            }
            for (std::size_t st = 0; st < kNumStages; ++st) {
                c.stages[st].calls = minus(c.stages[st].calls, b.stages[st].calls);
                c.stages[st].packets = minus(c.stages[st].packets, b.stages[st].packets);
                c.stages[st].cycles = minus(c.stages[st].cycles, b.stages[st].cycles);
            }
        }
        telemetry::LcoreStats ls{
            .lcore = lcore,
            .role = control ? "control" : "worker",
            .rx_packets = c.rx_packets,
            .rx_bytes = c.rx_bytes,
            .tx_packets = c.tx_packets,
            .tx_bytes = c.tx_bytes,
            .polls = c.polls,
            .empty_polls = c.empty_polls,
            .busy_cycles = c.busy_cycles,
            .total_cycles = c.total_cycles,
            .punted = c.punted,
            .icmp_sent = c.icmp_sent,
            .icmp_rate_limited = c.icmp_rate_limited,
            .fragments_made = c.fragments_made,
            .drops = drops_of(c),
        };
        if (!control) {
            for (std::size_t st = 0; st < kNumStages; ++st) {
                ls.stages.push_back({.name = std::string(kStageLabels[st]),
                                     .calls = c.stages[st].calls,
                                     .packets = c.stages[st].packets,
                                     .cycles = c.stages[st].cycles});
            }
        }
        LatencyHistogram window;
        LatencyHistogram total;
        for (const auto& q : rx != nullptr ? *rx : RxList{}) {
            LatencyHistogram qw;
            q.tm->latency.merge_window_into(qw);
            window.merge(qw);
            total.merge(q.tm->latency.since_start());
        }
        ls.latency = latency_of(window, total);
        all_window.merge(window);
        all_total.merge(total);
        s.lcores.push_back(std::move(ls));
    };
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        lcore_entry(i, workers_[i]->lcore(), false, workers_[i]->context().counters, &workers_[i]->rx_queues());
    }
    if (control_ctx_) {
        lcore_entry(workers_.size(), rte_get_main_lcore(), true, control_ctx_->counters, nullptr);
    }
    s.latency = latency_of(all_window, all_total);

    for (const auto& w : workers_) {
        for (const auto& q : w->rx_queues()) {
            const std::size_t idx = queue_tm_base_[q.port] + q.queue;
            const auto base = idx < baseline_.queues.size() ? baseline_.queues[idx] : std::array<uint64_t, 4>{};
            LatencyHistogram window;
            q.tm->latency.merge_window_into(window);
            s.queues.push_back(telemetry::QueueStats{
                .port = config_.ports[q.port].name,
                .queue = q.queue,
                .lcore = w->lcore(),
                .rx_packets = minus(q.tm->rx_packets, base[0]),
                .rx_bytes = minus(q.tm->rx_bytes, base[1]),
                .polls = minus(q.tm->polls, base[2]),
                .empty_polls = minus(q.tm->empty_polls, base[3]),
                .latency = latency_of(window, q.tm->latency.since_start()),
            });
        }
    }

    if (const auto* state = ipsec_ ? ipsec_->current() : nullptr) {
        for (const auto* sa : state->sas) {
            const bool v6 = sa->outer_v6;
            auto addr = [&](uint32_t v4, const std::array<uint8_t, 16>& a6) {
                return v6 ? net::to_string(net::IpAddr{net::Ip6Addr{a6}})
                          : net::to_string(net::IpAddr{net::Ip4Addr{v4}});
            };
            s.sas.push_back(telemetry::SaStats{
                .name = sa->name,
                .spi = sa->spi,
                .direction = sa->outbound ? "out" : "in",
                .cipher = fmt::format("aes-gcm-{}", sa->key.key_len * 8),
                .local = addr(sa->local4_host, sa->local6),
                .remote = addr(sa->remote4_host, sa->remote6),
                .esn = sa->esn,
                .packets = sa->packets.load(std::memory_order_relaxed),
                .bytes = sa->bytes.load(std::memory_order_relaxed),
                .replay_drops = sa->replay_drops.load(std::memory_order_relaxed),
                .auth_drops = sa->auth_drops.load(std::memory_order_relaxed),
                .seq = sa->outbound ? sa->next_seq.load(std::memory_order_relaxed) - 1 : sa->replay.top(),
            });
        }
    }
    return s;
}

}  // namespace gw::dp
