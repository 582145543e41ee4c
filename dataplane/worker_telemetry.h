#pragma once
// What a worker measures beyond its counters: per rx queue packets, polls and
// the residence time of every packet it received (rx burst -> tx burst), and
// the TSC cycles it spends in each stage. Written by the one worker polling
// the queue, read by the control thread; latency samples move through the
// LatencyRecorder double buffer (latency_histogram.h), nothing is locked.
//
// The receive timestamp rides in the mbuf's 8-byte `hash` field, which the
// data plane does not read after rx (a punted packet overwrites hash.usr, and
// punted packets are transmitted by the control thread, which records no
// latency): bits 63..8 are the rx TSC, bits 7..0 the slot of the rx queue in
// the worker's list. 0 means "not stamped" (packets the data plane creates,
// such as ICMP errors, inherit their cause's stamp or carry 0).

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "dataplane/latency_histogram.h"

namespace gw::dp {

// Rx queues one worker may poll: the stamp keeps the slot in 8 bits.
inline constexpr uint16_t kMaxQueuesPerWorker = 64;

struct alignas(RTE_CACHE_LINE_SIZE) QueueTelemetry {
    explicit QueueTelemetry(std::size_t window_intervals) : latency(window_intervals) {}

    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t polls = 0;
    uint64_t empty_polls = 0;
    LatencyRecorder latency;
};

// X(identifier, label): stages in the order a packet meets them.
#define GW_STAGES(X)              \
    X(rx, "rx")                   \
    X(forward, "forward")         \
    X(esp_decrypt, "esp-decrypt") \
    X(esp_encrypt, "esp-encrypt") \
    X(tx, "tx")

enum class Stage : uint8_t {
#define GW_STAGE_ENUM(id, label) id,
    GW_STAGES(GW_STAGE_ENUM)
#undef GW_STAGE_ENUM
};
inline constexpr std::size_t kNumStages = 0
#define GW_STAGE_COUNT(id, label) +1
    GW_STAGES(GW_STAGE_COUNT)
#undef GW_STAGE_COUNT
    ;
inline constexpr std::array<std::string_view, kNumStages> kStageLabels = {
#define GW_STAGE_LABEL(id, label) label,
    GW_STAGES(GW_STAGE_LABEL)
#undef GW_STAGE_LABEL
};

struct StageCounters {
    uint64_t calls = 0;
    uint64_t packets = 0;
    uint64_t cycles = 0;
};

[[nodiscard]] inline uint64_t rx_stamp(const rte_mbuf* m) noexcept {
    uint64_t v;
    std::memcpy(&v, &m->hash, sizeof v);
    return v;
}
inline void set_rx_stamp(rte_mbuf* m, uint64_t v) noexcept {
    static_assert(sizeof(m->hash) == sizeof(uint64_t));
    std::memcpy(&m->hash, &v, sizeof v);
}
[[nodiscard]] constexpr uint64_t make_rx_stamp(uint64_t tsc, uint16_t slot) noexcept {
    return (tsc << 8) | slot;
}

// TSC cycles -> nanoseconds as one multiply and shift: mult = 2^32 * 1e9 / hz.
[[nodiscard]] inline uint64_t tsc_to_ns_mult(uint64_t tsc_hz) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(1'000'000'000) << 32) / tsc_hz);
}
[[nodiscard]] inline uint64_t cycles_to_ns(uint64_t cycles, uint64_t mult) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(cycles) * mult) >> 32);
}

}  // namespace gw::dp
