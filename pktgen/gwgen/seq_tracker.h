#pragma once
// Per-stream sequence accounting on the receive side: duplicates and reordering from a
// sliding bitmap of the last kWindow sequence numbers below the highest seen.
//
//   seq >= head (head = highest seen + 1): new. in_order when seq == head, else gap
//       (the packets in between are missing so far: lost, or reordered and yet to come).
//   seq <  head, within the window: late (a reordered packet, RFC 4737's definition: it
//       arrived after a packet with a higher number), or duplicate if already seen.
//   seq <  head - kWindow: too_late; whether it is a duplicate can no longer be told.
// Loss is not decided here: it is what was sent minus what was seen once, once the run
// has drained.
// No DPDK; fixed memory (8 KiB), no allocation.

#include <algorithm>
#include <array>
#include <cstdint>

namespace gw::gen {

class SeqTracker {
public:
    static constexpr uint64_t kWindow = uint64_t{1} << 16;

    enum class Verdict : uint8_t { in_order, gap, late, duplicate, too_late };

    [[nodiscard]] Verdict observe(uint64_t seq) noexcept {
        if (seq >= head_) {
            const Verdict v = seq == head_ ? Verdict::in_order : Verdict::gap;
            // Numbers [head_, seq] enter the window: forget what their slots held.
            clear(head_, std::min(seq - head_ + 1, kWindow));
            set(seq);
            head_ = seq + 1;
            return v;
        }
        if (head_ - seq > kWindow) {
            return Verdict::too_late;
        }
        if (test(seq)) {
            return Verdict::duplicate;
        }
        set(seq);
        return Verdict::late;
    }
    // Highest sequence number seen + 1 (0 before the first).
    [[nodiscard]] uint64_t head() const noexcept { return head_; }
    void reset() noexcept {
        head_ = 0;
        bits_.fill(0);
    }

private:
    static constexpr uint64_t kWords = kWindow / 64;

    [[nodiscard]] bool test(uint64_t seq) const noexcept {
        const uint64_t i = seq % kWindow;
        return ((bits_[i / 64] >> (i % 64)) & 1) != 0;
    }
    void set(uint64_t seq) noexcept {
        const uint64_t i = seq % kWindow;
        bits_[i / 64] |= uint64_t{1} << (i % 64);
    }
    // Clears `count` (<= kWindow) slots starting at number `from`, a word at a time.
    void clear(uint64_t from, uint64_t count) noexcept {
        while (count > 0) {
            const uint64_t i = from % kWindow;
            const uint64_t bit = i % 64;
            const uint64_t n = std::min<uint64_t>(64 - bit, count);
            const uint64_t mask = n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1) << bit;
            bits_[i / 64] &= ~mask;
            from += n;
            count -= n;
        }
    }

    uint64_t head_ = 0;
    std::array<uint64_t, kWords> bits_{};
};

}  // namespace gw::gen
