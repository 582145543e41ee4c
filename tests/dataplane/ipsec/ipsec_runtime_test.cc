// Runtime changes through IpsecManager::apply (the snapshot swap): what is
// kept (the SA object, its sequence counter, its replay window), what stops,
// make-before-break rekeying in both directions, and a failed apply that
// must leave everything as it was.

#include <fmt/core.h>
#include <rte_cycles.h>

#include <string>
#include <vector>

#include "tests/dataplane/ipsec/ipsec_fixture.h"

namespace gw::test {
namespace {

using dp::DropReason;

// H -> D through `sa` (IPv4 tunnel to S).
std::string out_sa(std::string_view name, uint32_t spi, std::string_view key, std::string_view extra = "") {
    return fmt::format("ipsec sa {} out spi {:#x} aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10{}\n", name, spi, key,
                       extra);
}
std::string in_sa(std::string_view name, uint32_t spi, std::string_view key) {
    return fmt::format("ipsec sa {} in spi {:#x} aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n", name, spi, key);
}
constexpr std::string_view kOutPolicyOld =
    "ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/24 protect old\n";
constexpr std::string_view kInPolicy = "ipsec policy in priority 10 src 172.16.0.0/24 dst 10.0.0.0/24 protect in-old\n";

class IpsecRuntimeTest : public IpsecTest {
protected:
    // Sends one H -> D packet and returns the ESP frame it became.
    std::optional<EspFrame> h_to_d() {
        send(kLan, from_lan(udp_h_to_d(false, 60)));
        return one_esp_on_wan();
    }
    // Sends D -> H through the peer's SA and expects it delivered.
    void d_to_h(const PeerSa& peer, uint64_t seq) {
        const Bytes inner = udp_d_to_h(false, 60, static_cast<uint8_t>(seq));
        send(kWan, esp_from_peer(seal(peer, seq, EspPlain{.inner = inner}), false));
        auto out = sent(kLan);
        ASSERT_EQ(out.size(), 1u) << "seq " << seq << ": " << drops_to_string(worker_counters());
        expect_forwarded_l3(l3(out[0]), inner, 1);
    }
    // `p` (H -> D) left on the DMZ port in clear, and nothing else left.
    void expect_forwarded_in_clear(const Bytes& p) {
        auto out = sent(kDmz);
        ASSERT_EQ(out.size(), 1u) << drops_to_string(worker_counters());
        expect_forwarded_l3(l3(out[0]), p, 1);
        expect_nothing_sent("only the packet in clear");
    }
};

TEST_F(IpsecRuntimeTest, NothingConfiguredMeansNoSnapshotAndClearForwarding) {
    EXPECT_EQ(manager().current(), nullptr);
    EXPECT_EQ(dataplane().tables().ipsec.load(), nullptr);
    const Bytes p = udp_h_to_d(false, 60);
    send(kLan, from_lan(p));
    auto out = sent(kDmz);
    ASSERT_EQ(out.size(), 1u);
    expect_forwarded_l3(l3(out[0]), p, 1);
}

TEST_F(IpsecRuntimeTest, ApplyPublishesTheSnapshotWorkersRead) {
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    EXPECT_EQ(dataplane().tables().ipsec.load(), manager().current());
    const auto* first = manager().current();
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    EXPECT_NE(manager().current(), first) << "every apply publishes a new snapshot";
    EXPECT_EQ(dataplane().tables().ipsec.load(), manager().current());
}

TEST_F(IpsecRuntimeTest, AddingAnSaKeepsTheExistingOneAndItsSequence) {
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    dp::ipsec::Sa* const before = &sa("old");
    auto f = h_to_d();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->seq, 1u);

    apply(out_sa("old", 0x1001, kKey128) + out_sa("other", 0x1002, kKey128b) + std::string(kOutPolicyOld) +
          "ipsec policy out priority 20 src 10.0.0.0/24 dst 198.51.100.0/24 protect other\n");
    EXPECT_EQ(&sa("old"), before) << "unchanged SA: same object";
    EXPECT_EQ(state().sas.size(), 2u);
    f = h_to_d();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->spi, 0x1001u);
    EXPECT_EQ(f->seq, 2u) << "sequence numbers carry on";
    EXPECT_EQ(sa("old").packets.load(), 2u);

