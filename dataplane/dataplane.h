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

private:
    Dataplane() = default;

    cp::Config config_;
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
