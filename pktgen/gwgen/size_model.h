#pragma once
// Frame sizes per packet, from a SizeSpec: fixed, uniform over a range, or a weighted
// mix spread evenly through its cycle (7:4:1 gives 64 576 64 1500 64 576 64 ... rather
// than seven 64s in a row), so a short window of a mix already has the mix's shape.
// Also the generator's per-stream PRNG. No DPDK, no allocation after construction.

#include <cstdint>
#include <vector>

#include "pktgen/gwgen/spec.h"

namespace gw::gen {

// splitmix64: turns any seed (0 included) into a good xorshift state.
[[nodiscard]] inline uint64_t seed_state(uint64_t seed) noexcept {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z != 0 ? z : 1;
}

// xorshift64*: fast, good enough for sizes and payload bytes (not for anything secret).
[[nodiscard]] inline uint64_t next_random(uint64_t& state) noexcept {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dULL;
}

class SizeModel {
public:
    explicit SizeModel(const SizeSpec& spec) : kind_(spec.kind), lo_(spec.lo), span_(spec.hi - spec.lo + 1u) {
        if (kind_ != SizeKind::mix) {
            return;
        }
        // Smooth weighted round robin: each step every entry gains its weight, the
        // largest is taken and loses the total.
        uint64_t total = 0;
        for (const auto& [size, weight] : spec.mix) {
            total += weight;
        }
        std::vector<int64_t> current(spec.mix.size(), 0);
        pattern_.reserve(total);
        for (uint64_t step = 0; step < total; ++step) {
            std::size_t best = 0;
            for (std::size_t i = 0; i < spec.mix.size(); ++i) {
                current[i] += spec.mix[i].second;
                if (current[i] > current[best]) {
                    best = i;
                }
            }
            current[best] -= static_cast<int64_t>(total);
            pattern_.push_back(spec.mix[best].first);
        }
    }

    // The next frame size (FCS included).
    [[nodiscard]] uint16_t next(uint64_t& rng) noexcept {
        switch (kind_) {
            case SizeKind::fixed:
                return lo_;
            case SizeKind::range:
                return static_cast<uint16_t>(lo_ + (((next_random(rng) >> 32) * span_) >> 32));
            case SizeKind::mix:
                break;
        }
        const uint16_t size = pattern_[pos_];
        pos_ = pos_ + 1 == pattern_.size() ? 0 : pos_ + 1;
        return size;
    }
    void restart() noexcept { pos_ = 0; }
    [[nodiscard]] const std::vector<uint16_t>& pattern() const noexcept { return pattern_; }

private:
    SizeKind kind_;
    uint16_t lo_;
    uint32_t span_;
    std::vector<uint16_t> pattern_;
    uint32_t pos_ = 0;
};

}  // namespace gw::gen
