#include "pktgen/gwgen/generator.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <fmt/core.h>

#include "dataplane/port.h"

namespace gw::gen {

namespace {

constexpr unsigned kPoolCache = 256;
constexpr double kStartDelayS = 0.05;  // lanes are launched before the trial's t0
constexpr double kHardMarginS = 30;    // lanes stop on their own this long after the drain
constexpr auto kControlStep = std::chrono::milliseconds(1);
constexpr auto kCollectWait = std::chrono::milliseconds(20);

int lane_main(void* arg) {
    auto& t = *static_cast<Generator::LaneTask*>(arg);
    bool tx_active = t.tx != nullptr;
    while (!t.stop.load(std::memory_order_relaxed)) {
        const uint64_t now = rte_rdtsc();
        if (now > t.hard_end_tsc) [[unlikely]] {
            break;
        }
        if (tx_active) {
            if (t.tx_stop.load(std::memory_order_relaxed)) [[unlikely]] {
                t.tx->stop_all(now);
            }
            tx_active = t.tx->poll(now);
            if (!tx_active) {
                t.tx_active.store(false, std::memory_order_release);
            }
        }
        if (t.rx != nullptr) {
            t.rx->poll();
        } else if (!tx_active) {
            rte_pause();
        }
    }
    if (tx_active) {
        t.tx->stop_all(rte_rdtsc());
        t.tx_active.store(false, std::memory_order_release);
    }
    return 0;
}

uint32_t pool_size(const Options& o, std::size_t lanes) {
    if (o.mbufs != 0) {
        return o.mbufs;
    }
    // Every descriptor full, a burst per lane in hand, the lcore caches, and room for
    // what a virtual link holds in flight (a net_ring or memif ring of 1024 per queue).
    const uint64_t per_port = uint64_t{o.rx_queues} * (o.rx_desc + 1024) + lanes * (o.tx_desc + 1024);
    const uint64_t need = o.ports.size() * per_port + (lanes + 2) * (kPoolCache + 2 * kMaxBurst) + 4096;
    uint64_t n = 1024;
    while (n - 1 < need) {
        n <<= 1;
    }
    return static_cast<uint32_t>(n - 1);
}

std::string mac_string(const rte_ether_addr& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m.addr_bytes[0], m.addr_bytes[1], m.addr_bytes[2],
                       m.addr_bytes[3], m.addr_bytes[4], m.addr_bytes[5]);
}

net::MacAddr to_mac(const rte_ether_addr& m) {
    net::MacAddr out;
    std::copy(std::begin(m.addr_bytes), std::end(m.addr_bytes), out.bytes.begin());
    return out;
}

struct Snapshot {
    uint64_t tsc = 0;
    std::vector<uint64_t> tx_packets;
    std::vector<uint64_t> rx_packets;
    std::vector<uint64_t> rx_bytes;
};

}  // namespace

Generator::Generator(const Options& opt) : opt_(opt), tsc_hz_(rte_get_tsc_hz()) {}

Generator::~Generator() {
    shutdown();
}

Result<std::unique_ptr<Generator>> Generator::create(const Options& opt) {
    std::unique_ptr<Generator> g(new Generator(opt));
    if (auto st = g->setup(); !st) {
        return std::unexpected(st.error());
    }
    return g;
}