    // The new SA protects its own traffic, from 1.
    send(kLan, from_lan(ipv4_udp(Ip4Fields{.src = kHost, .dst = ip4("198.51.100.9")}, 1, 2, pattern(20))));
    f = one_esp_on_wan();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->spi, 0x1002u);
    EXPECT_EQ(f->seq, 1u);
    expect_no_drops(worker_counters());
}

TEST_F(IpsecRuntimeTest, RemovingThePolicyStopsProtection) {
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    ASSERT_TRUE(h_to_d().has_value());
    apply(out_sa("old", 0x1001, kKey128));
    EXPECT_TRUE(state().out.empty());
    const Bytes p = udp_h_to_d(false, 60);
    send(kLan, from_lan(p));
    expect_forwarded_in_clear(p);
    expect_no_drops(worker_counters());
}

TEST_F(IpsecRuntimeTest, RemovingAnInboundSaMakesItsSpiUnknown) {
    const PeerSa peer{.spi = 0x2001, .key_salt = kKey128b};
    apply(in_sa("in-old", 0x2001, kKey128b) + std::string(kInPolicy));
    d_to_h(peer, 1);
    apply("");
    EXPECT_TRUE(state().sas.empty());
    EXPECT_EQ(state().lookup_in(0x2001), nullptr);
    send(kWan, esp_from_peer(seal(peer, 2, EspPlain{.inner = udp_d_to_h(false, 60)}), false));
    expect_nothing_sent("SA removed");
    expect_only_drops(worker_counters(), DropReason::esp_unknown_spi);
}

TEST_F(IpsecRuntimeTest, KeptInboundSaKeepsItsReplayWindow) {
    const PeerSa peer{.spi = 0x2001, .key_salt = kKey128b};
    apply(in_sa("in-old", 0x2001, kKey128b) + std::string(kInPolicy));
    const Bytes first = esp_from_peer(seal(peer, 1, EspPlain{.inner = udp_d_to_h(false, 60)}), false);
    send(kWan, first);
    ASSERT_EQ(sent(kLan).size(), 1u);
    apply(in_sa("in-old", 0x2001, kKey128b) + std::string(kInPolicy) + out_sa("old", 0x1001, kKey128));
    send(kWan, first);
    expect_nothing_sent("replay across an apply");
    expect_only_drops(worker_counters(), DropReason::esp_replay);
    d_to_h(peer, 2);
}

// Make-before-break, inbound: the new SA (new SPI, new key) is installed
// beside the old one; the peer may use either until the old one is removed.
TEST_F(IpsecRuntimeTest, RekeyInboundMakeBeforeBreak) {
    const PeerSa old_peer{.spi = 0x2001, .key_salt = kKey128b};
    const PeerSa new_peer{.spi = 0x2002, .key_salt = kKey128};
    apply(in_sa("in-old", 0x2001, kKey128b) + std::string(kInPolicy));
    d_to_h(old_peer, 1);

    apply(in_sa("in-old", 0x2001, kKey128b) + in_sa("in-new", 0x2002, kKey128) + std::string(kInPolicy));
    d_to_h(old_peer, 2);
    d_to_h(new_peer, 1);
    d_to_h(old_peer, 3);  // late packets on the old SA still pass
    d_to_h(new_peer, 2);
    EXPECT_EQ(sa("in-old").packets.load(), 3u);
    EXPECT_EQ(sa("in-new").packets.load(), 2u);

    // Break: the policy moves to the new SA, the old one goes.
    apply(in_sa("in-new", 0x2002, kKey128) +
          "ipsec policy in priority 10 src 172.16.0.0/24 dst 10.0.0.0/24 protect in-new\n");
    d_to_h(new_peer, 3);
    send(kWan, esp_from_peer(seal(old_peer, 4, EspPlain{.inner = udp_d_to_h(false, 60)}), false));
    expect_nothing_sent("old SA gone");
    expect_only_drops(worker_counters(), DropReason::esp_unknown_spi);
}

