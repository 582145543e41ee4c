#pragma once
// Per-lcore token bucket in TSC units (ICMP error rate limit, RFC 1812 4.3.2.8).
// Owned by one thread: no atomics.

#include <algorithm>
#include <cstdint>

namespace gw::dp {

class TokenBucket {
public:
    TokenBucket() = default;
    // rate_per_s == 0 disables the bucket (take() always fails).
    TokenBucket(uint64_t rate_per_s, uint32_t burst, uint64_t tsc_hz, uint64_t now_tsc) noexcept
        : tsc_per_token_(rate_per_s == 0 ? 0 : std::max<uint64_t>(1, tsc_hz / rate_per_s)),
          last_tsc_(now_tsc),
          tokens_(rate_per_s == 0 ? 0 : burst),
          burst_(burst) {}

    [[nodiscard]] bool take(uint64_t now_tsc) noexcept {
        if (tsc_per_token_ == 0) {
            return false;
        }
        if (tokens_ == 0) {
            const uint64_t earned = (now_tsc - last_tsc_) / tsc_per_token_;
            if (earned == 0) {
                return false;
            }
            tokens_ = static_cast<uint32_t>(std::min<uint64_t>(burst_, earned));
            last_tsc_ = earned >= burst_ ? now_tsc : last_tsc_ + earned * tsc_per_token_;
        }
        --tokens_;
        return true;
    }

private:
    uint64_t tsc_per_token_ = 0;
    uint64_t last_tsc_ = 0;
    uint32_t tokens_ = 0;
    uint32_t burst_ = 0;
};

}  // namespace gw::dp
