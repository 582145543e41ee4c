// Every way the IPsec path refuses a packet, each with its drop counter and
// the SA counter it moves; and PMTU discovery through the tunnel.
//
// The gateway starts from a configuration file that holds IPsec (so
// Dataplane::create's first apply is what runs): SAs and policies below. The
// peer's packets are crafted by the test's own ESP (ipsec_fixture.cc), which
// can also write what a correct peer never would (bad padding, next header 59).

#include <fmt/core.h>
#include <rte_cycles.h>

#include <string>
#include <vector>

#include "tests/dataplane/ipsec/ipsec_fixture.h"

namespace gw::test {
namespace {

using dp::DropReason;

const PeerSa kIn1{.spi = 0x2001, .key_salt = kKey128b};              // IPv4 outer, window 64
const PeerSa kIn2{.spi = 0x2002, .key_salt = kKey256, .esn = true};  // IPv6 outer, ESN

class EspDropTest : public IpsecTest {
protected:
    [[nodiscard]] TopologyOptions options() const override {
        TopologyOptions o;
        o.extra = fmt::format(
            "ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
            "ipsec sa in1 in spi 0x2001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 replay-window 64\n"
            "ipsec sa in2 in spi 0x2002 aes-gcm-256 key {} tunnel 2001:db8:b::1 2001:db8:b::10 esn\n"
            "ipsec policy out priority 5 src 10.0.0.0/24 dst 172.16.0.0/24 proto udp dport 7 bypass\n"
            "ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n"
            "ipsec policy out priority 20 src 10.0.0.0/24 dst 198.51.0.0/16 discard\n"
            "ipsec policy in priority 10 src 172.16.0.0/24 dst 10.0.0.0/24 protect in1\n"
            "ipsec policy in priority 20 src 198.51.100.0/24 dst 10.0.0.0/24 discard\n"
            "ipsec policy in priority 30 src 2001:db8:c::/64 dst 2001:db8:a::/64 protect in2\n",
            kKey128, kKey128b, kKey256);
        return o;
    }

    // D -> H through in1 (IPv4 outer) with sequence number `seq`.
    [[nodiscard]] static Bytes in1_frame(uint64_t seq, std::size_t inner_len = 60) {
        return esp_from_peer(seal(kIn1, seq, EspPlain{.inner = udp_d_to_h(false, inner_len)}), false);
    }

