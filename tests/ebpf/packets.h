#pragma once
// Frame builder for the XDP packet tables: Ethernet (+ VLAN tags), IPv4 (with
// options, fragments) or IPv6 (with extension headers), TCP/UDP/ICMP. Checksums
// are computed from scratch here, so a test that compares the program's
// incremental update against this is an independent check.

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace gw::test {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kDstMac[6] = {0x02, 0, 0, 0, 0, 0x01};
inline constexpr uint8_t kSrcMac[6] = {0x02, 0, 0, 0, 0, 0x02};

inline void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

inline uint16_t csum(const uint8_t* p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if (n % 2) {
        s += static_cast<uint32_t>(p[n - 1] << 8);
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(~s);
}

inline Bytes eth(uint16_t type, std::initializer_list<uint16_t> vlans = {}) {
    Bytes b(kDstMac, kDstMac + 6);
    b.insert(b.end(), kSrcMac, kSrcMac + 6);
    for (uint16_t tpid : vlans) {
        put16(b, tpid);
        put16(b, 100);  // TCI: VLAN 100
    }
    put16(b, type);
    return b;
}

struct L4 {
    uint8_t proto = 17;  // UDP
    uint16_t dst_port = 4000;
    uint8_t icmp_type = 8;
};

inline Bytes l4(const L4& l) {
    Bytes b;
    if (l.proto == 6 || l.proto == 17) {
        put16(b, 33333);
        put16(b, l.dst_port);
        b.resize(l.proto == 6 ? 20 : 8, 0);
        if (l.proto == 17) {
            b[4] = 0;
            b[5] = 8;
        }
    } else {
        b = {l.icmp_type, 0, 0, 0, 0, 0, 0, 0};
    }
    return b;
}

struct V4 {
    uint32_t src = 0x0a000001;  // 10.0.0.1
    uint32_t dst = 0xc0000201;  // 192.0.2.1
    uint8_t ttl = 64;
    uint16_t frag = 0;  // flags + offset word, host order
    Bytes options;      // multiple of 4
    L4 l4;
};

inline Bytes ipv4(const V4& v, std::initializer_list<uint16_t> vlans = {}) {
    Bytes b = eth(0x0800, vlans);
    const size_t ip_at = b.size();
    const Bytes payload = (v.frag & 0x1fff) ? Bytes(8, 0xab) : l4(v.l4);
    const size_t hlen = 20 + v.options.size();
    b.push_back(static_cast<uint8_t>(0x40 | (hlen / 4)));
    b.push_back(0);
    put16(b, static_cast<uint16_t>(hlen + payload.size()));
    put16(b, 0x1234);
    put16(b, v.frag);
    b.push_back(v.ttl);
    b.push_back(v.l4.proto);
    put16(b, 0);
    for (int s = 24; s >= 0; s -= 8) {
        b.push_back(static_cast<uint8_t>(v.src >> s));
    }
    for (int s = 24; s >= 0; s -= 8) {
        b.push_back(static_cast<uint8_t>(v.dst >> s));
    }
    b.insert(b.end(), v.options.begin(), v.options.end());
    const uint16_t c = csum(&b[ip_at], hlen);
    b[ip_at + 10] = static_cast<uint8_t>(c >> 8);
    b[ip_at + 11] = static_cast<uint8_t>(c);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

struct V6 {
    uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};  // 2001:db8::10
    uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};  // 2001:db8::1
    uint8_t hop_limit = 64;
    // Extension headers as (type, bytes incl. next/len); for a fragment header
    // the bytes are the 8-byte header.
    std::vector<std::pair<uint8_t, Bytes>> ext;
    L4 l4;
    bool fragment_tail = false;  // payload is fragment data, not an L4 header
};

inline Bytes ipv6(const V6& v) {
    Bytes b = eth(0x86dd);
    Bytes rest;
    for (size_t i = 0; i < v.ext.size(); ++i) {
        Bytes h = v.ext[i].second;
        h[0] = i + 1 < v.ext.size() ? v.ext[i + 1].first : v.l4.proto;
        rest.insert(rest.end(), h.begin(), h.end());
    }
    const Bytes payload = v.fragment_tail ? Bytes(8, 0xab) : l4(v.l4);
    rest.insert(rest.end(), payload.begin(), payload.end());
    b.insert(b.end(), {0x60, 0, 0, 0});
    put16(b, static_cast<uint16_t>(rest.size()));
    b.push_back(v.ext.empty() ? v.l4.proto : v.ext[0].first);
    b.push_back(v.hop_limit);
    b.insert(b.end(), v.src, v.src + 16);
    b.insert(b.end(), v.dst, v.dst + 16);
    b.insert(b.end(), rest.begin(), rest.end());
    return b;
}

inline Bytes arp() {
    Bytes b = eth(0x0806);
    b.insert(b.end(), {0, 1, 8, 0, 6, 4, 0, 1});
    b.resize(b.size() + 20, 0);
    return b;
}

inline Bytes truncate(Bytes b, size_t n) {
    b.resize(n);
    return b;
}

// Opt header (hop-by-hop / destination options) of 8 * (len + 1) bytes.
inline Bytes opt_header(uint8_t len8 = 0) {
    Bytes h(8u * (len8 + 1u), 0);
    h[1] = len8;
    h[2] = 1;  // PadN
    h[3] = static_cast<uint8_t>(h.size() - 4);
    return h;
}

inline Bytes frag_header(uint16_t offset8, bool more) {
    Bytes h(8, 0);
    const uint16_t w = static_cast<uint16_t>(offset8 << 3 | (more ? 1 : 0));
    h[2] = static_cast<uint8_t>(w >> 8);
    h[3] = static_cast<uint8_t>(w);
    return h;
}

}  // namespace gw::test
