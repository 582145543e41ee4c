#pragma once
// Neighbor table (ARP for IPv4, ND for IPv6), keyed by (port, address).
//
// Concurrency contract: the control thread is the only writer (it owns ARP/ND
// and creates entries); workers only look up. The rte_hash is created with
// lock-free reader/writer concurrency, entries are never deleted while the
// data plane runs, and a resolved MAC is published as one 64-bit atomic, so a
// worker sees either "unresolved" or a complete MAC.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include <rte_common.h>
#include <rte_ether.h>

#include "common/error.h"

struct rte_hash;
struct rte_mbuf;

namespace gw::dp {

struct NeighborKey {
    std::array<uint8_t, 16> addr{};  // IPv4: first 4 bytes, network order
    uint16_t port = 0;
    uint8_t family = 4;
    uint8_t pad = 0;
};
static_assert(sizeof(NeighborKey) == 20);

[[nodiscard]] NeighborKey neighbor_key4(uint16_t port, uint32_t addr_host) noexcept;
[[nodiscard]] NeighborKey neighbor_key6(uint16_t port, const uint8_t* addr) noexcept;

enum class NeighborState : uint8_t { incomplete, reachable, static_entry };

inline constexpr unsigned kNeighborHoldMax = 4;  // packets queued while resolving (Linux: unres_qlen)

struct alignas(RTE_CACHE_LINE_SIZE) NeighborEntry {
    // Read by workers: bit 63 set = resolved, low 48 bits = MAC in wire order.
    std::atomic<uint64_t> mac_bits{0};

    // Control thread only.
    NeighborKey key{};
    NeighborState state = NeighborState::incomplete;
    uint8_t probes = 0;
    uint8_t held_count = 0;
    uint64_t last_probe_tsc = 0;
    std::array<rte_mbuf*, kNeighborHoldMax> held{};

    [[nodiscard]] bool resolved(rte_ether_addr* mac) const noexcept {
        const uint64_t bits = mac_bits.load(std::memory_order_acquire);
        if ((bits >> 63) == 0) {
            return false;
        }
        for (unsigned i = 0; i < RTE_ETHER_ADDR_LEN; ++i) {
            mac->addr_bytes[i] = static_cast<uint8_t>(bits >> (8 * i));
        }
        return true;
    }
    void publish(const rte_ether_addr& mac) noexcept;
};

class NeighborTable {
public:
    ~NeighborTable();
    NeighborTable(const NeighborTable&) = delete;
    NeighborTable& operator=(const NeighborTable&) = delete;

    [[nodiscard]] static Result<std::unique_ptr<NeighborTable>> create(uint32_t capacity, int socket_id);

    // Any lcore. Returns nullptr when the key has no entry.
    [[nodiscard]] const NeighborEntry* lookup(const NeighborKey& key) const noexcept;

    // Control thread only.
    [[nodiscard]] NeighborEntry* find(const NeighborKey& key) noexcept;
    // Returns nullptr when the table is full.
    [[nodiscard]] NeighborEntry* find_or_create(const NeighborKey& key) noexcept;
    [[nodiscard]] uint32_t capacity() const noexcept { return capacity_; }
    // Calls fn(NeighborEntry&) for every entry (control thread only).
    template <typename Fn>
    void for_each(Fn&& fn);

private:
    NeighborTable() = default;

    rte_hash* hash_ = nullptr;
    uint32_t capacity_ = 0;
    std::unique_ptr<NeighborEntry[]> entries_;
    std::unique_ptr<bool[]> used_;
};

template <typename Fn>
void NeighborTable::for_each(Fn&& fn) {
    for (uint32_t i = 0; i < capacity_; ++i) {
        if (used_[i]) {
            fn(entries_[i]);
        }
    }
}

}  // namespace gw::dp