    // The single frame delivered to host H, or a failure.
    void expect_delivered_to_h(std::span<const uint8_t> inner) {
        auto out = sent(kLan);
        ASSERT_EQ(out.size(), 1u) << drops_to_string(worker_counters());
        EXPECT_EQ(get_mac(out[0], 0), kHostMac);
        expect_forwarded_l3(l3(out[0]), inner, 1);
    }
};

TEST_F(EspDropTest, ConfiguredAtStartup) {
    const auto& st = state();
    EXPECT_EQ(st.sas.size(), 3u);
    EXPECT_EQ(st.out.size(), 3u);
    EXPECT_EQ(st.in.size(), 3u);
    EXPECT_EQ(st.lookup_in(0x2001), &sa("in1"));
    EXPECT_EQ(st.lookup_in(0x2002), &sa("in2"));
    EXPECT_EQ(st.lookup_in(0x1001), nullptr) << "outbound SAs are not in the inbound SAD";
    EXPECT_EQ(sa("in1").replay.size(), 64u);
    EXPECT_EQ(sa("in2").replay.size(), 1024u);
}

// ---- anti-replay --------------------------------------------------------------

TEST_F(EspDropTest, ReplayedPacketIsDropped) {
    const Bytes f = in1_frame(1);
    send(kWan, f);
    expect_delivered_to_h(udp_d_to_h(false, 60));
    send(kWan, f);
    expect_nothing_sent("replay");
    expect_only_drops(worker_counters(), DropReason::esp_replay);
    EXPECT_EQ(sa("in1").replay_drops.load(), 1u);
    EXPECT_EQ(sa("in1").packets.load(), 1u);
}

// A duplicate inside one burst passes the pre-crypto check (the window has
// not moved yet) and is caught by the re-check after authentication; the SA
// counts it like any other replay.
TEST_F(EspDropTest, DuplicateInOneBurstIsDroppedAndCounted) {
    const Bytes f = in1_frame(1);
    send(kWan, std::vector<Bytes>{f, f});
    expect_delivered_to_h(udp_d_to_h(false, 60));
    expect_only_drops(worker_counters(), DropReason::esp_replay);
    EXPECT_EQ(sa("in1").packets.load(), 1u);
    EXPECT_EQ(sa("in1").replay_drops.load(), 1u) << "the SA counts every replay it refused";
}

TEST_F(EspDropTest, LeftOfTheWindowIsTooOld) {
    send(kWan, in1_frame(100));
    expect_delivered_to_h(udp_d_to_h(false, 60));
    send(kWan, in1_frame(36));  // 100 - 64: just outside a 64-packet window
    expect_nothing_sent("too old");
    expect_only_drops(worker_counters(), DropReason::esp_too_old);
    send(kWan, in1_frame(37));  // the window's last slot
    expect_delivered_to_h(udp_d_to_h(false, 60));
    EXPECT_EQ(sa("in1").replay_drops.load(), 1u);
    EXPECT_EQ(sa("in1").packets.load(), 2u);
}

TEST_F(EspDropTest, SequenceNumberZeroIsRefused) {
    send(kWan, in1_frame(0));
    expect_nothing_sent("seq 0");
    expect_only_drops(worker_counters(), DropReason::esp_too_old);
}

// ---- integrity ----------------------------------------------------------------

TEST_F(EspDropTest, ForgedPacketsFailAuthenticationAndDoNotMoveTheWindow) {
    const Bytes inner = udp_d_to_h(false, 60);
    const Bytes esp = seal(kIn1, 5, EspPlain{.inner = inner});
    struct Forgery {
        const char* what;
        std::size_t offset;  // into SPI..ICV
    };
    const std::vector<Forgery> forgeries = {
        {"sequence number (in the AAD)", 7},
        {"explicit IV (in the nonce)", 8},
        {"first ciphertext byte", 16},
        {"last ciphertext byte (next header)", esp.size() - kIcvLen - 1},
        {"first ICV byte", esp.size() - kIcvLen},
        {"last ICV byte", esp.size() - 1},
    };
    uint64_t n = 0;
    for (const auto& f : forgeries) {
        SCOPED_TRACE(f.what);
        Bytes forged = esp;
        forged[f.offset] ^= 0x01;
        // The sequence number forgery reads as seq 4: still inside the window.
        send(kWan, esp_from_peer(forged, false));
        ++n;
        expect_nothing_sent("forged");
        expect_only_drops(worker_counters(), DropReason::esp_auth_failed, n);
        EXPECT_EQ(sa("in1").auth_drops.load(), n);
        EXPECT_EQ(sa("in1").replay.top(), 0u) << "an unauthenticated packet moved the window";
    }
    send(kWan, esp_from_peer(esp, false));
    expect_delivered_to_h(inner);
    EXPECT_EQ(sa("in1").replay.top(), 5u);
    EXPECT_EQ(sa("in1").packets.load(), 1u);
    EXPECT_EQ(sa("in1").replay_drops.load(), 0u);
}

TEST_F(EspDropTest, WrongKeyFailsAuthentication) {
    const PeerSa wrong{.spi = 0x2001, .key_salt = kKey128};
    send(kWan, esp_from_peer(seal(wrong, 1, EspPlain{.inner = udp_d_to_h(false, 60)}), false));
    expect_only_drops(worker_counters(), DropReason::esp_auth_failed);
    EXPECT_EQ(sa("in1").auth_drops.load(), 1u);
}

// ---- SA lookup and framing ----------------------------------------------------

TEST_F(EspDropTest, UnknownSpiAndWrongDestination) {
    const Bytes inner = udp_d_to_h(false, 60);
    struct Case {
        const char* what;
        Bytes frame;
    };
    const PeerSa stranger{.spi = 0x9999, .key_salt = kKey128b};
    const PeerSa outbound_spi{.spi = 0x1001, .key_salt = kKey128};
    const std::vector<Case> cases = {
        {"no SA has the SPI", esp_from_peer(seal(stranger, 1, EspPlain{.inner = inner}), false)},
        {"the SPI of an outbound SA", esp_from_peer(seal(outbound_spi, 1, EspPlain{.inner = inner}), false)},
        {"IPv4 SA's SPI over IPv6", esp_from_peer(seal(kIn1, 1, EspPlain{.inner = inner}), true)},
        {"IPv6 SA's SPI over IPv4", esp_from_peer(seal(kIn2, 1, EspPlain{.inner = udp_d_to_h(true, 80)}), false)},
        {"right SPI, to the LAN address instead of the tunnel endpoint",
         ether(kWanMac, kServerMac, kEtherIp4, outer4(kServer, kLanIp, seal(kIn1, 1, EspPlain{.inner = inner})))},
    };
    uint64_t n = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        send(kWan, c.frame);
        expect_nothing_sent("unknown spi");
        expect_only_drops(worker_counters(), DropReason::esp_unknown_spi, ++n);
    }
    EXPECT_EQ(sa("in1").replay.top(), 0u);
    EXPECT_EQ(sa("in1").auth_drops.load(), 0u);
}

TEST_F(EspDropTest, TruncatedEsp) {
    const Bytes esp = seal(kIn1, 1, EspPlain{.inner = udp_d_to_h(false, 60)});
    // Minimum: SPI, seq, IV, pad length, next header, ICV = 34 bytes.
    for (const std::size_t len : {std::size_t{0}, std::size_t{4}, std::size_t{8}, std::size_t{16}, std::size_t{33}}) {
        SCOPED_TRACE(len);
        // As a NIC delivers them: short frames padded to 60 bytes.
        send(kWan, padded(esp_from_peer(std::span(esp).first(len), false)));
        send(kWan, padded(esp_from_peer(std::span(esp).first(len), true)));
    }
    expect_nothing_sent("truncated");
    expect_only_drops(worker_counters(), DropReason::esp_truncated, 10);
    EXPECT_EQ(sa("in1").auth_drops.load(), 0u);
}

TEST_F(EspDropTest, BadPaddingWithAValidIcv) {
    const Bytes inner = udp_d_to_h(false, 60);  // 60 + 2: 2 bytes of padding
    struct Case {
        const char* what;
        EspPlain plain;
    };
    const std::vector<Case> cases = {
        {"pad bytes 5, 6 instead of 1, 2", EspPlain{.inner = inner, .padding = Bytes{5, 6}}},
        {"pad bytes 1, 1", EspPlain{.inner = inner, .padding = Bytes{1, 1}}},
        {"pad bytes 0, 0", EspPlain{.inner = inner, .padding = Bytes{0, 0}}},
        {"pad length beyond the payload", EspPlain{.inner = inner, .padding = Bytes{1, 2}, .pad_len = 200}},
        {"pad length 255", EspPlain{.inner = inner, .padding = Bytes{1, 2}, .pad_len = 255}},
    };
    uint64_t seq = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        send(kWan, esp_from_peer(seal(kIn1, ++seq, c.plain), false));
        expect_nothing_sent("bad padding");
        expect_only_drops(worker_counters(), DropReason::esp_bad_padding, seq);
    }
    EXPECT_EQ(sa("in1").auth_drops.load(), 0u) << "these authenticate";
    EXPECT_EQ(sa("in1").packets.load(), 0u);