Status Generator::setup() {
    const Options& o = opt_;
    const auto n_tx = static_cast<uint16_t>(o.tx_lcores.size());
    std::vector<unsigned> lcores = o.tx_lcores;
    lcores.push_back(o.rx_lcore);
    for (unsigned l : lcores) {
        if (!rte_lcore_is_enabled(l) || l == rte_get_main_lcore()) {
            return make_error("lcore {}: not a worker lcore of this EAL (main lcore {}; see -l/--lcores)", l,
                              rte_get_main_lcore());
        }
    }

    uint16_t max_frame = 0;
    for (const auto& s : o.streams) {
        max_frame = std::max(max_frame, s.size.max_size());
    }
    const uint32_t n_mbufs = pool_size(o, n_tx);
    const uint16_t data_room =
        static_cast<uint16_t>(std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, max_frame) + RTE_PKTMBUF_HEADROOM);
    pool_ = rte_pktmbuf_pool_create("gwgen_pool", n_mbufs, kPoolCache, 0, data_room, rte_socket_id());
    if (pool_ == nullptr) {
        return make_errno_error(-rte_errno, "mempool of {} mbufs ({} B each): {} (more memory: -m or hugepages)",
                                n_mbufs, data_room, rte_strerror(rte_errno));
    }
    mempool_.size = n_mbufs;

    const uint16_t mtu = std::max<uint16_t>(1500, max_frame - kEthHdrLen - kFcsLen);
    for (std::size_t i = 0; i < o.ports.size(); ++i) {
        auto id = dp::probe_port(o.ports[i]);
        if (!id) {
            return std::unexpected(id.error());
        }
        for (const auto& p : ports_) {
            if (p.port_id == *id) {
                return make_error("port '{}': the same device as '{}'", o.ports[i], p.devargs);
            }
        }
        const cp::PortConfig pc{.name = o.ports[i],
                                .devargs = o.ports[i],
                                .rx_queues = o.rx_queues,
                                .rx_desc = o.rx_desc,
                                .tx_desc = o.tx_desc,
                                .mtu = mtu,
                                .promiscuous = true};
        auto q = dp::configure_port(*id, pc, n_tx, pool_);
        if (!q) {
            return std::unexpected(q.error());
        }
        started_.push_back(*id);
        if (q->tx < n_tx) {
            return make_error("port '{}': {} tx queues, one per tx lcore ({}) is needed", o.ports[i], q->tx, n_tx);
        }
        rte_eth_dev_info info{};
        rte_eth_dev_info_get(*id, &info);
        ports_.push_back(PortInfo{.devargs = o.ports[i],
                                  .driver = info.driver_name != nullptr ? info.driver_name : "?",
                                  .port_id = *id,
                                  .mac = mac_string(dp::port_mac(*id)),
                                  .rx_queues = q->rx,
                                  .tx_queues = q->tx});
    }

    // Links: virtual ones (memif) come up when their peer connects.
    const uint64_t link_deadline = rte_rdtsc() + static_cast<uint64_t>(o.link_timeout_s * tsc_hz_);
    for (auto& p : ports_) {
        rte_eth_link link{};
        while (true) {
            rte_eth_link_get_nowait(p.port_id, &link);
            if (link.link_status == RTE_ETH_LINK_UP || rte_rdtsc() > link_deadline) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (link.link_status != RTE_ETH_LINK_UP) {
            return make_error("port '{}': link still down after {} s (is its peer running?)", p.devargs,
                              o.link_timeout_s);
        }
        if (o.link_speed_mbps != 0) {
            p.link_mbps = o.link_speed_mbps;
        } else if (link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN) {
            p.link_mbps = link.link_speed;
        }
    }

    for (uint16_t l = 0; l < n_tx; ++l) {
        tx_lanes_.push_back(std::make_unique<TxLane>(pool_, o.burst, tsc_hz_, o.max_lag_us * tsc_hz_ / 1'000'000));
    }
    for (std::size_t i = 0; i < o.streams.size(); ++i) {
        const StreamSpec& s = o.streams[i];
        const PortInfo& port = ports_[s.port];
        if (s.rate.unit == RateUnit::percent && port.link_mbps == 0) {
            return make_error("stream '{}': rate {} of a link whose speed port '{}' does not report; give --link-speed",
                              s.name, to_string(s.rate), port.devargs);
        }
        const std::size_t lane = s.lane >= 0 ? static_cast<std::size_t>(s.lane) : i % n_tx;
        rte_ether_addr own{};
        rte_eth_macaddr_get(port.port_id, &own);
        const net::MacAddr src = s.src_mac.value_or(to_mac(own));
        const net::MacAddr dst = s.dst_mac.value_or(o.dst_mac.value_or(to_mac(own)));
        const uint64_t seed = o.seed * 1'000'003 + i;
        plans_.push_back(std::make_unique<TxStreamPlan>(TxStreamPlan{.index = static_cast<uint8_t>(i),
                                                                     .frame = FrameTemplate(s, src, dst, seed),
                                                                     .sizes = s.size,
                                                                     .rate = s.rate,
                                                                     .link_mbps = port.link_mbps,
                                                                     .count = s.count,
                                                                     .start_s = s.start_s,
                                                                     .stop_s = s.stop_s,
                                                                     .port_id = port.port_id,
                                                                     .queue = static_cast<uint16_t>(lane),
                                                                     .seed = seed}));
        tx_lanes_[lane]->add(plans_.back().get());
        where_.emplace_back(lane, tx_lanes_[lane]->size() - 1);
    }
    std::vector<RxQueueRef> queues;
    for (const auto& p : ports_) {
        for (uint16_t q = 0; q < p.rx_queues; ++q) {
            queues.push_back(RxQueueRef{.port_id = p.port_id, .queue = q});
        }
    }
    rx_lane_ = std::make_unique<RxLane>(std::move(queues), o.burst, tsc_hz_);

    std::map<unsigned, LaneTask*> by_lcore;
    auto task_for = [&](unsigned lcore) {
        auto [it, fresh] = by_lcore.emplace(lcore, nullptr);
        if (fresh) {
            tasks_.push_back(std::make_unique<LaneTask>());
            tasks_.back()->lcore = lcore;
            it->second = tasks_.back().get();
        }
        return it->second;
    };
    for (uint16_t l = 0; l < n_tx; ++l) {
        task_for(o.tx_lcores[l])->tx = tx_lanes_[l].get();
    }
    task_for(o.rx_lcore)->rx = rx_lane_.get();
    return {};
}

