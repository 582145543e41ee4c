#pragma once
// A security association as the data plane holds it. Immutable parameters
// are set by the control thread before publication; the mutable state
// (sequence counter, replay window, counters) is shared by the lcores that
// process the SA and updated once per SA group of a burst, not per packet.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include <rte_common.h>
#include <rte_spinlock.h>

#include "controlplane/config.h"
#include "dataplane/ipsec/anti_replay.h"
#include "dataplane/ipsec/gcm_engine.h"

namespace gw::dp::ipsec {

inline constexpr uint32_t kEspHeaderLen = 8;   // SPI + sequence number
inline constexpr uint32_t kEspIvLen = 8;       // RFC 4106 explicit IV
inline constexpr uint32_t kEspTrailerLen = 2;  // pad length + next header
inline constexpr uint32_t kEspIcvLen = 16;
inline constexpr uint8_t kProtoEsp = 50;

struct alignas(RTE_CACHE_LINE_SIZE) Sa {
    // --- immutable after publication ---
    std::string name;
    uint32_t spi = 0;
    bool outbound = true;
    bool esn = false;
    bool outer_v6 = false;
    uint32_t local4_host = 0;  // tunnel endpoints
    uint32_t remote4_host = 0;
    std::array<uint8_t, 16> local6{};
    std::array<uint8_t, 16> remote6{};
    std::array<uint8_t, 4> salt{};
    uint64_t soft_bytes = 0, hard_bytes = 0, soft_packets = 0, hard_packets = 0;
    uint32_t soft_seconds = 0, hard_seconds = 0;
    uint64_t created_tsc = 0;
    GcmKey key;

    // --- outbound: next sequence number to hand out (reserved per group) ---
    alignas(RTE_CACHE_LINE_SIZE) std::atomic<uint64_t> next_seq{1};

    // --- inbound: replay window under a per-SA lock (taken per group) ---
    alignas(RTE_CACHE_LINE_SIZE) rte_spinlock_t replay_lock = RTE_SPINLOCK_INITIALIZER;
    ReplayWindow replay;

    // --- shared counters ---
    alignas(RTE_CACHE_LINE_SIZE) std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> replay_drops{0};
    std::atomic<uint64_t> auth_drops{0};
    // Set when a hard limit or sequence-number overflow stops the SA; the
    // control thread also sets it when the hard time limit passes.
    std::atomic<bool> dead{false};
    std::atomic<bool> soft_expired{false};

    [[nodiscard]] uint64_t max_seq() const noexcept { return esn ? UINT64_MAX : UINT32_MAX; }

    // Reserves `n` consecutive outbound sequence numbers; returns the first,
    // or 0 when the sequence space is exhausted (the SA is then dead).
    [[nodiscard]] uint64_t reserve_seq(uint32_t n) noexcept {
        const uint64_t first = next_seq.fetch_add(n, std::memory_order_relaxed);
        if (first > max_seq() - n + 1 || first == 0) [[unlikely]] {
            dead.store(true, std::memory_order_relaxed);
            return 0;
        }
        return first;
    }

    // Adds one group's traffic and stops the SA at its hard limits.
    void account(uint64_t n_packets, uint64_t n_bytes) noexcept {
        const uint64_t p = packets.fetch_add(n_packets, std::memory_order_relaxed) + n_packets;
        const uint64_t b = bytes.fetch_add(n_bytes, std::memory_order_relaxed) + n_bytes;
        if ((hard_packets != 0 && p >= hard_packets) || (hard_bytes != 0 && b >= hard_bytes)) [[unlikely]] {
            dead.store(true, std::memory_order_relaxed);
        }
        if ((soft_packets != 0 && p >= soft_packets) || (soft_bytes != 0 && b >= soft_bytes)) [[unlikely]] {
            soft_expired.store(true, std::memory_order_relaxed);
        }
    }
};

// True when both SAs run between the same tunnel endpoints.
[[nodiscard]] inline bool same_tunnel(const Sa& a, const Sa& b) noexcept {
    if (a.outer_v6 != b.outer_v6) {
        return false;
    }
    return a.outer_v6 ? a.local6 == b.local6 && a.remote6 == b.remote6
                      : a.local4_host == b.local4_host && a.remote4_host == b.remote4_host;
}

// Builds an SA from its config; expands the key with `engine`.
[[nodiscard]] Result<std::unique_ptr<Sa>> make_sa(const cp::SaConfig& config, const GcmEngine& engine,
                                                  uint64_t now_tsc);

}  // namespace gw::dp::ipsec
