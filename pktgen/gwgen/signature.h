#pragma once
// The gwgen signature: 18 bytes at the start of every generated packet's UDP payload,
// by which the receiver recognises its own packets and measures them.
//
//   offset  size  field
//        0     4  magic   kMagic, network byte order ("GWG1")
//        4     1  epoch   run / trial number (mod 256): packets of an earlier trial are "stale"
//        5     1  stream  stream index within the run
//        6     6  seq     per-stream sequence number, network byte order (48 bits)
//       12     6  tx_tsc  low 48 bits of the sender's TSC when the burst was built
//
// 48 bits of sequence last 2.8e14 packets; 48 bits of TSC wrap after 26 hours at 3 GHz, and
// latency is the 48-bit modular difference, so only packets delayed by more than that would
// be mismeasured. 18 bytes is what a 64-byte IPv4 frame leaves after Ethernet, IPv4, UDP
// and the FCS (64 - 4 - 14 - 20 - 8), so the smallest frames carry a signature too.
// No DPDK here: the same code encodes, decodes and tests.

#include <cstddef>
#include <cstdint>
#include <optional>

namespace gw::gen {

inline constexpr std::size_t kSignatureLen = 18;
inline constexpr uint32_t kMagic = 0x47574731;  // "GWG1"
inline constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;
inline constexpr unsigned kMaxStreams = 256;  // the stream field is one byte

struct Signature {
    uint8_t epoch = 0;
    uint8_t stream = 0;
    uint64_t seq = 0;     // 48 bits kept
    uint64_t tx_tsc = 0;  // 48 bits kept
    friend bool operator==(const Signature&, const Signature&) = default;
};

namespace detail {
inline void put_be(uint8_t* p, uint64_t v, unsigned bytes) noexcept {
    for (unsigned i = 0; i < bytes; ++i) {
        p[i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
    }
}
[[nodiscard]] inline uint64_t get_be(const uint8_t* p, unsigned bytes) noexcept {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) {
        v = (v << 8) | p[i];
    }
    return v;
}
}  // namespace detail

// Writes kSignatureLen bytes at p.
inline void write_signature(uint8_t* p, const Signature& s) noexcept {
    detail::put_be(p, kMagic, 4);
    p[4] = s.epoch;
    p[5] = s.stream;
    detail::put_be(p + 6, s.seq & kMask48, 6);
    detail::put_be(p + 12, s.tx_tsc & kMask48, 6);
}

// Reads kSignatureLen bytes at p; nullopt when the magic does not match.
[[nodiscard]] inline std::optional<Signature> read_signature(const uint8_t* p) noexcept {
    if (detail::get_be(p, 4) != kMagic) {
        return std::nullopt;
    }
    return Signature{
        .epoch = p[4], .stream = p[5], .seq = detail::get_be(p + 6, 6), .tx_tsc = detail::get_be(p + 12, 6)};
}

// Latency in TSC cycles between a 48-bit TX stamp and a full RX TSC (same clock).
[[nodiscard]] inline uint64_t tsc_delta48(uint64_t rx_tsc, uint64_t tx_tsc48) noexcept {
    return (rx_tsc - tx_tsc48) & kMask48;
}

}  // namespace gw::gen
