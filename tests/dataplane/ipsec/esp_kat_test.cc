// ESP known answers at packet level, through the whole data plane.
//
// Oracles, none of them esp.cc:
//  - esp_vectors.h, written by gen_esp_vectors.py with Scapy's ESP (and
//    cross-checked there against the `cryptography` package's AES-GCM):
//    the exact ESP bytes the gateway must send for a fixed key, salt, SPI and
//    sequence number (the gateway's explicit IV is its 64-bit sequence
//    number), and packets Scapy encrypted with IVs of its own that the
//    gateway must decrypt and forward.
//  - the ESP test cases of draft-mcgrew-gcm-test-01 section 4 (all of them
//    use a 12-byte AAD, i.e. extended sequence numbers), fed to the inbound
//    path. Their payloads carry next header 1, which a tunnel-mode gateway
//    rejects after authentication: they must end as esp-bad-next-header, not
//    esp-auth-failed, with the replay window moved to their sequence number.

#include <rte_cycles.h>

#include <string>

#include <fmt/core.h>

#include "tests/dataplane/ipsec/esp_vectors.h"
#include "tests/dataplane/ipsec/ipsec_fixture.h"

namespace gw::test {
namespace {

using dp::DropReason;

class EspKatTest : public IpsecTest {};

TEST_F(EspKatTest, OutboundBytesMatchScapy) {
    uint16_t ip_id = 0;  // the worker numbers outer IPv4 packets from 0
    for (const auto& v : vectors::kOutbound) {
        SCOPED_TRACE(v.name);
        apply(fmt::format("ipsec sa kat out {}\nipsec policy out priority 1 {} protect kat\n", v.sa, v.policy));
        dp::ipsec::Sa& s = sa("kat");
        s.next_seq.store(v.seq);
        // Vectors that share a key share the SA's running state (sequence
        // space, counters): count this vector's packet only.
        const uint64_t packets_before = s.packets.load();
        send(kLan, from_lan(v.inner));
        auto f = one_esp_on_wan();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->esp, v.esp) << "sent:\n" << hex(f->esp) << "\nScapy:\n" << hex(v.esp);

        const auto& ip = f->outer;
        const std::size_t outer_total = f->outer_len + f->esp.size();
        EXPECT_EQ(f->esp.size(), kEspHdrLen + kEspIvLen + v.inner.size() + v.pad + 2 + kIcvLen);
        if (f->v6) {
            EXPECT_EQ(get32(ip, 0), 0x60000000u) << "version 6, traffic class of the inner packet (0), no flow label";
            EXPECT_EQ(get16(ip, 4), outer_total - kIp6Len);
            EXPECT_EQ(ip[6], kProtoEsp);
            EXPECT_EQ(ip[7], 64);
            EXPECT_EQ(get_ip6(ip, 8), kWanIp6);
            EXPECT_EQ(get_ip6(ip, 24), kServer6);
        } else {
            EXPECT_EQ(ip[0], 0x45);
            EXPECT_EQ(ip[1], 0) << "TOS of the inner packet";
            EXPECT_EQ(get16(ip, 2), outer_total);
            EXPECT_EQ(get16(ip, 4), ip_id++) << "outer IP id";
            EXPECT_EQ(get16(ip, 6), 0) << "no DF, not a fragment";
            EXPECT_EQ(ip[8], 64);
            EXPECT_EQ(ip[9], kProtoEsp);
            EXPECT_TRUE(checksum_ok(ip)) << "outer header checksum";
            EXPECT_EQ(get32(ip, 12), kWanIp);
            EXPECT_EQ(get32(ip, 16), kServer);
        }
        EXPECT_EQ(s.next_seq.load(), v.seq + 1);
        EXPECT_EQ(s.packets.load() - packets_before, 1u);
        EXPECT_FALSE(s.dead.load());
    }
    expect_no_drops(worker_counters());
}

TEST_F(EspKatTest, InboundFromScapyIsDecryptedAndForwarded) {
    for (const auto& v : vectors::kInbound) {
        SCOPED_TRACE(v.name);
        apply(fmt::format("ipsec sa kat in {}\nipsec policy in priority 1 {} protect kat\n", v.sa, v.policy));
        const bool outer_v6 = (v.outer[0] >> 4) == 6;
        const uint64_t packets_before = sa("kat").packets.load();
        const uint64_t bytes_before = sa("kat").bytes.load();
        send(kWan, ether(kWanMac, kServerMac, outer_v6 ? kEtherIp6 : kEtherIp4, v.outer));
        auto out = sent(kLan);
        ASSERT_EQ(out.size(), 1u) << drops_to_string(worker_counters());
        EXPECT_EQ(get_mac(out[0], 0), kHostMac);
        EXPECT_EQ(get_mac(out[0], 6), kLanMac);
        EXPECT_EQ(get16(out[0], 12), (v.inner[0] >> 4) == 6 ? kEtherIp6 : kEtherIp4);
        expect_forwarded_l3(l3(out[0]), v.inner, 1);
        const dp::ipsec::Sa& s = sa("kat");
        EXPECT_EQ(s.packets.load() - packets_before, 1u);
        EXPECT_EQ(s.bytes.load() - bytes_before, v.inner.size()) << "inbound bytes count the inner packet";
        EXPECT_EQ(s.auth_drops.load(), 0u);
    }
    expect_no_drops(worker_counters());
}

struct DraftCase {
    const char* name;
    const char* key_salt;
    uint32_t spi;
    uint64_t seq;
    const char* iv;
    const char* ciphertext_and_icv;
};

// draft-mcgrew-gcm-test-01 section 4 (ESP test cases, AES-GCM).
const DraftCase kDraft[] = {
    {"AES-128, SPI 0x4321, seq 0x8765432100000000", "4c80cdefbb5d10da906ac73c3613a6342e443b68", 0x4321,
     0x8765432100000000ull, "4956ed7e3b244cfe",
     "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5"
     "ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe722fd04796562dfdb4"},
    {"AES-128, SPI 0x42f67e3f, seq 0x1010101010101010", "3de09874b388e6491988d0c3607eae1f57690e43", 0x42f67e3f,
     0x1010101010101010ull, "4e280000a2fca1a3",
     "fba2caa4853cf9f0f22cb10d86dd83b0fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc91755e6662b4c"
     "8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48"},
    {"AES-128, SPI 0x100, seq 1", "abbccddef00112233445566778899aabdecaf888", 0x100, 1, "cafedebaceface74",
     "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472b79da345e0e7"
     "80191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e65f354f75ff17015769623436"},
    {"AES-256, SPI 0x17405e67, seq 0x156f3126dd0db99b",
     "abbccddef00112233445566778899aababbccddef00112233445566778899aab73616c74", 0x17405e67, 0x156f3126dd0db99bull,
     "616e640169766563",
     "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3b7eebca614c8"
     "9b35"},
    {"AES-256, SPI 0x796b6963, seq 2^64-1", "6c6567616c697a656d6172696a75616e61616e64646f69746265666f726569617475726e",
     0x796b6963, 0xffffffffffffffffull, "333021696765746d",
     "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe821dcc63b9d093"
     "7ba2945f669368661a329fb4c053"},
};

TEST_F(EspKatTest, DraftMcgrewVectorsAuthenticateOnTheInboundPath) {
    constexpr uint64_t kBehind = 10000;
    uint64_t bad_next_header = 0;
    uint64_t auth_failed = 0;
    for (const auto& d : kDraft) {
        SCOPED_TRACE(d.name);
        const bool aes256 = std::string_view(d.key_salt).size() == 72;
        apply(fmt::format("ipsec sa draft in spi {:#x} aes-gcm-{} key {} tunnel 192.0.2.1 192.0.2.10 esn\n", d.spi,
                          aes256 ? 256 : 128, d.key_salt));
        dp::ipsec::Sa& s = sa("draft");
        if (d.seq > kBehind) {
            // The receiver has seen packets of this subspace before: its
            // window sits below, so the high half of the ESN is inferred from
            // it (RFC 4303 A2). (kBehind, not 1: see ReplayWindow's
            // UpdateAtTheTopOfTheSequenceSpaceTerminates.)
            s.replay.update(d.seq - kBehind);
        }
        const uint64_t top_before = s.replay.top();
        Bytes esp;
        put32(esp, d.spi);
        put32(esp, static_cast<uint32_t>(d.seq));
        put(esp, unhex(d.iv));
        put(esp, unhex(d.ciphertext_and_icv));

        // A forgery first: one bit of the ICV. It must not move the window.
        Bytes forged = esp;
        forged.back() ^= 0x20;
        send(kWan, esp_from_peer(forged, false));
        ++auth_failed;
        EXPECT_EQ(s.auth_drops.load(), 1u);
        EXPECT_EQ(s.replay.top(), top_before);

        send(kWan, esp_from_peer(esp, false));
        ++bad_next_header;
        EXPECT_EQ(s.auth_drops.load(), 1u) << "the genuine packet authenticates";
        EXPECT_EQ(s.replay.top(), d.seq) << "authenticated: the window moved to its 64-bit sequence number";
        const auto c = worker_counters();
        EXPECT_EQ(c.dropped(DropReason::esp_bad_next_header), bad_next_header) << drops_to_string(c);
        EXPECT_EQ(c.dropped(DropReason::esp_auth_failed), auth_failed) << drops_to_string(c);
        EXPECT_EQ(c.total_drops(), bad_next_header + auth_failed) << drops_to_string(c);
    }
    expect_nothing_sent("every draft vector is dropped");
}

// The draft vectors' crypto, but in the frame this gateway expects: the same
// key, SPI, sequence number and explicit IV, with an IPv4 packet inside and
// next header 4. The peer side (ipsec_fixture.cc) builds the nonce and the
// 12-byte AAD; the window is placed as above.
TEST_F(EspKatTest, DraftKeysWithATunnelPayloadAreDelivered) {
    const auto& d = kDraft[0];
    apply(
        fmt::format("ipsec sa draft in spi {:#x} aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 esn\n"
                    "ipsec policy in priority 1 src 172.16.0.0/24 dst 10.0.0.0/24 protect draft\n",
                    d.spi, d.key_salt));
    dp::ipsec::Sa& s = sa("draft");
    s.replay.update(d.seq - 10000);
    std::array<uint8_t, 8> iv{};
    const Bytes div = unhex(d.iv);
    std::copy(div.begin(), div.end(), iv.begin());
    const Bytes inner = udp_d_to_h(false, 60);
    const PeerSa peer{.spi = d.spi, .key_salt = d.key_salt, .esn = true};
    send(kWan, esp_from_peer(seal(peer, d.seq, EspPlain{.inner = inner}, iv), false));
    auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u) << drops_to_string(worker_counters());
    expect_forwarded_l3(l3(out[0]), inner, 1);
    EXPECT_EQ(s.replay.top(), d.seq);
    expect_no_drops(worker_counters());
}

}  // namespace
}  // namespace gw::test