double Generator::full_load_pps() const {
    double pps = 0;
    for (std::size_t i = 0; i < plans_.size(); ++i) {
        const auto& p = *plans_[i];
        pps += make_schedule(p.rate, 1, p.link_mbps).pps(p.sizes.mean_size());
    }
    return pps;
}

Result<RunResult> Generator::run(const Trial& trial, const std::atomic<int>& interrupts) {
    if (shut_down_) {
        return make_error("trial '{}': the generator is shut down", trial.label);
    }
    const std::size_t n = plans_.size();
    const double hz = static_cast<double>(tsc_hz_);
    const auto tsc_of = [&](double s) { return static_cast<uint64_t>(s * hz); };
    ++epoch_;
    const uint64_t t0 = rte_rdtsc() + tsc_of(kStartDelayS);
    for (auto& lane : tx_lanes_) {
        lane->arm(t0, trial.duration_s, epoch_, trial.load);
    }
    rx_lane_->arm(static_cast<unsigned>(n), epoch_);
    const uint64_t hard_end = t0 + tsc_of(trial.duration_s + opt_.drain_s + kHardMarginS);
    for (auto& t : tasks_) {
        t->hard_end_tsc = hard_end;
        t->stop.store(false, std::memory_order_relaxed);
        t->tx_stop.store(false, std::memory_order_relaxed);
        t->tx_active.store(t->tx != nullptr, std::memory_order_relaxed);
    }
    std::vector<LaneTask*> launched;
    auto stop_lanes = [&] {
        for (auto* t : launched) {
            t->stop.store(true, std::memory_order_relaxed);
        }
        for (auto* t : launched) {
            rte_eal_wait_lcore(t->lcore);
        }
    };
    for (auto& t : tasks_) {
        if (int rc = rte_eal_remote_launch(lane_main, t.get(), t->lcore); rc != 0) {
            stop_lanes();
            return make_errno_error(rc, "trial '{}': cannot launch lcore {}: {}", trial.label, t->lcore,
                                    rte_strerror(-rc));
        }
        launched.push_back(t.get());
    }

    RunResult result{.label = trial.label, .load = trial.load, .duration_s = trial.duration_s};
    auto snapshot = [&](uint64_t tsc) {
        Snapshot s{.tsc = tsc};
        for (std::size_t i = 0; i < n; ++i) {
            const auto& [lane, idx] = where_[i];
            const auto& r = rx_lane_->counters(i);
            s.tx_packets.push_back(read_counter(tx_lanes_[lane]->counters(idx).packets));
            s.rx_packets.push_back(read_counter(r.packets));
            s.rx_bytes.push_back(read_counter(r.bytes));
        }
        return s;
    };
    // collected[i]: stream i's latency flip completed for this interval (else its samples
    // stay in the recorder and show in the next interval; this one reports none).
    auto interval_of = [&](const Snapshot& a, const Snapshot& b, const std::vector<bool>& collected) {
        Interval iv{.t_s = static_cast<double>(b.tsc - t0) / hz, .dt_s = static_cast<double>(b.tsc - a.tsc) / hz};
        auto all = std::make_unique<dp::LatencyHistogram>();
        const dp::LatencyHistogram none;
        for (std::size_t i = 0; i < n; ++i) {
            const auto& h = collected[i] ? rx_lane_->latency(i).last_interval() : none;
            IntervalStream is{.tx_packets = b.tx_packets[i] - a.tx_packets[i],
                              .rx_packets = b.rx_packets[i] - a.rx_packets[i],
                              .rx_bytes = b.rx_bytes[i] - a.rx_bytes[i],
                              .latency = LatencySummary::of(h)};
            all->merge(h);
            iv.total.tx_packets += is.tx_packets;
            iv.total.rx_packets += is.rx_packets;
            iv.total.rx_bytes += is.rx_bytes;
            iv.streams.push_back(is);
        }
        iv.total.latency = LatencySummary::of(*all);
        return iv;
    };
    // Flips every stream's latency buffers and waits (bounded) for the rx lane to move on.
    auto collect_latency = [&] {
        std::vector<bool> done(n, false);
        const auto give_up = std::chrono::steady_clock::now() + kCollectWait;
        std::size_t left = n;
        while (left > 0 && std::chrono::steady_clock::now() < give_up) {
            for (std::size_t i = 0; i < n; ++i) {
                if (!done[i] && rx_lane_->latency(i).try_collect() == dp::LatencyRecorder::Collect::done) {
                    done[i] = true;
                    --left;
                }
            }
            if (left > 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
        if (left > 0) {
            fmt::print(stderr, "gwgen: warning: trial '{}': the rx lane took {} latency flips late (> {} ms)\n",
                       trial.label, left, kCollectWait.count());
        }
        return done;
    };
    auto accounted = [&] {
        for (std::size_t i = 0; i < n; ++i) {
            const auto& [lane, idx] = where_[i];
            const auto& r = rx_lane_->counters(i);
            if (read_counter(r.packets) - read_counter(r.duplicates) <
                read_counter(tx_lanes_[lane]->counters(idx).packets)) {
                return false;
            }
        }
        return true;
    };
    auto tx_running = [&] {
        return std::any_of(tasks_.begin(), tasks_.end(),
                           [](const auto& t) { return t->tx_active.load(std::memory_order_acquire); });
    };

    const uint64_t interval = tsc_of(opt_.interval_s);
    Snapshot prev = snapshot(t0);
    uint64_t next_sample = t0 + interval;
    bool tx_done = false;
    uint64_t drain_end = 0;
    while (true) {
        std::this_thread::sleep_for(kControlStep);
        const uint64_t now = rte_rdtsc();
        const int irq = interrupts.load(std::memory_order_relaxed);
        if (irq >= 1 && !result.interrupted) {
            result.interrupted = true;
            for (auto& t : tasks_) {
                t->tx_stop.store(true, std::memory_order_relaxed);
            }
        }
        if (irq >= 2 || now > hard_end) {
            if (now > hard_end) {
                fmt::print(stderr, "gwgen: warning: trial '{}': still running at its hard deadline; stopping\n",
                           trial.label);
            }
            break;
        }
        if (now >= next_sample && now >= t0) {
            const auto collected = collect_latency();
            Snapshot cur = snapshot(rte_rdtsc());
            Interval iv = interval_of(prev, cur, collected);
            if (trial.on_interval) {
                trial.on_interval(iv);
            }
            result.series.push_back(std::move(iv));
            prev = std::move(cur);
            next_sample += interval;
            if (next_sample <= prev.tsc) {
                next_sample = prev.tsc + interval;
            }
        }
        if (!tx_done && now >= t0 && !tx_running()) {
            tx_done = true;
            drain_end = now + tsc_of(opt_.drain_s);
        }
        if (tx_done && (accounted() || now >= drain_end)) {
            break;
        }
    }
    stop_lanes();
    const uint64_t end = rte_rdtsc();
    result.elapsed_s = static_cast<double>(end - t0) / hz;

    for (std::size_t i = 0; i < n; ++i) {
        rx_lane_->latency(i).collect_stopped();
    }
    // The last, partial interval: kept whenever it holds anything, so that the series
    // always adds up to the totals.
    Snapshot last = snapshot(end);
    Interval tail = interval_of(prev, last, std::vector<bool>(n, true));
    if (tail.total.tx_packets + tail.total.rx_packets + tail.total.latency.count != 0) {
        if (trial.on_interval) {
            trial.on_interval(tail);
        }
        result.series.push_back(std::move(tail));
    }

    auto all = std::make_unique<dp::LatencyHistogram>();
    StreamResult& tot = result.total;
    tot.name = "total";
    for (std::size_t i = 0; i < n; ++i) {
        const auto& [lane, idx] = where_[i];
        const TxLane& tx = *tx_lanes_[lane];
        const TxCounters& c = tx.counters(idx);
        const RxCounters& r = rx_lane_->counters(i);
        const TxStreamPlan& p = *plans_[i];
        const StreamSpec& spec = opt_.streams[i];
        const double mean = p.sizes.mean_size();
        StreamResult s{.name = spec.name,
                       .index = static_cast<unsigned>(i),
                       .rate = to_string(spec.rate),
                       .size = to_string(spec.size),
                       .target_pps = tx.schedule(idx).pps(mean)};
        s.target_bps = s.target_pps * (mean + kWireOverhead) * 8;
        s.tx_packets = c.packets;
        s.tx_bytes = c.bytes;
        s.tx_refused = c.refused;
        s.tx_nombuf = c.nombuf;
        s.offered = c.packets + c.refused + c.nombuf;
        s.tx_slips = c.slips;
        s.tx_max_lag_us = static_cast<double>(c.max_lag_tsc) * 1e6 / hz;
        const uint64_t done = c.done_tsc != 0 ? c.done_tsc : end;
        s.tx_s = done > c.start_tsc ? static_cast<double>(done - c.start_tsc) / hz : 0;
        s.rx_packets = r.packets;
        s.rx_bytes = r.bytes;
        s.rx_unique = r.unique();
        s.duplicates = r.duplicates;
        s.reordered = r.late;
        s.too_late = r.too_late;
        const auto& h = rx_lane_->latency(i).since_start();
        s.latency = LatencySummary::of(h);
        s.cdf = latency_cdf(h);
        all->merge(h);

        tot.offered += s.offered;
        tot.tx_packets += s.tx_packets;
        tot.tx_bytes += s.tx_bytes;
        tot.tx_refused += s.tx_refused;
        tot.tx_nombuf += s.tx_nombuf;
        tot.tx_slips += s.tx_slips;
        tot.tx_max_lag_us = std::max(tot.tx_max_lag_us, s.tx_max_lag_us);
        tot.tx_s = std::max(tot.tx_s, s.tx_s);
        tot.target_pps += s.target_pps;
        tot.target_bps += s.target_bps;
        tot.rx_packets += s.rx_packets;
        tot.rx_bytes += s.rx_bytes;
        tot.rx_unique += s.rx_unique;
        tot.duplicates += s.duplicates;
        tot.reordered += s.reordered;
        tot.too_late += s.too_late;
        result.streams.push_back(std::move(s));
    }
    tot.latency = LatencySummary::of(*all);
    tot.cdf = latency_cdf(*all);
    auto rates = [](StreamResult& s) {
        s.lost = static_cast<int64_t>(s.tx_packets) - static_cast<int64_t>(s.rx_unique);
        s.loss_ratio = s.tx_packets != 0 ? static_cast<double>(s.lost) / static_cast<double>(s.tx_packets) : 0;
        s.frame_loss_ratio = s.offered != 0 ? (static_cast<double>(s.offered) - static_cast<double>(s.rx_unique)) /
                                                  static_cast<double>(s.offered)
                                            : 0;
        if (s.tx_s > 0) {
            s.tx_pps = static_cast<double>(s.tx_packets) / s.tx_s;
            s.tx_bps = static_cast<double>(s.tx_bytes + s.tx_packets * kWireOverhead) * 8 / s.tx_s;
            s.rx_pps = static_cast<double>(s.rx_packets) / s.tx_s;
            s.rx_bps = static_cast<double>(s.rx_bytes + s.rx_packets * kWireOverhead) * 8 / s.tx_s;
        }
    };
    for (auto& s : result.streams) {
        rates(s);
    }
    rates(tot);
    const auto& lc = rx_lane_->lane_counters();
    result.rx_total = lc.packets;
    result.foreign = lc.foreign;
    result.stale = lc.stale;
    result.unknown_stream = lc.unknown_stream;
    result.rx_after_stop = flush_rx();
    return result;
}

unsigned Generator::flush_rx() {
    // Only while no lane runs: the control thread takes the queues over.
    unsigned total = 0;
    if (!rx_lane_) {
        return 0;
    }
    rte_mbuf* pkts[kMaxBurst];
    for (const auto& q : rx_lane_->queues()) {
        for (int round = 0; round < 4096; ++round) {
            const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, kMaxBurst);
            if (n == 0) {
                break;
            }
            rte_pktmbuf_free_bulk(pkts, n);
            total += n;
        }
    }
    return total;
}

MempoolReport Generator::shutdown() {
    if (shut_down_) {
        return mempool_;
    }
    shut_down_ = true;
    flush_rx();
    for (uint16_t id : started_) {
        for (const auto& p : ports_) {
            if (p.port_id == id) {
                // Real NICs hold sent mbufs until completion; hand them back before stopping.
                for (uint16_t q = 0; q < p.tx_queues; ++q) {
                    rte_eth_tx_done_cleanup(id, q, 0);
                }
            }
        }
        dp::stop_port(id, fmt::format("port {}", id));
    }
    if (pool_ != nullptr) {
        mempool_.available = rte_mempool_avail_count(pool_);
        rte_mempool_free(pool_);
        pool_ = nullptr;
    }
    return mempool_;
}

}  // namespace gw::gen
