// ESP tunnel end to end through the data plane: gateway A encrypts what its
// LAN sends, gateway B decrypts it and forwards the original packets to its
// LAN — for IPv4 and IPv6 outer and inner, AES-GCM-128 and -256, with and
// without ESN, every pad length 0..3, one burst at a time (so the batch path
// with several packets of one SA group is what runs).
//
// One process can hold one Dataplane, so A and B are the same data plane
// with the IPsec configuration swapped between the two halves of the trip
// (IpsecManager::apply): A = LAN host H -> tunnel (WAN, to peer S); B = WAN
// <- tunnel, LAN = the DMZ port where host D lives. A's frames are mirrored
// (outer addresses swapped, Ethernet to B's WAN port) before B receives them.
// On the way, the test's own ESP implementation (ipsec_fixture.cc) opens what
// A sent: exact padding, trailer and inner packet.

#include <fmt/core.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/dataplane/ipsec/ipsec_fixture.h"

namespace gw::test {
namespace {

struct TunnelCase {
    bool outer_v6;
    bool inner_v6;
    bool aes256;
    bool esn;
};

std::string case_name(const ::testing::TestParamInfo<TunnelCase>& info) {
    const auto& c = info.param;
    return fmt::format("{}_in_{}_aes{}_{}", c.inner_v6 ? "v6" : "v4", c.outer_v6 ? "v6" : "v4", c.aes256 ? 256 : 128,
                       c.esn ? "esn" : "seq32");
}

class EspTunnelTest : public IpsecTest, public ::testing::WithParamInterface<TunnelCase> {
protected:
    [[nodiscard]] std::string sa_line(std::string_view name, std::string_view dir) const {
        const auto& c = GetParam();
        return fmt::format("ipsec sa {} {} spi {:#x} aes-gcm-{} key {} tunnel {} {}{}\n", name, dir, spi(),
                           c.aes256 ? 256 : 128, key(), c.outer_v6 ? "2001:db8:b::1" : "192.0.2.1",
                           c.outer_v6 ? "2001:db8:b::10" : "192.0.2.10", c.esn ? " esn" : "");
    }
    [[nodiscard]] std::string selector() const {
        return GetParam().inner_v6 ? "src 2001:db8:a::/64 dst 2001:db8:c::/64" : "src 10.0.0.0/24 dst 172.16.0.0/24";
    }
    [[nodiscard]] std::string_view key() const { return GetParam().aes256 ? kKey256 : kKey128; }
    [[nodiscard]] uint32_t spi() const { return GetParam().aes256 ? 0x5a5a0002 : 0x5a5a0001; }