// Make-before-break, outbound: both SAs exist; one apply moves the policy to
// the new SA and the next packet leaves on the new SPI from sequence 1.
TEST_F(IpsecRuntimeTest, RekeyOutboundSwitchesAtomically) {
    const std::string both = out_sa("old", 0x1001, kKey128) + out_sa("new", 0x1002, kKey128b);
    apply(both + std::string(kOutPolicyOld));
    dp::ipsec::Sa* const old_sa = &sa("old");
    for (uint32_t i = 1; i <= 3; ++i) {
        auto f = h_to_d();
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->spi, 0x1001u);
        EXPECT_EQ(f->seq, i);
    }
    apply(both + "ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/24 protect new\n");
    EXPECT_EQ(&sa("old"), old_sa) << "the old SA stays until removed";
    // A burst right after the switch: every packet on the new SA, in order.
    send(kLan, std::vector<Bytes>(4, from_lan(udp_h_to_d(false, 60))));
    auto out = sent(kWan);
    ASSERT_EQ(out.size(), 4u);
    const PeerSa peer{.spi = 0x1002, .key_salt = kKey128b};
    for (uint32_t i = 0; i < out.size(); ++i) {
        auto f = parse_esp(out[i]);
        ASSERT_TRUE(f.has_value());
        EXPECT_EQ(f->spi, 0x1002u);
        EXPECT_EQ(f->seq, i + 1);
        EXPECT_TRUE(open(peer, i + 1, f->esp).has_value()) << "encrypted with the new key";
    }
    EXPECT_EQ(old_sa->next_seq.load(), 4u) << "the old SA sent nothing more";
    expect_no_drops(worker_counters());
}

TEST_F(IpsecRuntimeTest, FailedApplyChangesNothing) {
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    ASSERT_TRUE(h_to_d().has_value());
    const auto* snapshot = manager().current();
    dp::ipsec::Sa* const old_sa = &sa("old");

    cp::Config bad =
        ipsec_config(out_sa("old", 0x1001, kKey128) + out_sa("extra", 0x1002, kKey128b) + std::string(kOutPolicyOld));
    ASSERT_EQ(bad.sas.size(), 2u);
    bad.sas[1].key.resize(24);  // a 20-byte AES key: no such AES-GCM
    const auto st = manager().apply(bad, rte_rdtsc());
    ASSERT_FALSE(st.has_value());
    EXPECT_NE(st.error().message.find("extra"), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("20 bytes"), std::string::npos) << st.error().message;

    EXPECT_EQ(manager().current(), snapshot);
    EXPECT_EQ(dataplane().tables().ipsec.load(), snapshot);
    EXPECT_EQ(state().sas.size(), 1u);
    EXPECT_EQ(&sa("old"), old_sa);
    auto f = h_to_d();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->seq, 2u);
    expect_no_drops(worker_counters());
}

