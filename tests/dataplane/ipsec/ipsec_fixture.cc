#include "tests/dataplane/ipsec/ipsec_fixture.h"

#include <cstring>
#include <memory>

#include <fmt/core.h>
#include <rte_cycles.h>

#include "dataplane/ipsec/gcm_engine.h"

namespace gw::test {
namespace {

// The peer's crypto: one engine for the test process.
dp::ipsec::GcmEngine& peer_engine() {
    static std::unique_ptr<dp::ipsec::GcmEngine> engine = [] {
        auto e = dp::ipsec::GcmEngine::create();
        if (!e) {
            ADD_FAILURE() << e.error().message;
            return std::unique_ptr<dp::ipsec::GcmEngine>();
        }
        return std::move(*e);
    }();
    return *engine;
}

struct PeerKey {
    dp::ipsec::GcmKey key;
    std::array<uint8_t, 4> salt{};
};

PeerKey peer_key(std::string_view key_salt_hex) {
    const Bytes ks = unhex(key_salt_hex);
    PeerKey k{};
    EXPECT_TRUE(ks.size() == 20 || ks.size() == 36) << key_salt_hex.size();
    std::memcpy(k.salt.data(), ks.data() + ks.size() - 4, 4);
    const auto st = peer_engine().expand_key(std::span(ks.data(), ks.size() - 4), k.key);
    EXPECT_TRUE(st.has_value()) << st.error().message;
    return k;
}

// RFC 4106 5: SPI || seq (32) or SPI || seq high || seq low (ESN).
Bytes aad_of(uint32_t spi, uint64_t seq, bool esn) {
    Bytes aad;
    put32(aad, spi);
    if (esn) {
        put32(aad, static_cast<uint32_t>(seq >> 32));
    }
    put32(aad, static_cast<uint32_t>(seq));
    return aad;
}

constexpr std::string_view kPorts = R"(port lan dev net_null90
port lan address 10.0.0.1/24
port lan address 2001:db8:a::1/64
port wan dev net_null91
port wan address 192.0.2.1/24
port wan address 2001:db8:b::1/64
port dmz dev net_null92 mtu 1280
port dmz address 172.16.0.1/24
port dmz address 2001:db8:c::1/64
worker 1
)";

}  // namespace

Bytes unhex(std::string_view s) {
    Bytes b;
    auto nibble = [](char c) -> uint8_t { return static_cast<uint8_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10); };
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        b.push_back(static_cast<uint8_t>(nibble(s[i]) << 4 | nibble(s[i + 1])));
    }
    return b;
}

cp::Config ipsec_config(std::string_view statements) {
    const std::string text = std::string(kPorts) + std::string(statements);
    auto c = cp::parse_config(text, "ipsec-test");
    if (!c) {
        ADD_FAILURE() << c.error().message << "\n" << text;
        return {};
    }
    return std::move(*c);
}

Bytes esp_plaintext(const EspPlain& p) {
    Bytes b = p.inner;
    Bytes padding;
    if (p.padding) {
        padding = *p.padding;
    } else {
        const std::size_t n = (4 - ((p.inner.size() + 2) & 3)) & 3;
        for (std::size_t i = 1; i <= n; ++i) {
            padding.push_back(static_cast<uint8_t>(i));
        }
    }
    put(b, padding);
    b.push_back(p.pad_len.value_or(static_cast<uint8_t>(padding.size())));
    b.push_back(p.next_header);
    return b;
}

Bytes seal(const PeerSa& sa, uint64_t seq, const EspPlain& p, std::optional<std::array<uint8_t, 8>> iv) {
    const PeerKey k = peer_key(sa.key_salt);
    std::array<uint8_t, 8> explicit_iv{};
    if (iv) {
        explicit_iv = *iv;
    } else {
        for (unsigned i = 0; i < 8; ++i) {
            explicit_iv[i] = static_cast<uint8_t>(seq >> (56 - 8 * i));
        }
    }
    std::array<uint8_t, 12> nonce{};
    std::memcpy(nonce.data(), k.salt.data(), 4);
    std::memcpy(nonce.data() + 4, explicit_iv.data(), 8);
    const Bytes aad = aad_of(sa.spi, seq, sa.esn);
    Bytes data = esp_plaintext(p);
    std::array<uint8_t, 16> tag{};
    dp::ipsec::GcmOp op{.key = &k.key,
                        .iv = nonce.data(),
                        .aad = aad.data(),
                        .aad_len = static_cast<uint8_t>(aad.size()),
                        .data = data.data(),
                        .len = static_cast<uint32_t>(data.size()),
                        .tag = tag.data()};
    peer_engine().encrypt(std::span(&op, 1));
    EXPECT_TRUE(op.ok);
    Bytes esp;
    put32(esp, sa.spi);
    put32(esp, static_cast<uint32_t>(seq));
    put(esp, explicit_iv);
    put(esp, data);
    put(esp, tag);
    return esp;
}