    // Longer but valid padding (RFC 4303 allows up to 255 bytes) is accepted.
    Bytes long_pad;
    for (uint8_t i = 1; i <= 6; ++i) {
        long_pad.push_back(i);
    }
    send(kWan, esp_from_peer(seal(kIn1, ++seq, EspPlain{.inner = inner, .padding = long_pad}), false));
    expect_delivered_to_h(inner);
}

TEST_F(EspDropTest, DummyAndUnknownNextHeader) {
    send(kWan, esp_from_peer(seal(kIn1, 1, EspPlain{.inner = pattern(30), .next_header = kNextNone}), false));
    expect_only_drops(worker_counters(), DropReason::esp_dummy);
    send(kWan, esp_from_peer(seal(kIn1, 2, EspPlain{.inner = pattern(30), .next_header = 17}), false));
    const auto c = worker_counters();
    EXPECT_EQ(c.dropped(DropReason::esp_bad_next_header), 1u) << drops_to_string(c);
    EXPECT_EQ(c.total_drops(), 2u) << drops_to_string(c);
    expect_nothing_sent("dummy");
    EXPECT_EQ(sa("in1").auth_drops.load(), 0u);
    EXPECT_EQ(sa("in1").replay.top(), 2u) << "authenticated, so the window moved";
}

// ---- policies -----------------------------------------------------------------