// Regression (dataplane/ipsec/ipsec.cc, make_sa, which trusts invariants only parse_config
// enforces; any other builder of SaConfig, e.g. a runtime CLI, can break them): - `const
// std::size_t key_len = c.key.size() - 4;` runs before any length check: a key shorter than the
// 4-byte salt underflows key_len, the salt memcpy reads before the vector's buffer (a segfault for
// an empty vector, whose data() may be null) and the error names a key of 18446744073709551614
// bytes; - `std::get<net::Ip6Addr>(c.remote)` when local is IPv6 and remote IPv4 (or the reverse)
// throws std::bad_variant_access out of apply(). Fix: validate first in make_sa (or apply): key
// size 20 or 36 ("ipsec sa '<name>': key of N bytes (want 16 or 32 plus a 4-byte salt)"), endpoints
// of one family, and every PolicyConfig::sa < sas.size() (an out-of-range index is read unchecked
// by `chosen[p.sa]`).
TEST_F(IpsecRuntimeTest, ApplyValidatesHandBuiltSaConfig) {
    {
        SCOPED_TRACE("key shorter than its salt");
        cp::Config bad = ipsec_config(out_sa("short", 0x1001, kKey128));
        ASSERT_EQ(bad.sas.size(), 1u);
        bad.sas[0].key.resize(2);
        const auto st = manager().apply(bad, rte_rdtsc());
        ASSERT_FALSE(st.has_value());
        EXPECT_EQ(st.error().message.find("18446744073709551614"), std::string::npos)
            << "key length underflowed: " << st.error().message;
    }
    {
        SCOPED_TRACE("tunnel endpoints of two families");
        cp::Config bad = ipsec_config(out_sa("mixed", 0x1001, kKey128));
        ASSERT_EQ(bad.sas.size(), 1u);
        bad.sas[0].local = *net::parse_ip("2001:db8:b::1");
        Status st;
        EXPECT_NO_THROW(st = manager().apply(bad, rte_rdtsc()));
        EXPECT_FALSE(st.has_value());
    }
    EXPECT_EQ(manager().current(), nullptr);
}

// Regression (dataplane/ipsec/ipsec.cc, IpsecManager::apply: an SA is kept only when its whole
// SaConfig is equal): changing anything of an outbound SA but its key and SPI — a lifetime, the
// replay window, its name — builds a fresh Sa whose sequence counter restarts at 1 with the same
// key and salt. gatewayd's SIGHUP reload (gateway/main.cc, reload) takes exactly this path when an
// operator edits a lifetime in the file. The explicit IV is the sequence number, so GCM nonces
// repeat under one key: keystream reuse and forgeable tags (and the peer drops the restarted
// numbers as replays). Fix: match existing SAs by (direction, SPI, key); when such an SA's other
// parameters changed, carry next_seq, the replay window and the counters over into the new Sa (or
// update the mutable limits in place), or refuse the change unless the key changes too.
TEST_F(IpsecRuntimeTest, ChangingAnSaParameterNeverReusesItsNonces) {
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    for (uint32_t i = 1; i <= 3; ++i) {
        ASSERT_TRUE(h_to_d().has_value());
    }
    const auto st = manager().apply(
        ipsec_config(out_sa("old", 0x1001, kKey128, " lifetime packets 1000 2000") + std::string(kOutPolicyOld)),
        rte_rdtsc());
    if (!st.has_value()) {
        SUCCEED() << "refusing the change is acceptable: " << st.error().message;
        return;
    }
    auto f = h_to_d();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->seq, 4u) << "same key and salt: sequence number (the GCM IV) must not restart";
}

TEST_F(IpsecRuntimeTest, ChangingTheKeyMakesAFreshSa) {
    apply(out_sa("old", 0x1001, kKey128) + std::string(kOutPolicyOld));
    ASSERT_TRUE(h_to_d().has_value());
    dp::ipsec::Sa* const before = &sa("old");
    apply(out_sa("old", 0x1001, kKey128b) + std::string(kOutPolicyOld));
    EXPECT_NE(&sa("old"), before);
    auto f = h_to_d();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->seq, 1u);
    EXPECT_TRUE(open(PeerSa{.spi = 0x1001, .key_salt = kKey128b}, 1, f->esp).has_value());
}

TEST_F(IpsecRuntimeTest, ApplyingAnEmptyConfigurationClearsEverything) {
    apply(out_sa("old", 0x1001, kKey128) + in_sa("in-old", 0x2001, kKey128b) + std::string(kOutPolicyOld) +
          std::string(kInPolicy));
    apply("");
    EXPECT_TRUE(state().sas.empty());
    EXPECT_TRUE(state().out.empty());
    EXPECT_TRUE(state().in.empty());
    const Bytes p = udp_h_to_d(false, 60);
    send(kLan, from_lan(p));
    expect_forwarded_in_clear(p);
}

}  // namespace
}  // namespace gw::test