    void become_a() {
        apply(sa_line("to-b", "out") + fmt::format("ipsec policy out priority 10 {} protect to-b\n", selector()));
    }
    void become_b() {
        apply(sa_line("from-a", "in") + fmt::format("ipsec policy in priority 10 {} protect from-a\n", selector()));
    }
};

TEST_P(EspTunnelTest, LanToLanThroughTheTunnel) {
    const auto& c = GetParam();
    // With ESN, start just below 2^32 so the burst crosses into the next
    // subspace: the wire carries 0xfffffffe, 0xffffffff, 0, 1.
    const uint64_t first_seq = c.esn ? 0xfffffffeull : 1;
    constexpr unsigned kPackets = 4;

    become_a();
    dp::ipsec::Sa& a = sa("to-b");
    a.next_seq.store(first_seq);
    std::vector<Bytes> inner;
    std::vector<Bytes> frames;
    const std::size_t base = c.inner_v6 ? 100 : 80;
    for (unsigned i = 0; i < kPackets; ++i) {
        inner.push_back(udp_h_to_d(c.inner_v6, base + i, false, static_cast<uint8_t>(i)));  // pads 2, 1, 0, 3
        frames.push_back(from_lan(inner.back()));
    }
    send(kLan, frames);
    auto out = sent(kWan);
    ASSERT_EQ(out.size(), kPackets) << drops_to_string(worker_counters());
    expect_no_drops(worker_counters());

    const PeerSa peer{.spi = spi(), .key_salt = key(), .esn = c.esn};
    std::vector<bool> pad_seen(4, false);
    for (unsigned i = 0; i < kPackets; ++i) {
        SCOPED_TRACE("packet " + std::to_string(i));
        EXPECT_EQ(get_mac(out[i], 0), kServerMac);
        EXPECT_EQ(get_mac(out[i], 6), kWanMac);
        auto f = parse_esp(out[i]);
        ASSERT_TRUE(f.has_value());
        ASSERT_EQ(f->v6, c.outer_v6);
        if (c.outer_v6) {
            EXPECT_EQ(get_ip6(f->outer, 8), kWanIp6);
            EXPECT_EQ(get_ip6(f->outer, 24), kServer6);
        } else {
            EXPECT_EQ(get32(f->outer, 12), kWanIp);
            EXPECT_EQ(get32(f->outer, 16), kServer);
            EXPECT_TRUE(checksum_ok(f->outer));
        }
        EXPECT_EQ(f->spi, spi());
        const uint64_t seq = first_seq + i;
        EXPECT_EQ(f->seq, static_cast<uint32_t>(seq));
        EXPECT_EQ(get32(f->esp, 8), static_cast<uint32_t>(seq >> 32)) << "explicit IV is the 64-bit sequence number";
        EXPECT_EQ(get32(f->esp, 12), static_cast<uint32_t>(seq));
        EXPECT_EQ((f->esp.size() - kEspHdrLen - kEspIvLen - kIcvLen) % 4, 0u) << "payload 4-byte aligned";

        auto plain = open(peer, seq, f->esp);
        ASSERT_TRUE(plain.has_value()) << "the peer's ICV check fails";
        const uint8_t next = plain->back();
        const uint8_t pad = (*plain)[plain->size() - 2];
        EXPECT_EQ(next, c.inner_v6 ? kNextIpv6 : kNextIpv4);
        ASSERT_LE(pad, 3);
        pad_seen[pad] = true;
        ASSERT_EQ(plain->size(), inner[i].size() + pad + 2u) << "minimal padding";
        for (unsigned k = 0; k < pad; ++k) {
            EXPECT_EQ((*plain)[inner[i].size() + k], k + 1) << "RFC 4303 2.4 padding bytes";
        }
        expect_forwarded_l3(std::span(*plain).first(inner[i].size()), inner[i], 1);
    }
    EXPECT_EQ(pad_seen, std::vector<bool>(4, true)) << "pad lengths 0..3 all covered";
    EXPECT_EQ(a.packets.load(), kPackets);
    EXPECT_EQ(a.next_seq.load(), first_seq + kPackets);

    become_b();
    dp::ipsec::Sa& b = sa("from-a");
    if (c.esn) {
        // B has received A's earlier packets: its window is where A's counter was.
        b.replay.update(first_seq - 1);
    }
    std::vector<Bytes> mirrored;
    for (const auto& f : out) {
        mirrored.push_back(mirror(f));
    }
    send(kWan, mirrored);
    auto delivered = sent(kDmz);
    ASSERT_EQ(delivered.size(), kPackets) << drops_to_string(worker_counters());
    for (unsigned i = 0; i < kPackets; ++i) {
        SCOPED_TRACE("packet " + std::to_string(i));
        EXPECT_EQ(get_mac(delivered[i], 0), kDmzHostMac);
        EXPECT_EQ(get_mac(delivered[i], 6), kDmzMac);
        EXPECT_EQ(get16(delivered[i], 12), c.inner_v6 ? kEtherIp6 : kEtherIp4);
        expect_forwarded_l3(l3(delivered[i]), inner[i], 2);
    }
    expect_no_drops(worker_counters());
    EXPECT_EQ(b.packets.load(), kPackets);
    EXPECT_EQ(b.auth_drops.load(), 0u);
    EXPECT_EQ(b.replay_drops.load(), 0u);
    EXPECT_EQ(b.replay.top(), first_seq + kPackets - 1);

    // The same frames again: every one is a replay now.
    send(kWan, mirrored);
    expect_nothing_sent("replays");
    EXPECT_EQ(worker_counters().dropped(dp::DropReason::esp_replay), kPackets);
    EXPECT_EQ(b.replay_drops.load(), kPackets);
}

std::vector<TunnelCase> all_cases() {
    std::vector<TunnelCase> v;
    for (const bool outer_v6 : {false, true}) {
        for (const bool inner_v6 : {false, true}) {
            for (const bool aes256 : {false, true}) {
                for (const bool esn : {false, true}) {
                    v.push_back({outer_v6, inner_v6, aes256, esn});
                }
            }
        }
    }
    return v;
}

INSTANTIATE_TEST_SUITE_P(AllFamiliesCiphersEsn, EspTunnelTest, ::testing::ValuesIn(all_cases()), case_name);

// A full burst of one SA (the worker's burst is 32), mixed sizes up to what
// the WAN MTU allows with the outer header: every packet crosses, in order.
class EspTunnelBurstTest : public IpsecTest {};

TEST_F(EspTunnelBurstTest, FullBurstOfMixedSizes) {
    apply(
        fmt::format("ipsec sa to-b out spi 0x7001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect to-b\n",
                    kKey128));
    std::vector<Bytes> inner;
    std::vector<Bytes> frames;
    for (unsigned i = 0; i < 32; ++i) {
        inner.push_back(udp_h_to_d(false, 28 + (i * 97) % 1250, true, static_cast<uint8_t>(i)));
        frames.push_back(from_lan(inner.back()));
    }
    send(kLan, frames);
    auto out = sent(kWan);
    ASSERT_EQ(out.size(), inner.size()) << drops_to_string(worker_counters());
    expect_no_drops(worker_counters());
    const PeerSa peer{.spi = 0x7001, .key_salt = kKey128};
    for (unsigned i = 0; i < out.size(); ++i) {
        auto f = parse_esp(out[i]);
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->seq, i + 1);
        auto plain = open(peer, i + 1, f->esp);
        ASSERT_TRUE(plain.has_value()) << i;
        expect_forwarded_l3(std::span(*plain).first(inner[i].size()), inner[i], 1);
    }

    apply(
        fmt::format("ipsec sa from-a in spi 0x7001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                    "ipsec policy in priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect from-a\n",
                    kKey128));
    std::vector<Bytes> mirrored;
    for (const auto& f : out) {
        mirrored.push_back(mirror(f));
    }
    send(kWan, mirrored);
    auto delivered = sent(kDmz);
    ASSERT_EQ(delivered.size(), inner.size()) << drops_to_string(worker_counters());
    for (unsigned i = 0; i < delivered.size(); ++i) {
        expect_forwarded_l3(l3(delivered[i]), inner[i], 2);
    }
    expect_no_drops(worker_counters());
}

}  // namespace
}  // namespace gw::test