TEST_F(EspDropTest, CleartextMatchingAnInboundProtectPolicyIsDropped) {
    // D -> H in clear, from the DMZ port and from the WAN side.
    send(kDmz, ether(kDmzMac, kDmzHostMac, kEtherIp4, udp_d_to_h(false, 60)));
    expect_only_drops(worker_counters(), DropReason::ipsec_policy_mismatch);
    send(kWan, ether(kWanMac, kServerMac, kEtherIp6, udp_d_to_h(true, 80)));
    expect_only_drops(worker_counters(), DropReason::ipsec_policy_mismatch, 2);
    expect_nothing_sent("policy mismatch");
}

TEST_F(EspDropTest, PacketThroughTheWrongSaIsDropped) {
    // IPv4 traffic that in1's policy covers, arriving through in2.
    send(kWan, esp_from_peer(seal(kIn2, 1, EspPlain{.inner = udp_d_to_h(false, 60)}), true));
    expect_nothing_sent("wrong SA");
    expect_only_drops(worker_counters(), DropReason::ipsec_policy_mismatch);
    EXPECT_EQ(sa("in2").packets.load(), 1u) << "decrypted and counted, then refused by policy";
    // And in2's own traffic passes.
    const Bytes inner6 = udp_d_to_h(true, 80);
    send(kWan, esp_from_peer(seal(kIn2, 2, EspPlain{.inner = inner6, .next_header = kNextIpv6}), true));
    expect_delivered_to_h(inner6);
}

TEST_F(EspDropTest, DiscardPolicies) {
    // Outbound: H -> 198.51.7.7 (routed via R2) matches the discard policy.
    const Bytes out = ipv4_udp(Ip4Fields{.src = kHost, .dst = ip4("198.51.7.7")}, 1, 2, pattern(20));
    send(kLan, from_lan(out));
    expect_only_drops(worker_counters(), DropReason::ipsec_policy_discard);
    // Inbound: 198.51.100.7 -> H in clear.
    const Bytes in = ipv4_udp(Ip4Fields{.src = ip4("198.51.100.7"), .dst = kHost}, 1, 2, pattern(20));
    send(kWan, ether(kWanMac, kRouterMac, kEtherIp4, in));
    expect_only_drops(worker_counters(), DropReason::ipsec_policy_discard, 2);
    expect_nothing_sent("discard");
}

TEST_F(EspDropTest, BypassPolicyForwardsInClearAndProtectedTrafficGoesEsp) {
    const Bytes echo = ipv4_udp(Ip4Fields{.src = kHost, .dst = kDmzHost}, 40000, 7, pattern(20));
    send(kLan, from_lan(echo));
    auto clear = sent(kDmz);
    ASSERT_EQ(clear.size(), 1u) << drops_to_string(worker_counters());
    expect_forwarded_l3(l3(clear[0]), echo, 1);
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    auto f = one_esp_on_wan();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->spi, 0x1001u);
    EXPECT_EQ(f->seq, 1u);
    expect_no_drops(worker_counters());
}

// ---- SA lifetimes and sequence numbers -------------------------------------------

class EspLifetimeTest : public IpsecTest {};

TEST_F(EspLifetimeTest, HardPacketLimitStopsTheOutboundSa) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 "
                    "lifetime packets 2 3\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    dp::ipsec::Sa& s = sa("out1");
    for (uint32_t i = 1; i <= 3; ++i) {
        send(kLan, from_lan(udp_h_to_d(false, 60)));
        auto f = one_esp_on_wan();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->seq, i);
        EXPECT_EQ(s.soft_expired.load(), i >= 2) << "soft limit at 2 packets";
    }
    EXPECT_TRUE(s.dead.load()) << "hard limit at 3 packets";
    expect_no_drops(worker_counters());
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    expect_nothing_sent("expired SA");
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired, 2);
    EXPECT_EQ(s.packets.load(), 3u);
}

// Regression (dataplane/ipsec/esp.cc, esp_encrypt: `dead` is read once per SA group before the
// burst, and Sa::account() only marks the SA dead after the burst's packets are encrypted): a burst
// of N packets on an SA k packets short of its hard packet limit sends all N, overshooting the hard
// limit by up to a burst. RFC 4301 4.4.2.1: on reaching the hard lifetime the SA must not be used.
// Fix: in esp_encrypt, clamp the group like the sequence-number reservation does, e.g. reserve
// `allowed = min(count, hard_packets - packets)` (an atomic fetch_add on a reserved-packets
// counter) and drop the rest as ipsec-sa-expired.
TEST_F(EspLifetimeTest, HardPacketLimitHoldsWithinABurst) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 "
                    "lifetime packets 3 3\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    std::vector<Bytes> burst(5, from_lan(udp_h_to_d(false, 60)));
    send(kLan, burst);
    EXPECT_EQ(sent(kWan).size(), 3u) << "no more than the hard limit may leave";
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired, 2);
}

