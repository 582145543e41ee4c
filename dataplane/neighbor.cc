#include "dataplane/neighbor.h"

#include <atomic>
#include <cstring>
#include <string>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>

namespace gw::dp {
namespace {
std::atomic<uint32_t> g_table_serial{0};
}  // namespace

NeighborKey neighbor_key4(uint16_t port, uint32_t addr_host) noexcept {
    NeighborKey k;
    const uint32_t be = rte_cpu_to_be_32(addr_host);
    std::memcpy(k.addr.data(), &be, sizeof be);
    k.port = port;
    k.family = 4;
    return k;
}

NeighborKey neighbor_key6(uint16_t port, const uint8_t* addr) noexcept {
    NeighborKey k;
    std::memcpy(k.addr.data(), addr, 16);
    k.port = port;
    k.family = 6;
    return k;
}

void NeighborEntry::publish(const rte_ether_addr& mac) noexcept {
    uint64_t bits = uint64_t{1} << 63;
    for (unsigned i = 0; i < RTE_ETHER_ADDR_LEN; ++i) {
        bits |= uint64_t{mac.addr_bytes[i]} << (8 * i);
    }
    mac_bits.store(bits, std::memory_order_release);
}

NeighborTable::~NeighborTable() {
    rte_hash_free(hash_);
}

Result<std::unique_ptr<NeighborTable>> NeighborTable::create(uint32_t capacity, int socket_id) {
    std::unique_ptr<NeighborTable> t(new NeighborTable());
    const std::string name = "gw_nbr_" + std::to_string(g_table_serial.fetch_add(1, std::memory_order_relaxed));
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = capacity;
    params.key_len = sizeof(NeighborKey);
    params.hash_func = rte_jhash;
    params.socket_id = socket_id;
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
    t->hash_ = rte_hash_create(&params);
    if (t->hash_ == nullptr) {
        return make_errno_error(-rte_errno, "neighbor table: cannot create hash of {} entries: {}", capacity,
                                rte_strerror(rte_errno));
    }
    // rte_hash may hand out key positions up to its own (rounded-up) size.
    t->capacity_ = static_cast<uint32_t>(rte_hash_max_key_id(t->hash_)) + 1;
    t->entries_ = std::make_unique<NeighborEntry[]>(t->capacity_);
    t->used_ = std::make_unique<bool[]>(t->capacity_);
    return t;
}

const NeighborEntry* NeighborTable::lookup(const NeighborKey& key) const noexcept {
    const int32_t pos = rte_hash_lookup(hash_, &key);
    return pos >= 0 ? &entries_[pos] : nullptr;
}

NeighborEntry* NeighborTable::find(const NeighborKey& key) noexcept {
    const int32_t pos = rte_hash_lookup(hash_, &key);
    return pos >= 0 ? &entries_[pos] : nullptr;
}

NeighborEntry* NeighborTable::find_or_create(const NeighborKey& key) noexcept {
    if (auto* e = find(key)) {
        return e;
    }
    const int32_t pos = rte_hash_add_key(hash_, &key);
    if (pos < 0) {
        return nullptr;
    }
    auto& e = entries_[pos];
    e.key = key;
    e.state = NeighborState::incomplete;
    e.probes = 0;
    e.held_count = 0;
    e.last_probe_tsc = 0;
    used_[pos] = true;
    return &e;
}

}  // namespace gw::dp
