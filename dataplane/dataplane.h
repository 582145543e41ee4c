#pragma once
// The data plane as the control thread sees it: built from a validated
// Config after rte_eal_init, it owns mempools, ports, tables, workers and the
// slow path. Lifecycle: create -> start -> (poll_control)* -> stop.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_spinlock.h>

#include "common/error.h"
#include "controlplane/config.h"
#include "controlplane/telemetry.h"
#include "dataplane/slowpath.h"
#include "dataplane/tables.h"
#include "dataplane/worker.h"

struct rte_rcu_qsbr;

struct rte_mempool;

namespace gw::dp {

struct PortStats {
    std::string name;
    uint64_t ipackets = 0;
    uint64_t opackets = 0;
    uint64_t ibytes = 0;
    uint64_t obytes = 0;
    uint64_t imissed = 0;
    uint64_t ierrors = 0;
    uint64_t oerrors = 0;
    uint64_t rx_nombuf = 0;
};

struct LcoreStats {
    unsigned lcore = 0;
    bool is_control = false;
    LcoreCounters counters;
};

class Dataplane {
public:
    ~Dataplane();
    Dataplane(const Dataplane&) = delete;
    Dataplane& operator=(const Dataplane&) = delete;

    // Creates pools, probes and starts ports, builds tables. EAL must be up.
    [[nodiscard]] static Result<std::unique_ptr<Dataplane>> create(const cp::Config& config);

    // Launches the workers on their lcores.
    [[nodiscard]] Status start();

    // Control thread: one round of the slow path. Returns punted packets handled.
    unsigned poll_control(uint64_t now_tsc) noexcept;

    // Stops workers, drains, stops ports, releases held packets. Idempotent.
    void stop();

    [[nodiscard]] std::vector<LcoreStats> lcore_stats() const;
    // Live port counters; after stop(), those read just before the ports closed.
    [[nodiscard]] std::vector<PortStats> port_stats() const;
    // Mbufs not back in their pools (all pools).
    [[nodiscard]] uint64_t mbufs_in_use() const;
    // Mbufs a driver keeps by design after its port closed: net_af_xdp leaves
    // its fill ring's mbufs in the UMEM it carved from our pool. Measured
    // when each such port started.
    [[nodiscard]] uint64_t mbufs_retained_by_drivers() const noexcept { return retained_by_drivers_; }
    // After stop(): mbufs lost by the gateway itself. Must be 0.
    [[nodiscard]] uint64_t mbufs_leaked() const {
        const uint64_t in_use = mbufs_in_use();
        return in_use > retained_by_drivers_ ? in_use - retained_by_drivers_ : 0;
    }
    [[nodiscard]] const Tables& tables() const noexcept { return tables_; }
    [[nodiscard]] std::vector<std::unique_ptr<Worker>>& workers() noexcept { return workers_; }
    [[nodiscard]] SlowPath& slow_path() noexcept { return *slow_path_; }
    [[nodiscard]] LcoreContext& control_context() noexcept { return *control_ctx_; }
    // IPsec SAs and policies: apply() swaps them at runtime without a restart.
    [[nodiscard]] ipsec::IpsecManager& ipsec() noexcept { return *ipsec_; }

    // Control thread housekeeping (SA lifetimes); call about once a second.
    void tick(uint64_t now_tsc) noexcept;

    // --- runtime changes (control thread; each validated first, all or nothing) ---
    // The configuration the data plane runs now: the startup config plus every
    // change applied since (what `config save` writes).
    [[nodiscard]] const cp::Config& running_config() const noexcept { return config_; }
    // Routes of `next` become the FIB: a new table is built, published, and the
    // old one freed once every worker moved on. Nothing else of `next` is read.
    [[nodiscard]] Status apply_routes(const cp::Config& next);
    // IPsec SAs and policies of `next` (IpsecManager::apply), then remembered
    // as running.
    [[nodiscard]] Status apply_ipsec(const cp::Config& next, uint64_t now_tsc);
    // Moves rx queue `queue` of port `port` to the worker on `lcore`: the old
    // worker stops polling it (and passes a quiescent state) before the new
    // one starts, so no two lcores ever poll one queue.
    [[nodiscard]] Status set_rx_placement(uint16_t port, uint16_t queue, unsigned lcore);

    // --- telemetry (control thread) ---
    // Takes the workers' latency samples of the last interval (call once per
    // second). A worker that has not moved to its new buffer yet is taken at
    // a later call; returns how many queues were collected.
    unsigned collect_latency() noexcept;
    // Everything measured, as of now (XDP counters are the caller's to add).
    [[nodiscard]] telemetry::Snapshot snapshot() const;
    // Counters, port statistics and latency start again from zero (as seen
    // through snapshot(); the data plane's own integers keep counting).
    void clear_counters();

private:
    Dataplane() = default;
    [[nodiscard]] QueueTelemetry& queue_telemetry(uint16_t port, uint16_t queue) const;
    [[nodiscard]] std::vector<PortStats> raw_port_stats() const;
    void synchronize() noexcept;  // every worker passed a quiescent state

    cp::Config config_;
    std::unique_ptr<Fib> fib_;  // the published FIB (tables_.fib_ptr)
    // One per configured rx queue (ports in config order, then queues); a
    // queue's telemetry stays with it when it moves between workers.
    std::vector<std::unique_ptr<QueueTelemetry>> queue_tm_;
    std::vector<std::size_t> queue_tm_base_;  // index of port p's queue 0 in queue_tm_
    // Values at the last clear_counters(), subtracted by snapshot().
    struct Baseline {
        std::vector<LcoreCounters> lcores;
        std::vector<PortStats> ports;
        std::vector<std::array<uint64_t, 4>> queues;  // rx_packets, rx_bytes, polls, empty_polls
        uint64_t at_ns = 0;
    } baseline_;
    uint64_t started_ns_ = 0;
    std::vector<rte_mempool*> pools_;          // one per NUMA socket in use
    std::vector<uint16_t> started_ports_;      // ethdev ids, for stop()
    std::vector<PortStats> final_port_stats_;  // taken by stop() before the ports close
    Tables tables_;
    std::unique_ptr<rte_spinlock_t[]> tx_locks_;  // [port * kMaxTxLocks + queue]
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<LcoreContext> control_ctx_;
    std::unique_ptr<SlowPath> slow_path_;
    std::vector<std::unique_ptr<ipsec::GcmEngine>> engines_;  // one per worker, then the control thread's
    rte_rcu_qsbr* qsbr_ = nullptr;                            // workers' quiescent states
    std::unique_ptr<ipsec::IpsecManager> ipsec_;
    std::atomic<bool> stop_{false};
    uint64_t retained_by_drivers_ = 0;
    bool launched_ = false;
    bool stopped_ = false;
};

}  // namespace gw::dp
