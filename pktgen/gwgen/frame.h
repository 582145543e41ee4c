#pragma once
// Frames of one stream: Ethernet + IPv4/IPv6 + UDP + signature + fill, with valid IPv4
// header and UDP checksums, written into any buffer (an mbuf's data, a test's vector);
// and the receive side's parser, which finds a signature in a frame.
//
// A stream's flows are the combinations of its field ranges in mixed radix, the source
// address varying fastest, then the destination address, source port, destination port:
// flow f has src = first + f % n_src, dst = first + (f / n_src) % n_dst, and so on.
// Packet seq of a stream belongs to flow seq % flows.
//
// The fill (the payload after the signature) is fixed per stream and size; the UDP
// checksum therefore comes from a prefix sum of the fill (one table lookup) plus the
// headers and signature, never a pass over the payload.
// No DPDK.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/net.h"
#include "pktgen/gwgen/signature.h"
#include "pktgen/gwgen/spec.h"

namespace gw::gen {

inline constexpr uint16_t kEthHdrLen = 14;
inline constexpr uint16_t kIp4HdrLen = 20;
inline constexpr uint16_t kIp6HdrLen = 40;
inline constexpr uint16_t kUdpHdrLen = 8;
inline constexpr uint8_t kIpTtl = 64;

struct FlowFields {
    uint32_t src4 = 0;  // host byte order
    uint32_t dst4 = 0;
    std::array<uint8_t, 16> src6{};
    std::array<uint8_t, 16> dst6{};
    uint16_t sport = 0;
    uint16_t dport = 0;
    friend bool operator==(const FlowFields&, const FlowFields&) = default;
};

class FrameTemplate {
public:
    // `spec` must have passed validate_stream. The fill is derived from seed and the
    // payload kind.
    FrameTemplate(const StreamSpec& spec, const net::MacAddr& src_mac, const net::MacAddr& dst_mac, uint64_t seed);

    [[nodiscard]] bool v6() const noexcept { return v6_; }
    // Ethernet + IP + UDP.
    [[nodiscard]] uint16_t header_len() const noexcept { return v6_ ? 62 : 42; }
    [[nodiscard]] uint32_t flows() const noexcept { return flows_; }
    [[nodiscard]] FlowFields flow_fields(uint32_t flow) const noexcept;
    // The payload bytes after the signature (as long as the stream's largest frame needs).
    [[nodiscard]] std::span<const uint8_t> fill() const noexcept { return fill_; }

    // Writes the frame of `frame_size` bytes (FCS included, so frame_size - 4 bytes are
    // written) for `flow`, carrying `sig`. frame_size must be within the stream's sizes.
    void write(uint8_t* out, uint16_t frame_size, uint32_t flow, const Signature& sig) const noexcept;

private:
    bool v6_;
    uint32_t flows_;
    std::array<uint8_t, 62> header_{};  // the template: lengths, addresses, ports, checksums zero
    net::IpAddr src_first_;
    net::IpAddr dst_first_;
    uint32_t src_count_;
    uint32_t dst_count_;
    uint16_t sport_first_;
    uint32_t sport_count_;
    uint16_t dport_first_;
    uint32_t dport_count_;
    std::vector<uint8_t> fill_;
    std::vector<uint32_t> fill_sum_;  // fill_sum_[n]: RFC 1071 sum of fill_[0..n), zero padded
};

// The signature of a gwgen frame (Ethernet, an optional VLAN tag, IPv4 without
// fragment offset or IPv6 without extension headers, UDP), or nullopt for anything else.
[[nodiscard]] std::optional<Signature> parse_frame(const uint8_t* frame, uint32_t len) noexcept;

// RFC 1071 helpers (exposed for tests).
[[nodiscard]] uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t acc = 0) noexcept;
[[nodiscard]] uint16_t fold_checksum(uint32_t acc) noexcept;

// The fill bytes for a payload kind: zeros, English-like words (compressible about 2:1
// by LZ4, like text protocols), or uniformly random bytes.
[[nodiscard]] std::vector<uint8_t> make_fill(Payload kind, std::size_t len, uint64_t seed);

}  // namespace gw::gen
