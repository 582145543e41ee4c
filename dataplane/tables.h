#pragma once
// Everything a worker reads to forward a packet, built by the control thread
// before the workers start. Ports and the FIB are immutable while workers
// run; the neighbor table has its own single-writer contract (neighbor.h).

#include <atomic>
#include <memory>
#include <vector>

#include "dataplane/fib.h"
#include "dataplane/ipsec/ipsec.h"
#include "dataplane/neighbor.h"

struct rte_ring;

namespace gw::dp {

// Why a worker handed a packet to the control thread; stored in mbuf->hash.usr
// (the RSS hash is not used after classification).
enum class PuntKind : uint32_t {
    arp = 1,      // ARP request/reply for the slow path
    nd = 2,       // ICMPv6 neighbor discovery addressed to the gateway
    resolve = 3,  // routed packet whose next hop has no resolved MAC yet
};

struct Tables {
    std::vector<PortInfo> ports;  // config order; index == "port index" everywhere
    // Current FIB: workers load it per packet; the control thread publishes a
    // rebuilt one (Dataplane::apply_routes) and frees the old one after every
    // worker passed a quiescent state.
    std::atomic<const Fib*> fib_ptr{nullptr};
    std::unique_ptr<NeighborTable> neighbors;
    rte_ring* punt_ring = nullptr;  // workers (MP) -> control thread (SC)
    // Current IPsec snapshot (nullptr: no IPsec configured). Workers load it
    // once per burst; the control thread swaps it (ipsec.h).
    std::atomic<const ipsec::IpsecState*> ipsec{nullptr};

    [[nodiscard]] const Fib& fib() const noexcept { return *fib_ptr.load(std::memory_order_acquire); }

    // Port index for a DPDK port id, or -1.
    [[nodiscard]] int port_index(uint16_t port_id) const noexcept {
        for (std::size_t i = 0; i < ports.size(); ++i) {
            if (ports[i].port_id == port_id) {
                return static_cast<int>(i);
            }
        }
        return -1;
    }
};

}  // namespace gw::dp
