#pragma once
// The control thread's share of the packet path: ARP (RFC 826), IPv6 neighbor
// discovery (RFC 4861) and packets waiting for a next hop to resolve. Workers
// punt these through Tables::punt_ring; this code is the neighbor table's
// only writer. Runs on the main lcore, which transmits on its own tx queue.

#include <cstdint>

#include "common/error.h"
#include "controlplane/config.h"
#include "dataplane/lcore_context.h"

namespace gw::dp {

class SlowPath {
public:
    // `ctx` is the control thread's own context (tx_queue = its queue).
    explicit SlowPath(LcoreContext& ctx) noexcept;

    // Installs the config's static neighbors. Before workers start.
    [[nodiscard]] Status install_static_neighbors(const cp::Config& config);

    // Handles up to one burst of punted packets and due retransmissions;
    // returns the number of packets taken from the punt ring.
    unsigned poll(uint64_t now_tsc) noexcept;

    // Frees every packet still held for resolution (shutdown).
    void release_held() noexcept;

    // Handles one punted packet (exposed for tests).
    void handle(rte_mbuf* m, uint64_t now_tsc) noexcept;

private:
    void handle_arp(rte_mbuf* m, uint16_t in_port) noexcept;
    void handle_nd(rte_mbuf* m, uint16_t in_port) noexcept;
    void handle_resolve(rte_mbuf* m, uint64_t now_tsc) noexcept;
    void learn(const NeighborKey& key, const rte_ether_addr& mac, bool create) noexcept;
    void probe(NeighborEntry& e, uint64_t now_tsc) noexcept;
    void tick(uint64_t now_tsc) noexcept;

    LcoreContext& ctx_;
    uint64_t probe_interval_tsc_;
    uint64_t next_tick_tsc_ = 0;
};

}  // namespace gw::dp