TEST_F(EspLifetimeTest, HardLimitsStopTheInboundSa) {
    apply(
        fmt::format("ipsec sa in1 in spi 0x2001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 "
                    "lifetime packets 1 2\n"
                    "ipsec policy in priority 1 src 172.16.0.0/24 dst 10.0.0.0/24 protect in1\n",
                    kKey128b));
    const Bytes inner = udp_d_to_h(false, 60);
    for (uint64_t seq = 1; seq <= 2; ++seq) {
        send(kWan, esp_from_peer(seal(kIn1, seq, EspPlain{.inner = inner}), false));
        ASSERT_EQ(sent(kLan).size(), 1u) << drops_to_string(worker_counters());
    }
    EXPECT_TRUE(sa("in1").dead.load());
    send(kWan, esp_from_peer(seal(kIn1, 3, EspPlain{.inner = inner}), false));
    expect_nothing_sent("expired inbound SA");
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired);
}

TEST_F(EspLifetimeTest, HardByteLimit) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 "
                    "lifetime bytes 100 150\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    send(kLan, from_lan(udp_h_to_d(false, 100)));
    ASSERT_TRUE(one_esp_on_wan().has_value());
    EXPECT_TRUE(sa("out1").soft_expired.load());
    EXPECT_FALSE(sa("out1").dead.load());
    send(kLan, from_lan(udp_h_to_d(false, 100)));
    ASSERT_TRUE(one_esp_on_wan().has_value());
    EXPECT_TRUE(sa("out1").dead.load());
    send(kLan, from_lan(udp_h_to_d(false, 100)));
    expect_nothing_sent("byte limit");
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired);
}

TEST_F(EspLifetimeTest, HardTimeLimitThroughTick) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 "
                    "lifetime seconds 10 20\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    dp::ipsec::Sa& s = sa("out1");
    const uint64_t t0 = s.created_tsc;
    dataplane().tick(t0 + 9 * tsc_hz());
    EXPECT_FALSE(s.soft_expired.load());
    dataplane().tick(t0 + 10 * tsc_hz());
    EXPECT_TRUE(s.soft_expired.load());
    EXPECT_FALSE(s.dead.load());
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    ASSERT_TRUE(one_esp_on_wan().has_value());
    dataplane().tick(t0 + 20 * tsc_hz());
    EXPECT_TRUE(s.dead.load());
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    expect_nothing_sent("time limit");
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired);
}

TEST_F(EspLifetimeTest, SequenceNumberOverflowStopsANonEsnSa) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    dp::ipsec::Sa& s = sa("out1");
    s.next_seq.store(0xfffffffeull);
    for (const uint32_t want : {0xfffffffeu, 0xffffffffu}) {
        send(kLan, from_lan(udp_h_to_d(false, 60)));
        auto f = one_esp_on_wan();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->seq, want);
    }
    EXPECT_FALSE(s.dead.load()) << "2^32 - 1 is the last number, still usable";
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    expect_nothing_sent("sequence space exhausted: the counter must not cycle (RFC 4303 3.3.3)");
    EXPECT_TRUE(s.dead.load());
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired, 2);
}

TEST_F(EspLifetimeTest, SequenceNumberOverflowInTheMiddleOfABurst) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    dp::ipsec::Sa& s = sa("out1");
    s.next_seq.store(0xfffffffdull);
    send(kLan, std::vector<Bytes>(5, from_lan(udp_h_to_d(false, 60))));
    // Never a number beyond 2^32 - 1 on the wire (it would read as 0, 1, ...).
    for (const auto& f : sent(kWan)) {
        const auto e = parse_esp(f);
        ASSERT_TRUE(e.has_value());
        EXPECT_GE(e->seq, 0xfffffffdu);
    }
    EXPECT_TRUE(s.dead.load());
    EXPECT_EQ(worker_counters().dropped(DropReason::ipsec_sa_expired) + s.packets.load(), 5u);
}

