#pragma once
// TSC pacing by absolute deadlines. A stream's k-th unit (a packet for pps rates, a wire
// bit for bps rates) is due at
//     t0 + floor(units_before_k * tsc_hz / units_per_s)
// kept exactly by integer carry (Bresenham) instead of adding a rounded period: no drift
// however long the run, and no division per packet. A sender that falls behind catches up
// (bounded by its burst per call) instead of stretching the schedule; one that falls more
// than max_lag behind skips ahead (rebase) and counts a slip, so a stall never turns into
// an unbounded burst.
// No DPDK: tested with synthetic TSC values.

#include <cmath>
#include <cstdint>

#include "pktgen/gwgen/spec.h"

namespace gw::gen {

class Pacer {
public:
    // units_per_s >= 1.
    void start(uint64_t t0_tsc, uint64_t tsc_hz, uint64_t units_per_s) noexcept {
        rate_ = units_per_s;
        q_ = tsc_hz / units_per_s;
        r_ = tsc_hz % units_per_s;
        deadline_ = t0_tsc;
        frac_ = 0;
    }
    // When the next unit is due.
    [[nodiscard]] uint64_t deadline() const noexcept { return deadline_; }
    // Schedules `units` more after the current deadline. units * max(q, r) must fit in
    // 64 bits: at 1 kbps and 3 GHz, q * 73888 bits (a 9216-byte frame) is 2.2e11.
    void advance(uint64_t units) noexcept {
        deadline_ += units * q_;
        frac_ += units * r_;
        if (frac_ >= rate_) {
            deadline_ += frac_ / rate_;
            frac_ %= rate_;
        }
    }
    // Restarts the schedule at now (after a stall longer than max_lag).
    void rebase(uint64_t now_tsc) noexcept {
        deadline_ = now_tsc;
        frac_ = 0;
    }

private:
    uint64_t deadline_ = 0;
    uint64_t q_ = 0;  // tsc_hz / rate: whole TSC cycles per unit
    uint64_t r_ = 0;  // tsc_hz % rate: the fraction, in 1/rate cycles
    uint64_t rate_ = 1;
    uint64_t frac_ = 0;  // accumulated fraction, < rate_ between calls
};

// A stream's rate as a pacing schedule: units per second, and whether a unit is a packet
// or a wire bit.
struct Schedule {
    bool per_bit = false;
    uint64_t units_per_s = 1;

    [[nodiscard]] uint64_t units(uint16_t frame_size) const noexcept {
        return per_bit ? (uint64_t{frame_size} + kWireOverhead) * 8 : 1;
    }
    // Mean packets per second for frames of mean_size bytes.
    [[nodiscard]] double pps(double mean_size) const noexcept {
        return per_bit ? static_cast<double>(units_per_s) / ((mean_size + kWireOverhead) * 8)
                       : static_cast<double>(units_per_s);
    }
};

// rate * load as a schedule; link_mbps is used only for percent rates. Never below one
// unit per second.
[[nodiscard]] inline Schedule make_schedule(const Rate& rate, double load, uint64_t link_mbps) noexcept {
    double units = 0;
    bool per_bit = true;
    switch (rate.unit) {
        case RateUnit::pps:
            units = rate.value * load;
            per_bit = false;
            break;
        case RateUnit::bps:
            units = rate.value * load;
            break;
        case RateUnit::percent:
            units = rate.value / 100.0 * static_cast<double>(link_mbps) * 1e6 * load;
            break;
    }
    return Schedule{.per_bit = per_bit, .units_per_s = units < 1 ? 1 : static_cast<uint64_t>(std::llround(units))};
}

}  // namespace gw::gen
