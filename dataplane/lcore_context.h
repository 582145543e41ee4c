#pragma once
// Per-lcore state of a worker: owned by its thread, cache-aligned, touched by
// no one else except the control thread reading `counters`.

#include <algorithm>
#include <array>
#include <cstdint>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "dataplane/counters.h"
#include "dataplane/ipsec/ipsec.h"
#include "dataplane/tables.h"
#include "dataplane/token_bucket.h"

struct rte_mbuf;

namespace gw::dp {

inline constexpr uint16_t kMaxBurstDp = 64;

struct TxBuffer {
    uint16_t count = 0;
    std::array<rte_mbuf*, kMaxBurstDp> pkts{};
};

// Per-lcore, direct-mapped cache in front of the shared neighbor hash: a hit
// costs one compare instead of a jhash and a 20-byte key compare. Valid
// because neighbor entries are never deleted while workers run; the cached
// pointer is only a handle, the MAC is always read from the entry itself.
struct NeighborCache {
    static constexpr uint32_t kSlots = 256;
    // The key split into words compared in registers: building a NeighborKey
    // on the stack and comparing it bytewise stalls store forwarding.
    struct Slot {
        uint64_t lo = 0;    // IPv4: address (host order); IPv6: bytes 0..7
        uint64_t hi = 0;    // IPv6: bytes 8..15
        uint32_t meta = 0;  // port | family << 16; 0 = empty
        const NeighborEntry* entry = nullptr;
    };
    std::array<Slot, kSlots> slots{};
};

struct alignas(RTE_CACHE_LINE_SIZE) LcoreContext {
    const Tables* tables = nullptr;
    // This lcore's tx queue on each port. A port with fewer tx queues than
    // transmitting lcores (af_packet, af_xdp) shares a queue under tx_lock,
    // taken once per burst, as VPP does; nullptr when the queue is ours alone.
    std::array<uint16_t, kMaxPortsDp> tx_queue{};
    std::array<rte_spinlock_t*, kMaxPortsDp> tx_lock{};
    uint16_t burst = 32;
    TokenBucket icmp_limit;
    LcoreCounters counters;
    std::array<TxBuffer, kMaxPortsDp> tx{};

    // Telemetry (workers with `telemetry latency on`): received packets carry
    // an rx stamp (worker_telemetry.h); a transmitted packet's residence time
    // goes to latency[slot], the histogram of its rx queue for this round.
    // Stage cycles of nested stages (ESP, tx inside forward) add to
    // nested_cycles so that the enclosing stage can subtract them.
    bool telemetry = false;
    uint64_t ns_mult = 0;  // tsc_to_ns_mult(tsc hz)
    uint64_t nested_cycles = 0;
    std::array<LatencyHistogram*, kMaxQueuesPerWorker> latency{};
    NeighborCache neighbor_cache;

    // Packets dropped or punted during the current burst, released in one
    // place at its end (bulk free, one ring enqueue). A burst can add at
    // most one ICMP error per packet, hence twice the burst.
    uint16_t drop_count = 0;
    uint16_t punt_count = 0;
    std::array<rte_mbuf*, 2 * kMaxBurstDp> drop_list{};
    std::array<rte_mbuf*, 2 * kMaxBurstDp> punt_list{};

    // IPsec: this lcore's ipsec-mb manager, the snapshot read at the start of
    // the burst, and the ESP work classification queued for batch crypto.
    ipsec::GcmEngine* crypto = nullptr;
    bool ipsec_fragment = false;  // pre-fragment non-DF IPv4 that the tunnel cannot carry whole
    const ipsec::IpsecState* ipsec = nullptr;
    uint16_t esp_out_count = 0;
    uint16_t esp_in_count = 0;
    uint16_t outer_ip_id = 0;
    std::array<rte_mbuf*, 2 * kMaxBurstDp> esp_out{};
    std::array<ipsec::Sa*, 2 * kMaxBurstDp> esp_out_sa{};
    std::array<uint16_t, 2 * kMaxBurstDp> esp_out_port{};  // egress port index of the outer packet
    std::array<rte_mbuf*, kMaxBurstDp> esp_in{};
};

// Drops `m` under `r`; freed in bulk by release_pending().
// The lcore's ICMP error limit: `rate_pps` per second, bursts of a tenth of
// a second's worth (at least one).
[[nodiscard]] inline TokenBucket make_icmp_limit(uint32_t rate_pps) noexcept {
    return TokenBucket(rate_pps, std::max<uint32_t>(1, rate_pps / 10), rte_get_tsc_hz(), rte_rdtsc());
}

// Fragmentation can turn one packet into many, so the list may fill up: the
// rest are freed one by one.
inline void drop_packet(LcoreContext& ctx, rte_mbuf* m, DropReason r) noexcept {
    ctx.counters.drop(r);
    if (ctx.drop_count == ctx.drop_list.size()) [[unlikely]] {
        rte_pktmbuf_free(m);
        return;
    }
    ctx.drop_list[ctx.drop_count++] = m;
}

}  // namespace gw::dp
