#pragma once
// Per-lcore counters: plain integers written only by their owning thread and
// read (racily, which is fine for monotonic 64-bit counters on x86-64) by the
// control thread. Nothing on the packet path is shared or atomic-RMW.

#include <array>
#include <cstdint>

#include <rte_common.h>

#include "dataplane/drop_reasons.h"
#include "dataplane/worker_telemetry.h"

namespace gw::dp {

inline constexpr uint16_t kMaxPortsDp = 32;

struct alignas(RTE_CACHE_LINE_SIZE) LcoreCounters {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t polls = 0;              // rx_burst calls
    uint64_t empty_polls = 0;        // rx_burst calls that returned nothing
    uint64_t punted = 0;             // handed to the control thread's slow path
    uint64_t icmp_sent = 0;          // ICMP errors and echo replies generated
    uint64_t icmp_rate_limited = 0;  // ICMP errors suppressed by the rate limit
    uint64_t fragments_made = 0;     // IPv4 fragments created for an MTU
    uint64_t busy_cycles = 0;        // TSC cycles in poll rounds that received packets
    uint64_t total_cycles = 0;       // TSC cycles in all poll rounds
    std::array<uint64_t, kNumDropReasons> drops{};
    std::array<StageCounters, kNumStages> stages{};  // only with telemetry latency on

    void stage(Stage s, uint64_t packets, uint64_t cycles) noexcept {
        auto& c = stages[static_cast<std::size_t>(s)];
        ++c.calls;
        c.packets += packets;
        c.cycles += cycles;
    }

    void drop(DropReason r, uint64_t n = 1) noexcept { drops[static_cast<std::size_t>(r)] += n; }
    [[nodiscard]] uint64_t dropped(DropReason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
    [[nodiscard]] uint64_t total_drops() const noexcept {
        uint64_t sum = 0;
        for (auto d : drops) {
            sum += d;
        }
        return sum;
    }
    LcoreCounters& operator+=(const LcoreCounters& o) noexcept;
};

inline LcoreCounters& LcoreCounters::operator+=(const LcoreCounters& o) noexcept {
    rx_packets += o.rx_packets;
    rx_bytes += o.rx_bytes;
    tx_packets += o.tx_packets;
    tx_bytes += o.tx_bytes;
    polls += o.polls;
    empty_polls += o.empty_polls;
    punted += o.punted;
    icmp_sent += o.icmp_sent;
    icmp_rate_limited += o.icmp_rate_limited;
    fragments_made += o.fragments_made;
    busy_cycles += o.busy_cycles;
    total_cycles += o.total_cycles;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        stages[i].calls += o.stages[i].calls;
        stages[i].packets += o.stages[i].packets;
        stages[i].cycles += o.stages[i].cycles;
    }
    for (std::size_t i = 0; i < drops.size(); ++i) {
        drops[i] += o.drops[i];
    }
    return *this;
}

}  // namespace gw::dp
