#include "pktgen/gwgen/frame.h"

#include <cstring>
#include <string_view>

#include "pktgen/gwgen/size_model.h"

namespace gw::gen {

namespace {

constexpr uint16_t kEtherIp4 = 0x0800;
constexpr uint16_t kEtherIp6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kProtoUdp = 17;

inline void put16(uint8_t* p, uint16_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) noexcept {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
[[nodiscard]] inline uint16_t get16(const uint8_t* p) noexcept {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

// first + offset with carry through all 16 bytes.
std::array<uint8_t, 16> add6(const std::array<uint8_t, 16>& first, uint32_t offset) noexcept {
    std::array<uint8_t, 16> out = first;
    uint64_t carry = offset;
    for (int i = 15; i >= 0 && carry != 0; --i) {
        const uint64_t v = out[static_cast<std::size_t>(i)] + (carry & 0xff);
        out[static_cast<std::size_t>(i)] = static_cast<uint8_t>(v);
        carry = (carry >> 8) + (v >> 8);
    }
    return out;
}

}  // namespace

uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t acc) noexcept {
    std::size_t i = 0;
    for (; i + 1 < n; i += 2) {
        acc += get16(p + i);
    }
    if (i < n) {
        acc += uint32_t{p[i]} << 8;
    }
    return acc;
}

uint16_t fold_checksum(uint32_t acc) noexcept {
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
}

std::vector<uint8_t> make_fill(Payload kind, std::size_t len, uint64_t seed) {
    std::vector<uint8_t> fill(len, 0);
    uint64_t rng = seed_state(seed);
    switch (kind) {
        case Payload::zeros:
            break;
        case Payload::random:
            for (auto& b : fill) {
                b = static_cast<uint8_t>(next_random(rng) >> 56);
            }
            break;
        case Payload::text: {
            static constexpr std::string_view kWords[] = {
                "the",      "gateway", "packet", "tunnel",   "of",      "and",     "site",    "server", "to",
                "traffic",  "is",      "a",      "latency",  "network", "route",   "policy",  "in",     "with",
                "session",  "request", "for",    "response", "header",  "content", "length",  "host",   "GET",
                "HTTP/1.1", "200",     "OK",     "user",     "agent",   "accept",  "encoded", "json",   "value",
                "time",     "data",    "stream", "secure",   "key",     "status",  "error",   "true",   "false"};
            std::size_t pos = 0;
            while (pos < len) {
                const auto& w = kWords[next_random(rng) % std::size(kWords)];
                for (char c : w) {
                    if (pos < len) {
                        fill[pos++] = static_cast<uint8_t>(c);
                    }
                }
                if (pos < len) {
                    const uint64_t r = next_random(rng) % 16;
                    fill[pos++] = r == 0 ? '\n' : (r == 1 ? ',' : ' ');
                }
            }
            break;
        }
    }
    return fill;
}

FrameTemplate::FrameTemplate(const StreamSpec& spec, const net::MacAddr& src_mac, const net::MacAddr& dst_mac,
                             uint64_t seed)
    : v6_(spec.is_v6()),
      flows_(spec.flow_count()),
      src_first_(spec.src.first),
      dst_first_(spec.dst.first),
      src_count_(spec.src.count),
      dst_count_(spec.dst.count),
      sport_first_(spec.sport.first),
      sport_count_(spec.sport.count),
      dport_first_(spec.dport.first),
      dport_count_(spec.dport.count) {
    uint8_t* h = header_.data();
    std::memcpy(h, dst_mac.bytes.data(), 6);
    std::memcpy(h + 6, src_mac.bytes.data(), 6);
    put16(h + 12, v6_ ? kEtherIp6 : kEtherIp4);
    uint8_t* ip = h + kEthHdrLen;
    if (v6_) {
        put32(ip, 0x60000000);  // version 6, traffic class 0, flow label 0
        ip[6] = kProtoUdp;
        ip[7] = kIpTtl;
    } else {
        ip[0] = 0x45;
        ip[8] = kIpTtl;
        ip[9] = kProtoUdp;
    }
    const std::size_t fill_len = spec.size.max_size() - kFcsLen - header_len() - kSignatureLen;
    fill_ = make_fill(spec.payload, fill_len, seed);
    fill_sum_.resize(fill_len + 1);
    fill_sum_[0] = 0;
    for (std::size_t k = 1; k <= fill_len; ++k) {
        // Byte k-1 is the high byte of its word when k-1 is even.
        fill_sum_[k] = fill_sum_[k - 1] + ((k - 1) % 2 == 0 ? uint32_t{fill_[k - 1]} << 8 : fill_[k - 1]);
    }
}

FlowFields FrameTemplate::flow_fields(uint32_t flow) const noexcept {
    FlowFields f;
    uint32_t rest = flow;
    const uint32_t src_i = rest % src_count_;
    rest /= src_count_;
    const uint32_t dst_i = rest % dst_count_;
    rest /= dst_count_;
    f.sport = static_cast<uint16_t>(sport_first_ + rest % sport_count_);
    rest /= sport_count_;
    f.dport = static_cast<uint16_t>(dport_first_ + rest % dport_count_);
    if (v6_) {
        f.src6 = add6(std::get<net::Ip6Addr>(src_first_).bytes, src_i);
        f.dst6 = add6(std::get<net::Ip6Addr>(dst_first_).bytes, dst_i);
    } else {
        f.src4 = std::get<net::Ip4Addr>(src_first_).host + src_i;
        f.dst4 = std::get<net::Ip4Addr>(dst_first_).host + dst_i;
    }
    return f;
}

void FrameTemplate::write(uint8_t* out, uint16_t frame_size, uint32_t flow, const Signature& sig) const noexcept {
    const uint16_t hlen = header_len();
    const uint16_t frame_len = frame_size - kFcsLen;
    const uint16_t l3_len = frame_len - kEthHdrLen;
    const uint16_t ip_hdr = v6_ ? kIp6HdrLen : kIp4HdrLen;
    const uint16_t udp_len = l3_len - ip_hdr;
    const std::size_t fill_len = udp_len - kUdpHdrLen - kSignatureLen;
    const FlowFields f = flow_fields(flow);

    std::memcpy(out, header_.data(), hlen);
    uint8_t* ip = out + kEthHdrLen;
    uint8_t* udp = ip + ip_hdr;
    uint32_t pseudo = 0;
    if (v6_) {
        put16(ip + 4, udp_len);
        std::memcpy(ip + 8, f.src6.data(), 16);
        std::memcpy(ip + 24, f.dst6.data(), 16);
        pseudo = sum16(ip + 8, 32);
    } else {
        put16(ip + 2, l3_len);
        put16(ip + 4, static_cast<uint16_t>(sig.seq));  // identification
        put32(ip + 12, f.src4);
        put32(ip + 16, f.dst4);
        put16(ip + 10, fold_checksum(sum16(ip, kIp4HdrLen)));
        pseudo = sum16(ip + 12, 8);
    }
    put16(udp, f.sport);
    put16(udp + 2, f.dport);
    put16(udp + 4, udp_len);
    write_signature(udp + kUdpHdrLen, sig);
    std::memcpy(udp + kUdpHdrLen + kSignatureLen, fill_.data(), fill_len);

    uint32_t acc = pseudo + kProtoUdp + udp_len;
    acc = sum16(udp, kUdpHdrLen + kSignatureLen, acc);  // checksum field is still zero
    acc += fill_sum_[fill_len];
    uint16_t c = fold_checksum(acc);
    put16(udp + 6, c == 0 ? 0xffff : c);
}

std::optional<Signature> parse_frame(const uint8_t* p, uint32_t len) noexcept {
    if (len < kEthHdrLen) {
        return std::nullopt;
    }
    uint16_t type = get16(p + 12);
    uint32_t off = kEthHdrLen;
    if (type == kEtherVlan || type == kEtherQinQ) {
        if (len < off + 4) {
            return std::nullopt;
        }
        type = get16(p + off + 2);
        off += 4;
    }
    uint32_t l4 = 0;
    if (type == kEtherIp4) {
        if (len < off + kIp4HdrLen || (p[off] >> 4) != 4 || p[off + 9] != kProtoUdp ||
            (get16(p + off + 6) & 0x1fff) != 0) {
            return std::nullopt;
        }
        const uint32_t ihl = (p[off] & 0xfu) * 4u;
        if (ihl < kIp4HdrLen) {
            return std::nullopt;
        }
        l4 = off + ihl;
    } else if (type == kEtherIp6) {
        if (len < off + kIp6HdrLen || p[off + 6] != kProtoUdp) {
            return std::nullopt;
        }
        l4 = off + kIp6HdrLen;
    } else {
        return std::nullopt;
    }
    if (len < l4 + kUdpHdrLen + kSignatureLen) {
        return std::nullopt;
    }
    return read_signature(p + l4 + kUdpHdrLen);
}

}  // namespace gw::gen
