#pragma once
// Test frames as byte vectors: Ethernet, ARP, IPv4, IPv6, UDP, ICMP, ICMPv6
// and neighbor discovery, with every checksum filled in, plus readers for
// checking what the data plane sent.
//
// The checksums here are an independent RFC 1071 implementation (no DPDK
// helpers), so they are an oracle for the data plane's own arithmetic.
// Multi-byte fields are written in network byte order; IPv4 addresses are
// passed in host order (as common/net.h keeps them), IPv6 as 16 bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/net.h"

namespace gw::test {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;
using Ip6 = std::array<uint8_t, 16>;

inline constexpr std::size_t kEthLen = 14;
inline constexpr std::size_t kIp4Len = 20;
inline constexpr std::size_t kIp6Len = 40;
inline constexpr uint16_t kEtherIp4 = 0x0800;
inline constexpr uint16_t kEtherIp6 = 0x86dd;
inline constexpr uint16_t kEtherArp = 0x0806;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmp6 = 58;
inline constexpr uint8_t kProtoNone6 = 59;  // IPv6 "no next header"
inline constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr Mac kZeroMac{};

// Literals for readable tables; a malformed literal is a bug in the test.
inline Mac mac(std::string_view s) {
    return net::parse_mac(s).value().bytes;
}
inline uint32_t ip4(std::string_view s) {
    return net::parse_ip4(s).value().host;
}
inline Ip6 ip6(std::string_view s) {
    return net::parse_ip6(s).value().bytes;
}

// ---- Writing and reading network byte order ------------------------------

inline void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
template <std::size_t N>
void put(Bytes& b, const std::array<uint8_t, N>& a) {
    b.insert(b.end(), a.begin(), a.end());
}
inline void put(Bytes& b, std::span<const uint8_t> s) {
    b.insert(b.end(), s.begin(), s.end());
}

inline void set16(Bytes& b, std::size_t off, uint16_t v) {
    b.at(off) = static_cast<uint8_t>(v >> 8);
    b.at(off + 1) = static_cast<uint8_t>(v);
}
[[nodiscard]] inline uint16_t get16(std::span<const uint8_t> b, std::size_t off) {
    return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}
[[nodiscard]] inline uint32_t get32(std::span<const uint8_t> b, std::size_t off) {
    return uint32_t{get16(b, off)} << 16 | get16(b, off + 2);
}
template <std::size_t N>
[[nodiscard]] std::array<uint8_t, N> get_array(std::span<const uint8_t> b, std::size_t off) {
    std::array<uint8_t, N> a{};
    for (std::size_t i = 0; i < N; ++i) {
        a[i] = b[off + i];
    }
    return a;
}
[[nodiscard]] inline Mac get_mac(std::span<const uint8_t> b, std::size_t off) {
    return get_array<6>(b, off);
}
[[nodiscard]] inline Ip6 get_ip6(std::span<const uint8_t> b, std::size_t off) {
    return get_array<16>(b, off);
}

// ---- RFC 1071 checksums ------------------------------------------------

// One's-complement sum of big-endian 16-bit words (odd tail padded with 0), unfolded.
[[nodiscard]] inline uint32_t sum16(std::span<const uint8_t> b, uint32_t acc = 0) {
    for (std::size_t i = 0; i + 1 < b.size(); i += 2) {
        acc += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
    }
    if (b.size() % 2 != 0) {
        acc += static_cast<uint32_t>(b.back() << 8);
    }
    return acc;
}
[[nodiscard]] inline uint16_t fold(uint32_t acc) {
    while ((acc >> 16) != 0) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return static_cast<uint16_t>(acc);
}
// The value to store in a checksum field that was zero while summing.
[[nodiscard]] inline uint16_t checksum(std::span<const uint8_t> b, uint32_t acc = 0) {
    return static_cast<uint16_t>(~fold(sum16(b, acc)));
}
// True when data including its checksum field sums to all ones.
[[nodiscard]] inline bool checksum_ok(std::span<const uint8_t> b, uint32_t acc = 0) {
    return fold(sum16(b, acc)) == 0xffff;
}

[[nodiscard]] inline uint32_t pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}
[[nodiscard]] inline uint32_t pseudo6(const Ip6& src, const Ip6& dst, uint8_t next, uint32_t len) {
    return sum16(src) + sum16(dst) + (len >> 16) + (len & 0xffff) + next;
}

// ---- Builders --------------------------------------------------------------

