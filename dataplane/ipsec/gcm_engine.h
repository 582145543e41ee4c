#pragma once
// AES-GCM through Intel ipsec-mb's job API: one manager per lcore, a batch of
// operations submitted back to back and retired in order, so the library can
// keep its pipelines full across packets (VPP's ipsecmb engine does the same).

#include <cstdint>
#include <memory>
#include <span>

#include <intel-ipsec-mb.h>

#include "common/error.h"

namespace gw::dp::ipsec {

// Expanded key material; 16-byte aligned as ipsec-mb requires.
struct alignas(64) GcmKey {
    gcm_key_data data;
    uint8_t key_len = 16;  // 16 or 32 bytes
};

struct GcmOp {
    const GcmKey* key = nullptr;
    const uint8_t* iv = nullptr;  // 12 bytes: salt || explicit IV (RFC 4106 4)
    const uint8_t* aad = nullptr;
    uint8_t aad_len = 0;      // 8, or 12 with ESN
    uint8_t* data = nullptr;  // in place
    uint32_t len = 0;
    uint8_t* tag = nullptr;  // encrypt: written; decrypt: the computed tag is written here
    bool ok = false;         // set on completion
};

class GcmEngine {
public:
    ~GcmEngine();
    GcmEngine(const GcmEngine&) = delete;
    GcmEngine& operator=(const GcmEngine&) = delete;

    // Picks the best code path for this CPU (SSE, AVX2, AVX-512/VAES).
    [[nodiscard]] static Result<std::unique_ptr<GcmEngine>> create();

    // Expands `key` (16 or 32 bytes) into `out`.
    [[nodiscard]] Status expand_key(std::span<const uint8_t> key, GcmKey& out) const;

    // Runs every op; each op's `ok` tells whether the library completed it.
    void encrypt(std::span<GcmOp> ops) noexcept { run(ops, true); }
    void decrypt(std::span<GcmOp> ops) noexcept { run(ops, false); }

    [[nodiscard]] const char* arch_name() const noexcept { return arch_name_; }

private:
    GcmEngine() = default;
    void run(std::span<GcmOp> ops, bool encrypt) noexcept;

    IMB_MGR* mgr_ = nullptr;
    const char* arch_name_ = "unknown";
};

// Constant-time comparison of authentication tags: the time taken does not
// depend on where the first differing byte is.
[[nodiscard]] inline bool tag_equal(const uint8_t* a, const uint8_t* b, unsigned len) noexcept {
    uint8_t diff = 0;
    for (unsigned i = 0; i < len; ++i) {
        diff |= static_cast<uint8_t>(a[i] ^ b[i]);
    }
    return diff == 0;
}

}  // namespace gw::dp::ipsec