TEST_F(EspLifetimeTest, EsnSaContinuesPast2To32) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 esn\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    dp::ipsec::Sa& s = sa("out1");
    s.next_seq.store(0xffffffffull);
    for (const uint32_t want : {0xffffffffu, 0u, 1u}) {
        send(kLan, from_lan(udp_h_to_d(false, 60)));
        auto f = one_esp_on_wan();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->seq, want);
    }
    EXPECT_FALSE(s.dead.load());
    expect_no_drops(worker_counters());
}

TEST_F(EspLifetimeTest, EsnSaStopsAtTheEndOfThe64BitSpace) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10 esn\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    dp::ipsec::Sa& s = sa("out1");
    s.next_seq.store(UINT64_MAX);
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    auto f = one_esp_on_wan();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->seq, 0xffffffffu);
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    expect_nothing_sent("64-bit space exhausted");
    EXPECT_TRUE(s.dead.load());
    expect_only_drops(worker_counters(), DropReason::ipsec_sa_expired);
}

TEST_F(EspLifetimeTest, TunnelEndpointWithoutARoute) {
    apply(
        fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 100.64.0.1\n"
                    "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
                    kKey128));
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    expect_nothing_sent("no route to the peer");
    expect_only_drops(worker_counters(), DropReason::no_route);
    EXPECT_EQ(sa("out1").next_seq.load(), 1u) << "no sequence number spent";
}

// ---- PMTU discovery through the tunnel ------------------------------------------

class EspPmtuTest : public IpsecTest {
protected:
    void SetUp() override {
        IpsecTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        apply(
            fmt::format("ipsec sa out4 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                        "ipsec sa out6 out spi 0x1006 aes-gcm-128 key {} tunnel 2001:db8:b::1 2001:db8:b::10\n"
                        "ipsec policy out priority 1 src 10.0.0.0/24 dst 172.16.0.0/24 protect out4\n"
                        "ipsec policy out priority 2 src 2001:db8:a::/64 dst 2001:db8:c::/64 protect out6\n",
                        kKey128, kKey128));
    }

    // The WAN port's MTU as the data plane sees it. The standard topology's
    // WAN MTU is 1500 and the config grammar has no way to change it after
    // the fact, so limit tests reach into the tables (the worker reads them
    // per packet; no worker thread runs).
    void set_wan_mtu(uint16_t mtu) { const_cast<dp::Tables&>(dataplane().tables()).ports[kWan].mtu = mtu; }

    // Sends `packet` (DF for IPv4) from H; returns the MTU of the ICMP
    // fragmentation-needed / packet-too-big it caused, or 0 when it crossed.
    uint32_t probe(const Bytes& packet) {
        send(kLan, from_lan(packet));
        auto wan = sent(kWan);
        auto lan = sent(kLan);
        if (!wan.empty()) {
            EXPECT_EQ(wan.size(), 1u);
            EXPECT_TRUE(lan.empty());
            const auto ip = l3(wan[0]);
            const std::size_t outer_len = (ip[0] >> 4) == 4 ? get16(ip, 2) : kIp6Len + get16(ip, 4);
            EXPECT_LE(outer_len, dataplane().tables().ports[kWan].mtu) << "outer packet exceeds the WAN MTU";
            return 0;
        }
        if (lan.size() != 1) {
            ADD_FAILURE() << "neither ESP nor ICMP: " << drops_to_string(worker_counters());
            return 0;
        }
        const auto ip = l3(lan[0]);
        EXPECT_EQ(get_mac(lan[0], 0), kHostMac);
        if ((ip[0] >> 4) == 4) {
            EXPECT_EQ(ip[9], kProtoIcmp);
            const auto icmp = ip.subspan(kIp4Len);
            EXPECT_EQ(icmp[0], 3) << "destination unreachable";
            EXPECT_EQ(icmp[1], 4) << "fragmentation needed";
            EXPECT_TRUE(icmp4_ok(lan[0]));
            EXPECT_EQ(get32(ip, 16), kHost);
            return get16(icmp, 6);
        }
        EXPECT_EQ(ip[6], kProtoIcmp6);
        const auto icmp = ip.subspan(kIp6Len);
        EXPECT_EQ(icmp[0], 2) << "packet too big";
        EXPECT_TRUE(l4_6_ok(lan[0]));
        return get32(icmp, 4);
    }
};