[[nodiscard]] inline Bytes ether(const Mac& dst, const Mac& src, uint16_t type, std::span<const uint8_t> payload) {
    Bytes b;
    put(b, dst);
    put(b, src);
    put16(b, type);
    put(b, payload);
    return b;
}

// Pads a frame with zeros to the 60-byte Ethernet minimum (without FCS), as NICs deliver it.
[[nodiscard]] inline Bytes padded(Bytes frame, std::size_t min_len = 60) {
    if (frame.size() < min_len) {
        frame.resize(min_len, 0);
    }
    return frame;
}

inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

// ARP for Ethernet/IPv4 (28 bytes); hlen is a parameter so tests can break it.
[[nodiscard]] inline Bytes arp(uint16_t op, const Mac& sha, uint32_t spa, const Mac& tha, uint32_t tpa,
                               uint8_t hlen = 6) {
    Bytes b;
    put16(b, 1);  // Ethernet
    put16(b, kEtherIp4);
    b.push_back(hlen);
    b.push_back(4);
    put16(b, op);
    put(b, sha);
    put32(b, spa);
    put(b, tha);
    put32(b, tpa);
    return b;
}

struct Ip4Fields {
    uint32_t src = 0;
    uint32_t dst = 0;
    uint8_t ttl = 64;
    uint8_t proto = kProtoUdp;
    bool df = false;
    uint16_t frag_offset = 0;  // in 8-byte units
    uint16_t id = 0x1234;
    uint8_t tos = 0;
    Bytes options{};  // multiple of 4 bytes
};

// IPv4 header + payload with a valid header checksum.
[[nodiscard]] inline Bytes ipv4(const Ip4Fields& f, std::span<const uint8_t> payload) {
    const std::size_t hlen = kIp4Len + f.options.size();
    Bytes b;
    b.push_back(static_cast<uint8_t>(0x40 | (hlen / 4)));
    b.push_back(f.tos);
    put16(b, static_cast<uint16_t>(hlen + payload.size()));
    put16(b, f.id);
    put16(b, static_cast<uint16_t>((f.df ? 0x4000 : 0) | (f.frag_offset & 0x1fff)));
    b.push_back(f.ttl);
    b.push_back(f.proto);
    put16(b, 0);
    put32(b, f.src);
    put32(b, f.dst);
    put(b, f.options);
    set16(b, 10, checksum(std::span(b).first(hlen)));
    put(b, payload);
    return b;
}

// UDP over IPv4, UDP checksum included.
[[nodiscard]] inline Bytes ipv4_udp(Ip4Fields f, uint16_t sport, uint16_t dport, std::span<const uint8_t> data) {
    f.proto = kProtoUdp;
    Bytes udp;
    put16(udp, sport);
    put16(udp, dport);
    put16(udp, static_cast<uint16_t>(8 + data.size()));
    put16(udp, 0);
    put(udp, data);
    uint16_t c = checksum(udp, pseudo4(f.src, f.dst, kProtoUdp, static_cast<uint32_t>(udp.size())));
    set16(udp, 6, c == 0 ? 0xffff : c);
    return ipv4(f, udp);
}

// ICMP over IPv4: type, code, the 4-byte "rest of header", then data.
[[nodiscard]] inline Bytes ipv4_icmp(Ip4Fields f, uint8_t type, uint8_t code, uint32_t rest,
                                     std::span<const uint8_t> data) {
    f.proto = kProtoIcmp;
    Bytes icmp{type, code, 0, 0};
    put32(icmp, rest);
    put(icmp, data);
    set16(icmp, 2, checksum(icmp));
    return ipv4(f, icmp);
}

struct Ip6Fields {
    Ip6 src{};
    Ip6 dst{};
    uint8_t hop_limit = 64;
    uint8_t next = kProtoUdp;
    uint32_t flow = 0;
};

[[nodiscard]] inline Bytes ipv6(const Ip6Fields& f, std::span<const uint8_t> payload) {
    Bytes b;
    put32(b, 0x60000000u | (f.flow & 0xfffff));
    put16(b, static_cast<uint16_t>(payload.size()));
    b.push_back(f.next);
    b.push_back(f.hop_limit);
    put(b, f.src);
    put(b, f.dst);
    put(b, payload);
    return b;
}

[[nodiscard]] inline Bytes ipv6_udp(Ip6Fields f, uint16_t sport, uint16_t dport, std::span<const uint8_t> data) {
    f.next = kProtoUdp;
    Bytes udp;
    put16(udp, sport);
    put16(udp, dport);
    put16(udp, static_cast<uint16_t>(8 + data.size()));
    put16(udp, 0);
    put(udp, data);
    uint16_t c = checksum(udp, pseudo6(f.src, f.dst, kProtoUdp, static_cast<uint32_t>(udp.size())));
    set16(udp, 6, c == 0 ? 0xffff : c);
    return ipv6(f, udp);
}

