#pragma once
// A security association as the data plane holds it. Immutable parameters
// are set by the control thread before publication; the mutable state
// (sequence counter, replay window, counters) is shared by the lcores that
// process the SA and updated once per SA group of a burst, not per packet.

#include <algorithm>
#include <array>
#include <memory>
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

// What an SA accumulates while it runs: the outbound sequence counter, the
// inbound replay window, counters and the stop flags. Kept apart from the
// SA's parameters because it belongs to the key, not to one configuration:
// an SA whose parameters change (a lifetime, the window size) is rebuilt
// around the same state, so a GCM nonce (salt || sequence number) is never
// used twice with one key, and a removed key re-added later resumes too.
struct alignas(RTE_CACHE_LINE_SIZE) SaState {
    // --- outbound: next sequence number to hand out (reserved per group) ---
    std::atomic<uint64_t> next_seq{1};

    // --- inbound: replay window under a per-SA lock (taken per group) ---
    alignas(RTE_CACHE_LINE_SIZE) rte_spinlock_t replay_lock = RTE_SPINLOCK_INITIALIZER;
    ReplayWindow replay;

    // --- shared counters ---
    alignas(RTE_CACHE_LINE_SIZE) std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> replay_drops{0};
    std::atomic<uint64_t> auth_drops{0};
    // Set when a hard limit or sequence-number overflow stops the SA; the
    // control thread also sets it when the hard time limit passes. A stopped
    // key stays stopped: rekey with a new key.
    std::atomic<bool> dead{false};
    std::atomic<bool> soft_expired{false};
};

struct alignas(RTE_CACHE_LINE_SIZE) Sa {
    explicit Sa(std::shared_ptr<SaState> s) noexcept
        : state_(std::move(s)),
          next_seq(state_->next_seq),
          replay_lock(state_->replay_lock),
          replay(state_->replay),
          packets(state_->packets),
          bytes(state_->bytes),
          replay_drops(state_->replay_drops),
          auth_drops(state_->auth_drops),
          dead(state_->dead),
          soft_expired(state_->soft_expired) {}

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

private:
    std::shared_ptr<SaState> state_;  // shared with the SA this one replaced, if any

public:
    // The running state (see SaState), by name.
    std::atomic<uint64_t>& next_seq;
    rte_spinlock_t& replay_lock;
    ReplayWindow& replay;
    std::atomic<uint64_t>& packets;
    std::atomic<uint64_t>& bytes;
    std::atomic<uint64_t>& replay_drops;
    std::atomic<uint64_t>& auth_drops;
    std::atomic<bool>& dead;
    std::atomic<bool>& soft_expired;

    [[nodiscard]] const std::shared_ptr<SaState>& state() const noexcept { return state_; }
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

    // How many of `n` packets the hard packet limit still admits.
    [[nodiscard]] uint32_t admit(uint32_t n) const noexcept {
        if (hard_packets == 0) {
            return n;
        }
        const uint64_t used = packets.load(std::memory_order_relaxed);
        return used >= hard_packets ? 0 : static_cast<uint32_t>(std::min<uint64_t>(n, hard_packets - used));
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

// Builds an SA from its config; expands the key with `engine`. `state` is
// the running state to continue (same key), or nullptr for a fresh one.
// Validates what parse_config validates, for configs built by hand.
[[nodiscard]] Result<std::unique_ptr<Sa>> make_sa(const cp::SaConfig& config, const GcmEngine& engine, uint64_t now_tsc,
                                                  std::shared_ptr<SaState> state = nullptr);

}  // namespace gw::dp::ipsec
