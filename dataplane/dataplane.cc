#include "dataplane/dataplane.h"

#include <algorithm>
#include <chrono>
#include <bit>
#include <cstring>
#include <map>

#include <numa.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "common/log.h"
#include "dataplane/forward.h"
#include "dataplane/port.h"

namespace gw::dp {
namespace {

constexpr uint32_t kPuntRingSize = 4096;
constexpr uint32_t kNeighborCapacity = 4096;
constexpr uint16_t kMaxTxLocks = 64;

int worker_entry(void* arg) {
    auto* w = static_cast<std::pair<Worker*, const std::atomic<bool>*>*>(arg);
    w->first->run(*w->second);
    delete w;
    return 0;
}

// Sizes a pool: every descriptor filled, every lcore's cache, tx buffers,
// punt ring and neighbor hold queues, with headroom; rounded to 2^n - 1,
// the mempool ring's best size.
uint32_t pool_size(const cp::Config& config, int socket, const std::vector<int>& port_sockets,
                   unsigned lcores_on_socket) {
    uint64_t n = 0;
    const uint64_t txq = config.workers.size() + 1;
    for (std::size_t p = 0; p < config.ports.size(); ++p) {
        if (port_sockets[p] == socket) {
            const auto& pc = config.ports[p];
            n += uint64_t{pc.rx_queues} * pc.rx_desc + txq * pc.tx_desc;
        }
    }
    const uint64_t per_lcore = config.mempool.cache + uint64_t{config.dataplane.burst} * (config.ports.size() + 4);
    n += per_lcore * (lcores_on_socket + 1);
    n += kPuntRingSize + 1024;
    return static_cast<uint32_t>(std::bit_ceil(n + 1) - 1);
}

}  // namespace

Dataplane::~Dataplane() {
    stop();
    ipsec_.reset();
    rte_free(qsbr_);
    for (auto* pool : pools_) {
        rte_mempool_free(pool);
    }
    rte_ring_free(tables_.punt_ring);
}

Result<std::unique_ptr<Dataplane>> Dataplane::create(const cp::Config& config) {
    std::unique_ptr<Dataplane> dp(new Dataplane());
    dp->config_ = config;
    const auto& dc = config.dataplane;

    if (numa_available() >= 0) {
        log::info("numa: {} node(s) configured", numa_num_configured_nodes());
    }
    for (const auto& w : config.workers) {
        if (!rte_lcore_is_enabled(w.lcore)) {
            return make_error("worker lcore {}: not enabled in EAL (check 'eal main-lcore' and cores)", w.lcore);
        }
    }

    // Probe every port first: its NUMA socket decides which pool feeds it.
    std::vector<uint16_t> port_ids;
    std::vector<int> sockets;
    for (const auto& pc : config.ports) {
        auto id = probe_port(pc.devargs);
        if (!id) {
            return std::unexpected(id.error());
        }
        port_ids.push_back(*id);
        int socket = rte_eth_dev_socket_id(*id);
        if (socket < 0) {
            // Virtual devices have no socket: feed them from their first poller's.
            socket = 0;
            for (const auto& w : config.workers) {
                auto it = std::find_if(w.rx_queues.begin(), w.rx_queues.end(),
                                       [&](const cp::RxQueueRef& r) { return r.port == port_ids.size() - 1; });
                if (it != w.rx_queues.end()) {
                    socket = static_cast<int>(rte_lcore_to_socket_id(w.lcore));
                    break;
                }
            }
        }
        sockets.push_back(socket);
    }
    for (const auto& w : config.workers) {
        for (const auto& r : w.rx_queues) {
            const auto lcore_socket = static_cast<int>(rte_lcore_to_socket_id(w.lcore));
            if (sockets[r.port] != lcore_socket) {
                log::warn(
                    "worker lcore {} (socket {}) polls port '{}' on socket {}: every packet crosses the "
                    "interconnect",
                    w.lcore, lcore_socket, config.ports[r.port].name, sockets[r.port]);
            }
        }
    }

    std::map<int, rte_mempool*> pool_by_socket;
    auto pool_for = [&](int socket) -> Result<rte_mempool*> {
        if (auto it = pool_by_socket.find(socket); it != pool_by_socket.end()) {
            return it->second;
        }
        unsigned lcores = 0;
        for (const auto& w : config.workers) {
            lcores += static_cast<int>(rte_lcore_to_socket_id(w.lcore)) == socket ? 1 : 0;
        }
        const uint32_t n =
            config.mempool.mbufs != 0 ? config.mempool.mbufs : pool_size(config, socket, sockets, lcores);
        const std::string name = "gw_mbuf_s" + std::to_string(socket);
        rte_mempool* pool =
            rte_pktmbuf_pool_create(name.c_str(), n, config.mempool.cache, 0, config.mempool.data_room, socket);
        if (pool == nullptr) {
            return make_errno_error(-rte_errno,
                                    "mempool '{}': cannot allocate {} mbufs of {} bytes on socket {}: {} "
                                    "(hugepages reserved? see scripts/setup-host.sh)",
                                    name, n, config.mempool.data_room, socket, rte_strerror(rte_errno));
        }
        log::info("mempool '{}': {} mbufs x {} bytes, cache {}, socket {}", name, n, config.mempool.data_room,
                  config.mempool.cache, socket);
        dp->pools_.push_back(pool);
        pool_by_socket[socket] = pool;
        return pool;
    };

    auto& t = dp->tables_;
    const auto tx_wanted = static_cast<uint16_t>(config.workers.size() + 1);
    std::vector<PortQueues> granted;
    for (std::size_t p = 0; p < config.ports.size(); ++p) {
        const auto& pc = config.ports[p];
        auto pool = pool_for(sockets[p]);
        if (!pool) {
            return std::unexpected(pool.error());
        }
        const uint64_t in_use_before = dp->mbufs_in_use();
        auto q = configure_port(port_ids[p], pc, tx_wanted, *pool);
        if (!q) {
            return std::unexpected(q.error());
        }
        if (device_name(pc.devargs).starts_with("net_af_xdp")) {
            dp->retained_by_drivers_ += dp->mbufs_in_use() - in_use_before;
        }
        dp->started_ports_.push_back(port_ids[p]);
        granted.push_back(*q);

        PortInfo info;
        info.port_id = port_ids[p];
        info.mac = port_mac(port_ids[p]);
        info.mtu = pc.mtu;
        info.addresses = pc.addresses;
        for (const auto& a : pc.addresses) {
            if (const auto* v4 = std::get_if<net::Ip4Addr>(&a.addr); v4 && !info.has_v4) {
                info.has_v4 = true;
                info.icmp_src4_host = v4->host;
            } else if (const auto* v6 = std::get_if<net::Ip6Addr>(&a.addr); v6 && !info.has_v6) {
                info.has_v6 = true;
                info.icmp_src6 = v6->bytes;
            }
        }
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof mac, &info.mac);
        log::info("port '{}' ({}): ethdev {}, mac {}, {} rx / {} tx queues{}, mtu {}", pc.name, pc.devargs,
                  info.port_id, mac, q->rx, q->tx, q->tx < tx_wanted ? " (shared under lock)" : "", pc.mtu);
        t.ports.push_back(std::move(info));
    }