// ICMPv6: type, code, checksum, then `body` (everything after the first 4 bytes).
[[nodiscard]] inline Bytes ipv6_icmp(Ip6Fields f, uint8_t type, uint8_t code, std::span<const uint8_t> body) {
    f.next = kProtoIcmp6;
    Bytes icmp{type, code, 0, 0};
    put(icmp, body);
    set16(icmp, 2, checksum(icmp, pseudo6(f.src, f.dst, kProtoIcmp6, static_cast<uint32_t>(icmp.size()))));
    return ipv6(f, icmp);
}

inline constexpr uint8_t kIcmp6EchoRequest = 128;
inline constexpr uint8_t kIcmp6EchoReply = 129;
inline constexpr uint8_t kNdNs = 135;
inline constexpr uint8_t kNdNa = 136;
inline constexpr uint8_t kNdOptSourceLl = 1;
inline constexpr uint8_t kNdOptTargetLl = 2;
inline constexpr uint8_t kNaRouter = 0x80;
inline constexpr uint8_t kNaSolicited = 0x40;
inline constexpr uint8_t kNaOverride = 0x20;

// Neighbor solicitation body (after type/code/checksum): reserved, target, options.
[[nodiscard]] inline Bytes nd_ns_body(const Ip6& target, std::optional<Mac> slla) {
    Bytes b{0, 0, 0, 0};
    put(b, target);
    if (slla) {
        b.push_back(kNdOptSourceLl);
        b.push_back(1);
        put(b, *slla);
    }
    return b;
}
// Neighbor advertisement body: flags, target, options.
[[nodiscard]] inline Bytes nd_na_body(uint8_t flags, const Ip6& target, std::optional<Mac> tlla) {
    Bytes b{flags, 0, 0, 0};
    put(b, target);
    if (tlla) {
        b.push_back(kNdOptTargetLl);
        b.push_back(1);
        put(b, *tlla);
    }
    return b;
}

// Solicited-node multicast group of `a` (RFC 4291 2.7.1) and its MAC (RFC 2464 7).
[[nodiscard]] inline Ip6 solicited_node(const Ip6& a) {
    return Ip6{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, a[13], a[14], a[15]};
}
[[nodiscard]] inline Mac multicast_mac(const Ip6& group) {
    return Mac{0x33, 0x33, group[12], group[13], group[14], group[15]};
}

// `n` bytes of a recognizable pattern starting at `seed`.
[[nodiscard]] inline Bytes pattern(std::size_t n, uint8_t seed = 0) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<uint8_t>(seed + i);
    }
    return b;
}

// ---- Readers for frames the data plane sent ---------------------------------

[[nodiscard]] inline std::span<const uint8_t> l3(std::span<const uint8_t> frame) {
    return frame.subspan(kEthLen);
}

// IPv4 header checksum of the frame's IPv4 header (IHL honored).
[[nodiscard]] inline bool ip4_header_ok(std::span<const uint8_t> frame) {
    const auto ip = l3(frame);
    return checksum_ok(ip.first((ip[0] & 0x0f) * 4u));
}

// Checksum over an IPv4 packet's ICMP message (total length - IHL).
[[nodiscard]] inline bool icmp4_ok(std::span<const uint8_t> frame) {
    const auto ip = l3(frame);
    const std::size_t hlen = (ip[0] & 0x0f) * 4u;
    return checksum_ok(ip.subspan(hlen, get16(ip, 2) - hlen));
}

// Transport checksum (UDP/TCP/ICMPv6) of an IPv6 packet without extension headers.
[[nodiscard]] inline bool l4_6_ok(std::span<const uint8_t> frame) {
    const auto ip = l3(frame);
    const uint16_t plen = get16(ip, 4);
    return checksum_ok(ip.subspan(kIp6Len, plen), pseudo6(get_ip6(ip, 8), get_ip6(ip, 24), ip[6], plen));
}

// Hex dump for failure messages, 32 bytes a line.
[[nodiscard]] inline std::string hex(std::span<const uint8_t> b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < b.size(); ++i) {
        s += kDigits[b[i] >> 4];
        s += kDigits[b[i] & 0x0f];
        s += (i % 32 == 31) ? '\n' : ' ';
    }
    return s;
}

}  // namespace gw::test