std::optional<Bytes> open(const PeerSa& sa, uint64_t seq, std::span<const uint8_t> esp) {
    if (esp.size() < kEspHdrLen + kEspIvLen + 2 + kIcvLen) {
        return std::nullopt;
    }
    const PeerKey k = peer_key(sa.key_salt);
    std::array<uint8_t, 12> nonce{};
    std::memcpy(nonce.data(), k.salt.data(), 4);
    std::memcpy(nonce.data() + 4, esp.data() + kEspHdrLen, 8);
    const Bytes aad = aad_of(sa.spi, seq, sa.esn);
    const std::size_t len = esp.size() - kEspHdrLen - kEspIvLen - kIcvLen;
    Bytes data(esp.begin() + kEspHdrLen + kEspIvLen, esp.begin() + kEspHdrLen + kEspIvLen + len);
    std::array<uint8_t, 16> tag{};
    dp::ipsec::GcmOp op{.key = &k.key,
                        .iv = nonce.data(),
                        .aad = aad.data(),
                        .aad_len = static_cast<uint8_t>(aad.size()),
                        .data = data.data(),
                        .len = static_cast<uint32_t>(data.size()),
                        .tag = tag.data()};
    peer_engine().decrypt(std::span(&op, 1));
    if (!op.ok || !dp::ipsec::tag_equal(tag.data(), esp.data() + esp.size() - kIcvLen, kIcvLen)) {
        return std::nullopt;
    }
    return data;
}

Bytes outer4(uint32_t src, uint32_t dst, std::span<const uint8_t> esp) {
    return ipv4(Ip4Fields{.src = src, .dst = dst, .ttl = 64, .proto = kProtoEsp, .id = 0x4242}, esp);
}

Bytes outer6(const Ip6& src, const Ip6& dst, std::span<const uint8_t> esp) {
    return ipv6(Ip6Fields{.src = src, .dst = dst, .hop_limit = 64, .next = kProtoEsp}, esp);
}

Bytes esp_from_peer(std::span<const uint8_t> esp, bool outer_v6) {
    if (outer_v6) {
        return ether(kWanMac, kServerMac, kEtherIp6, outer6(kServer6, kWanIp6, esp));
    }
    return ether(kWanMac, kServerMac, kEtherIp4, outer4(kServer, kWanIp, esp));
}

Bytes from_lan(std::span<const uint8_t> l3) {
    return ether(kLanMac, kHostMac, (l3[0] >> 4) == 6 ? kEtherIp6 : kEtherIp4, l3);
}

std::optional<EspFrame> parse_esp(std::span<const uint8_t> frame) {
    if (frame.size() < kEthLen + kIp4Len + kEspHdrLen) {
        ADD_FAILURE() << "frame too short for ESP:\n" << hex(frame);
        return std::nullopt;
    }
    EspFrame f;
    const auto ip = l3(frame);
    const uint16_t type = get16(frame, 12);
    if (type == kEtherIp4) {
        f.outer_len = (ip[0] & 0x0f) * 4u;
        if (ip[9] != kProtoEsp || get16(ip, 2) != ip.size()) {
            ADD_FAILURE() << "not IPv4 ESP, or length off:\n" << hex(frame);
            return std::nullopt;
        }
    } else if (type == kEtherIp6) {
        f.v6 = true;
        f.outer_len = kIp6Len;
        if (ip.size() < kIp6Len + kEspHdrLen || ip[6] != kProtoEsp || get16(ip, 4) != ip.size() - kIp6Len) {
            ADD_FAILURE() << "not IPv6 ESP, or length off:\n" << hex(frame);
            return std::nullopt;
        }
    } else {
        ADD_FAILURE() << "ethertype " << type;
        return std::nullopt;
    }
    f.outer.assign(ip.begin(), ip.begin() + static_cast<std::ptrdiff_t>(f.outer_len));
    f.esp.assign(ip.begin() + static_cast<std::ptrdiff_t>(f.outer_len), ip.end());
    f.spi = get32(f.esp, 0);
    f.seq = get32(f.esp, 4);
    return f;
}