    auto fib = Fib::build(config, SOCKET_ID_ANY);
    if (!fib) {
        return std::unexpected(fib.error());
    }
    dp->fib_ = std::move(*fib);
    t.fib_ptr.store(dp->fib_.get(), std::memory_order_release);
    auto neighbors = NeighborTable::create(kNeighborCapacity, SOCKET_ID_ANY);
    if (!neighbors) {
        return std::unexpected(neighbors.error());
    }
    t.neighbors = std::move(*neighbors);
    t.punt_ring = rte_ring_create("gw_punt", kPuntRingSize, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (t.punt_ring == nullptr) {
        return make_errno_error(-rte_errno, "punt ring: cannot create: {}", rte_strerror(rte_errno));
    }

    // Tx queue slots: worker i uses slot i, the control thread slot W.
    dp->tx_locks_ = std::make_unique<rte_spinlock_t[]>(std::size_t{kMaxPortsDp} * kMaxTxLocks);
    for (std::size_t i = 0; i < std::size_t{kMaxPortsDp} * kMaxTxLocks; ++i) {
        rte_spinlock_init(&dp->tx_locks_[i]);
    }
    auto assign_tx = [&](LcoreContext& ctx, uint16_t slot) {
        for (std::size_t p = 0; p < granted.size(); ++p) {
            const uint16_t txq = granted[p].tx;
            ctx.tx_queue[p] = static_cast<uint16_t>(slot % txq);
            ctx.tx_lock[p] =
                txq < tx_wanted ? &dp->tx_locks_[p * kMaxTxLocks + ctx.tx_queue[p] % kMaxTxLocks] : nullptr;
        }
    };

    for (std::size_t p = 0; p < config.ports.size(); ++p) {
        dp->queue_tm_base_.push_back(dp->queue_tm_.size());
        for (uint16_t q = 0; q < config.ports[p].rx_queues; ++q) {
            dp->queue_tm_.push_back(std::make_unique<QueueTelemetry>(config.telemetry.window_s));
        }
    }
    for (std::size_t i = 0; i < config.workers.size(); ++i) {
        const auto& wc = config.workers[i];
        RxList rx;
        for (const auto& r : wc.rx_queues) {
            rx.push_back(RxQueue{.port = r.port,
                                 .port_id = port_ids[r.port],
                                 .queue = r.queue,
                                 .tm = &dp->queue_telemetry(r.port, r.queue)});
        }
        if (rx.size() > kMaxQueuesPerWorker) {
            return make_error("worker lcore {}: polls {} rx queues, at most {}", wc.lcore, rx.size(),
                              kMaxQueuesPerWorker);
        }
        auto w = std::make_unique<Worker>(wc.lcore, std::move(rx), t, dc.burst, dc.drain_us, dc.idle_sleep_us,
                                          dc.icmp_rate_pps, config.telemetry.latency);
        assign_tx(w->context(), static_cast<uint16_t>(i));
        dp->workers_.push_back(std::move(w));
    }
    dp->control_ctx_ = std::make_unique<LcoreContext>();
    dp->control_ctx_->tables = &t;
    dp->control_ctx_->burst = dc.burst;
    dp->control_ctx_->icmp_limit = make_icmp_limit(dc.icmp_rate_pps);
    assign_tx(*dp->control_ctx_, static_cast<uint16_t>(config.workers.size()));
    dp->slow_path_ = std::make_unique<SlowPath>(*dp->control_ctx_);

    // IPsec: an ipsec-mb manager per lcore, and the RCU state through which
    // runtime changes retire old tables only once every worker moved on.
    for (std::size_t i = 0; i <= dp->workers_.size(); ++i) {
        auto engine = ipsec::GcmEngine::create();
        if (!engine) {
            return std::unexpected(engine.error());
        }
        LcoreContext& ctx = i < dp->workers_.size() ? dp->workers_[i]->context() : *dp->control_ctx_;
        ctx.crypto = engine->get();
        ctx.ipsec_fragment = dc.ipsec_fragment;
        dp->engines_.push_back(std::move(*engine));
    }
    log::info("ipsec-mb: {} code path, {} managers", dp->engines_.front()->arch_name(), dp->engines_.size());
    const auto n_threads = static_cast<uint32_t>(std::max<std::size_t>(1, dp->workers_.size()));
    const std::size_t qs_size = rte_rcu_qsbr_get_memsize(n_threads);
    dp->qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("gw_qsbr", qs_size, RTE_CACHE_LINE_SIZE));
    if (dp->qsbr_ == nullptr || rte_rcu_qsbr_init(dp->qsbr_, n_threads) != 0) {
        return make_error("rcu: cannot set up quiescent-state tracking for {} workers", n_threads);
    }
    for (std::size_t i = 0; i < dp->workers_.size(); ++i) {
        dp->workers_[i]->set_qsbr(dp->qsbr_, static_cast<uint32_t>(i));
    }
    dp->ipsec_ = std::make_unique<ipsec::IpsecManager>(t.ipsec, dp->qsbr_);
    if (!config.sas.empty() || !config.policies.empty()) {
        if (auto st = dp->ipsec_->apply(config, rte_rdtsc()); !st) {
            return std::unexpected(st.error());
        }
    }
    if (auto st = dp->slow_path_->install_static_neighbors(config); !st) {
        return std::unexpected(st.error());
    }
    return dp;
}