TEST_F(EspPmtuTest, OversizeDfPacketGetsAnMtuThatFits) {
    const Bytes big = udp_h_to_d(false, 1500, true);
    const uint32_t mtu = probe(big);
    ASSERT_GT(mtu, 0u);
    EXPECT_LT(mtu, 1500u);
    expect_only_drops(worker_counters(), DropReason::mtu_exceeded);
    EXPECT_EQ(worker_counters().icmp_sent, 1u);
    EXPECT_EQ(probe(udp_h_to_d(false, mtu, true)), 0u) << "a packet of the advertised MTU crosses";
    EXPECT_EQ(sa("out4").packets.load(), 1u);
    // The largest inner IPv4 packet that fits 1500 after ESP (20 + 8 + 8 +
    // 16 bytes, payload + 2 aligned to 4) is 1446 bytes.
    EXPECT_EQ(probe(udp_h_to_d(false, 1446, true)), 0u);
    EXPECT_GT(probe(udp_h_to_d(false, 1447, true)), 0u);
}

TEST_F(EspPmtuTest, OversizeWithoutDfIsDroppedSilently) {
    send(kLan, from_lan(udp_h_to_d(false, 1500, false)));
    expect_nothing_sent("no DF: no ICMP, no fragmentation configured");
    expect_only_drops(worker_counters(), DropReason::mtu_exceeded);
    EXPECT_EQ(worker_counters().icmp_sent, 0u);
}

TEST_F(EspPmtuTest, OversizeIpv6GetsPacketTooBig) {
    const uint32_t mtu = probe(udp_h_to_d(true, 1500));
    ASSERT_GT(mtu, 0u);
    EXPECT_GE(mtu, 1280u) << "IPv6 minimum link MTU";
    expect_only_drops(worker_counters(), DropReason::mtu_exceeded);
    EXPECT_EQ(probe(udp_h_to_d(true, mtu)), 0u);
    // IPv6 outer: 40 + 8 + 8 + 16 bytes around payload + 2 aligned to 4.
    EXPECT_EQ(probe(udp_h_to_d(true, 1426)), 0u);
    EXPECT_GT(probe(udp_h_to_d(true, 1427)), 0u);
}

// The advertised MTU is the largest inner packet that fits, whatever the WAN
// MTU modulo 4 and whatever the offender's own padding (an earlier version
// rounded the offender's overhead and advertised a value 1 byte too large
// for WAN MTUs of 4k + 3).
TEST_F(EspPmtuTest, AdvertisedMtuFitsForEveryWanMtu) {
    for (const uint16_t wan_mtu : {1500, 1499, 1498, 1497, 1400, 1399}) {
        set_wan_mtu(wan_mtu);
        for (const std::size_t len :
             {std::size_t{1500}, std::size_t{1490}, std::size_t{1491}, std::size_t{1492}, std::size_t{1493}}) {
            SCOPED_TRACE(fmt::format("WAN MTU {}, offender of {} bytes", wan_mtu, len));
            const uint32_t mtu = probe(udp_h_to_d(false, len, true));
            ASSERT_GT(mtu, 0u);
            EXPECT_EQ(probe(udp_h_to_d(false, mtu, true)), 0u) << "advertised MTU " << mtu << " does not fit";
            EXPECT_GT(probe(udp_h_to_d(false, mtu + 1, true)), 0u) << "advertised MTU " << mtu << " is not the largest";
        }
    }
}

// The ICMP error quotes the offending packet as it arrived (RFC 1812
// 4.3.2.3), like the cleartext path does: TTL not yet decremented.
// Regression (dataplane/forward.cc, forward4: `ip4_decrement_ttl(ip)` runs before
// `outbound_policy_takes`, which sends the frag-needed error): the quote carries TTL - 1 (and its
// checksum). Fix: build the ICMP error before the decrement, or restore the TTL (ip4_increment_ttl)
// before icmp_error in the MTU branch.
TEST_F(EspPmtuTest, FragNeededQuotesThePacketAsReceived) {
    const Bytes big = udp_h_to_d(false, 1500, true);
    send(kLan, from_lan(big));
    auto lan = sent(kLan);
    ASSERT_EQ(lan.size(), 1u);
    const auto quote = l3(lan[0]).subspan(kIp4Len + 8);
    ASSERT_GE(quote.size(), kIp4Len);
    EXPECT_EQ(quote[8], big[8]) << "quoted TTL";
    EXPECT_TRUE(std::equal(quote.begin(), quote.end(), big.begin())) << "quote:\n" << hex(quote);
}

}  // namespace
}  // namespace gw::test