Bytes mirror(std::span<const uint8_t> frame) {
    Bytes b(frame.begin(), frame.end());
    std::memcpy(b.data(), kWanMac.data(), 6);
    std::memcpy(b.data() + 6, kServerMac.data(), 6);
    if (get16(b, 12) == kEtherIp4) {
        for (std::size_t i = 0; i < 4; ++i) {
            std::swap(b[kEthLen + 12 + i], b[kEthLen + 16 + i]);
        }
        set16(b, kEthLen + 10, 0);
        set16(b, kEthLen + 10, checksum(std::span(b).subspan(kEthLen, (b[kEthLen] & 0x0f) * 4u)));
    } else {
        for (std::size_t i = 0; i < 16; ++i) {
            std::swap(b[kEthLen + 8 + i], b[kEthLen + 24 + i]);
        }
    }
    return b;
}

Bytes udp_h_to_d(bool v6, std::size_t total, bool df, uint8_t seed) {
    if (v6) {
        return ipv6_udp(Ip6Fields{.src = kHost6, .dst = kDmzHost6}, 40000, 53, pattern(total - kIp6Len - 8, seed));
    }
    return ipv4_udp(Ip4Fields{.src = kHost, .dst = kDmzHost, .df = df}, 40000, 53, pattern(total - kIp4Len - 8, seed));
}

Bytes udp_d_to_h(bool v6, std::size_t total, uint8_t seed) {
    if (v6) {
        return ipv6_udp(Ip6Fields{.src = kDmzHost6, .dst = kHost6}, 53, 40000, pattern(total - kIp6Len - 8, seed));
    }
    return ipv4_udp(Ip4Fields{.src = kDmzHost, .dst = kHost}, 53, 40000, pattern(total - kIp4Len - 8, seed));
}

void expect_forwarded_l3(std::span<const uint8_t> sent, std::span<const uint8_t> original, unsigned hops) {
    ASSERT_EQ(sent.size(), original.size()) << "sent:\n" << hex(sent) << "\noriginal:\n" << hex(original);
    Bytes want(original.begin(), original.end());
    Bytes got(sent.begin(), sent.end());
    if ((original[0] >> 4) == 4) {
        EXPECT_EQ(got[8], want[8] - hops) << "TTL";
        EXPECT_TRUE(checksum_ok(std::span(got).first((got[0] & 0x0f) * 4u))) << "IPv4 header checksum";
        want[8] = got[8];
        want[10] = got[10];
        want[11] = got[11];
    } else {
        EXPECT_EQ(got[7], want[7] - hops) << "hop limit";
        want[7] = got[7];
    }
    EXPECT_EQ(got, want) << "sent:\n" << hex(got) << "\noriginal:\n" << hex(want);
}

// ---- IpsecTest --------------------------------------------------------------

const dp::ipsec::IpsecState& IpsecTest::state() {
    const auto* s = manager().current();
    EXPECT_NE(s, nullptr) << "no IPsec state published";
    static const dp::ipsec::IpsecState kEmpty;
    return s != nullptr ? *s : kEmpty;
}

dp::ipsec::Sa& IpsecTest::sa(std::string_view name) {
    for (auto* s : state().sas) {
        if (s->name == name) {
            return *s;
        }
    }
    ADD_FAILURE() << "no SA '" << name << "'";
    static dp::ipsec::Sa none(std::make_shared<dp::ipsec::SaState>());
    return none;
}

void IpsecTest::apply(std::string_view statements) {
    const cp::Config c = ipsec_config(statements);
    const auto st = manager().apply(c, rte_rdtsc());
    ASSERT_TRUE(st.has_value()) << st.error().message;
}

std::optional<EspFrame> IpsecTest::one_esp_on_wan() {
    auto out = sent(kWan);
    if (out.size() != 1) {
        ADD_FAILURE() << "expected one frame on the WAN port, got " << out.size();
        return std::nullopt;
    }
    EXPECT_EQ(get_mac(out[0], 0), kServerMac) << "to the peer";
    EXPECT_EQ(get_mac(out[0], 6), kWanMac);
    return parse_esp(out[0]);
}

}  // namespace gw::test