Status Dataplane::start() {
    started_ns_ = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    for (auto& w : workers_) {
        auto* arg = new std::pair<Worker*, const std::atomic<bool>*>(w.get(), &stop_);
        if (int rc = rte_eal_remote_launch(worker_entry, arg, w->lcore()); rc != 0) {
            delete arg;
            stop();
            return make_errno_error(rc, "worker lcore {}: launch failed: {}", w->lcore(), rte_strerror(-rc));
        }
        launched_ = true;
    }
    return {};
}

unsigned Dataplane::poll_control(uint64_t now_tsc) noexcept {
    return slow_path_->poll(now_tsc);
}

void Dataplane::tick(uint64_t now_tsc) noexcept {
    ipsec_->tick(now_tsc);
}

void Dataplane::stop() {
    if (stopped_) {
        return;
    }
    stop_.store(true, std::memory_order_relaxed);
    if (launched_) {
        rte_eal_mp_wait_lcore();
        for (auto& tm : queue_tm_) {
            tm->latency.collect_stopped();  // the workers' last rounds happened-before the wait
        }
    }
    // Packets punted after the workers' last round, then held ones.
    if (slow_path_) {
        while (tables_.punt_ring != nullptr && rte_ring_count(tables_.punt_ring) != 0) {
            slow_path_->poll(rte_rdtsc());
        }
        slow_path_->release_held();
        flush_tx(*control_ctx_);
    }
    // Let drivers reclaim what they finished transmitting: some (af_xdp)
    // only do so at the start of a later tx burst, which never comes.
    for (std::size_t p = 0; p < started_ports_.size(); ++p) {
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(started_ports_[p], &info) != 0) {
            continue;
        }
        for (uint16_t q = 0; q < info.nb_tx_queues; ++q) {
            if (rte_eth_tx_done_cleanup(started_ports_[p], q, 0) < 0) {
                rte_eth_tx_burst(started_ports_[p], q, nullptr, 0);
            }
        }
    }
    final_port_stats_ = port_stats();
    stopped_ = true;
    for (std::size_t i = 0; i < started_ports_.size(); ++i) {
        stop_port(started_ports_[i], config_.ports[i].name);
    }
    started_ports_.clear();
}

