#pragma once
// Inbound anti-replay window with 64-bit extended sequence numbers
// (RFC 4303 3.4.3 and Appendix A).
//
// Use: infer the 64-bit number from the 32 bits on the wire (esn_infer),
// check() before spending cycles on decryption, update() only after the ICV
// verified — an unauthenticated packet must never move the window.
// Not thread-safe: the caller serialises check+update per SA.

#include <array>
#include <cstdint>

namespace gw::dp::ipsec {

class ReplayWindow {
public:
    static constexpr uint32_t kMaxSize = 4096;
    static constexpr uint32_t kDefaultSize = 1024;

    enum class Verdict : uint8_t { ok, replayed, too_old };

    // `size` packets, 1..kMaxSize (0 disables replay protection).
    explicit ReplayWindow(uint32_t size = kDefaultSize) noexcept : size_(size) {}

    [[nodiscard]] uint32_t size() const noexcept { return size_; }
    // Highest authenticated sequence number; 0 before the first packet.
    [[nodiscard]] uint64_t top() const noexcept { return top_; }

    // RFC 4303 A2.1: the high 32 bits that place `seq_low` inside or just
    // above the window.
    [[nodiscard]] uint64_t esn_infer(uint32_t seq_low) const noexcept {
        const auto th = static_cast<uint32_t>(top_ >> 32);
        const auto tl = static_cast<uint32_t>(top_);
        const uint32_t w = size_ == 0 ? 1 : size_;
        uint32_t seq_high = th;
        if (tl >= w - 1) {
            // Window within one 2^32 subspace.
            if (seq_low < tl - w + 1) {
                seq_high = th + 1;
            }
        } else if (seq_low >= tl - w + 1 && th != 0) {
            // Window spans two subspaces and seq_low sits in the lower one
            // (tl - w + 1 wraps modulo 2^32 on purpose).
            seq_high = th - 1;
        }
        return (uint64_t{seq_high} << 32) | seq_low;
    }

    [[nodiscard]] Verdict check(uint64_t seq) const noexcept {
        if (seq == 0) {
            return Verdict::too_old;  // sequence numbers start at 1 (RFC 4303 3.3.3)
        }
        if (seq > top_ || size_ == 0) {
            return Verdict::ok;
        }
        if (top_ - seq >= size_) {
            return Verdict::too_old;
        }
        return test(seq) ? Verdict::replayed : Verdict::ok;
    }

    // Changes the window size. The ring keeps the last kMaxSize numbers'
    // bits whatever the size, so growing loses no history (except from a
    // disabled window, which kept none).
    void resize(uint32_t size) noexcept { size_ = size; }

    void update(uint64_t seq) noexcept {
        if (size_ == 0) {
            top_ = seq > top_ ? seq : top_;
            return;
        }
        if (seq > top_) {
            const uint64_t advance = seq - top_;
            if (advance >= kBits) {
                bits_.fill(0);
            } else {
                // Counted, not compared: near 2^64 a position would wrap.
                uint64_t s = top_ + 1;
                for (uint64_t left = advance; left != 0;) {
                    if ((s & 63) == 0 && left >= 64) {
                        bits_[(s / 64) % kWords] = 0;
                        s += 64;
                        left -= 64;
                    } else {
                        bits_[(s / 64) % kWords] &= ~(uint64_t{1} << (s & 63));
                        ++s;
                        --left;
                    }
                }
            }
            top_ = seq;
        }
        bits_[(seq / 64) % kWords] |= uint64_t{1} << (seq & 63);
    }

private:
    // Ring of kBits bits indexed by seq mod kBits; one spare word beyond the
    // largest window keeps the bits of [top - size + 1, top] intact.
    static constexpr uint32_t kBits = kMaxSize + 64;
    static constexpr uint32_t kWords = kBits / 64;

    [[nodiscard]] bool test(uint64_t seq) const noexcept { return (bits_[(seq / 64) % kWords] >> (seq & 63)) & 1; }

    uint64_t top_ = 0;
    uint32_t size_;
    std::array<uint64_t, kWords> bits_{};
};

}  // namespace gw::dp::ipsec