std::vector<LcoreStats> Dataplane::lcore_stats() const {
    std::vector<LcoreStats> out;
    for (const auto& w : workers_) {
        out.push_back(LcoreStats{.lcore = w->lcore(), .is_control = false, .counters = w->context().counters});
    }
    if (control_ctx_) {
        out.push_back(
            LcoreStats{.lcore = rte_get_main_lcore(), .is_control = true, .counters = control_ctx_->counters});
    }
    return out;
}

std::vector<PortStats> Dataplane::port_stats() const {
    if (stopped_) {
        return final_port_stats_;
    }
    return raw_port_stats();
}

std::vector<PortStats> Dataplane::raw_port_stats() const {
    std::vector<PortStats> out;
    for (std::size_t i = 0; i < tables_.ports.size(); ++i) {
        rte_eth_stats s{};
        PortStats ps{.name = config_.ports[i].name};
        if (rte_eth_stats_get(tables_.ports[i].port_id, &s) == 0) {
            ps.ipackets = s.ipackets;
            ps.opackets = s.opackets;
            ps.ibytes = s.ibytes;
            ps.obytes = s.obytes;
            ps.imissed = s.imissed;
            ps.ierrors = s.ierrors;
            ps.oerrors = s.oerrors;
            ps.rx_nombuf = s.rx_nombuf;
        }
        out.push_back(std::move(ps));
    }
    return out;
}

uint64_t Dataplane::mbufs_in_use() const {
    uint64_t n = 0;
    for (const auto* pool : pools_) {
        n += rte_mempool_in_use_count(pool);
    }
    return n;
}

}  // namespace gw::dp
