// The control thread's slow path (slowpath.cc) fed by a real worker: ARP and
// ND answered and learned, packets held while their next hop resolves,
// probes retransmitted on a clock the test drives (poll(now_tsc)), held
// packets released by the answer or dropped when none comes, static
// neighbors. Output of the control thread is read from its own tx queue.

#include <rte_cycles.h>
#include <rte_ip.h>

#include <string>
#include <vector>

#include "dataplane/neighbor.h"
#include "tests/dataplane/dataplane_fixture.h"

namespace gw::test {
namespace {

using dp::DropReason;

// Hosts on the lan without static entries.
const uint32_t kNewHost = ip4("10.0.0.3");
const Ip6 kNewHost6 = ip6("2001:db8:a::3");
const Mac kNewHostMac = mac("02:00:00:00:0a:03");
const uint32_t kQuietHost = ip4("10.0.0.50");
const Ip6 kQuietHost6 = ip6("2001:db8:a::50");
const Mac kQuietHostMac = mac("02:00:00:00:0a:50");
// A source behind the wan router.
const uint32_t kRemote = ip4("198.51.100.7");
const Ip6 kRemote6 = ip6("2001:db8:100::7");

Bytes from_wan4(uint32_t dst, uint16_t id = 1) {
    return ether(kWanMac, kRouterMac, kEtherIp4,
                 ipv4_udp({.src = kRemote, .dst = dst, .id = id}, 5000, 6000, pattern(20)));
}
Bytes from_wan6(const Ip6& dst) {
    return ether(kWanMac, kRouterMac, kEtherIp6, ipv6_udp({.src = kRemote6, .dst = dst}, 5000, 6000, pattern(20)));
}

// What a routed packet looks like after one hop: TTL / hop limit one less,
// IPv4 checksum recomputed, new MACs.
Bytes after_one_hop(const Bytes& frame, const Mac& dst, const Mac& src) {
    Bytes l3b(frame.begin() + kEthLen, frame.end());
    if (get16(frame, 12) == kEtherIp4) {
        --l3b[8];
        set16(l3b, 10, 0);
        set16(l3b, 10, checksum(std::span(l3b).first((l3b[0] & 0x0f) * 4u)));
    } else {
        --l3b[7];
    }
    return ether(dst, src, get16(frame, 12), l3b);
}

Bytes arp_request_from_gateway(uint32_t target) {
    return ether(kBroadcastMac, kLanMac, kEtherArp, arp(kArpRequest, kLanMac, kLanIp, kZeroMac, target));
}
Bytes arp_reply_to_gateway(const Mac& sha, uint32_t spa) {
    return padded(ether(kLanMac, sha, kEtherArp, arp(kArpReply, sha, spa, kLanMac, kLanIp)));
}

Bytes ns_from_gateway(const Ip6& target) {
    const Ip6 group = solicited_node(target);
    return ether(multicast_mac(group), kLanMac, kEtherIp6,
                 ipv6_icmp({.src = kLanIp6, .dst = group, .hop_limit = 255}, kNdNs, 0, nd_ns_body(target, kLanMac)));
}

bool icmp6_checksum_ok_dpdk(const Bytes& frame) {
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(frame.data() + kEthLen);
    return rte_ipv6_udptcp_cksum_verify(ip, frame.data() + kEthLen + kIp6Len) == 0;
}

class SlowPathTest : public DataplaneTest {
protected:
    void SetUp() override {
        DataplaneTest::SetUp();
        t0_ = rte_rdtsc();
    }
    // The TSC `seconds` after the test started.
    [[nodiscard]] uint64_t at(double seconds) const {
        return t0_ + static_cast<uint64_t>(seconds * static_cast<double>(tsc_hz()));
    }

    uint64_t t0_ = 0;
};

// ---- ARP ----------------------------------------------------------------------

TEST_F(SlowPathTest, ArpRequestForTheGatewayIsAnsweredAndTheSenderLearned) {
    send(kLan, padded(ether(kBroadcastMac, kNewHostMac, kEtherArp,
                            arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, kLanIp))));
    EXPECT_EQ(worker_counters().punted, 1u) << "ARP goes to the control thread";
    EXPECT_TRUE(sent(kLan).empty()) << "the worker answers nothing itself";

    EXPECT_EQ(poll_control(at(0)), 1u);
    const auto replies = sent(kLan, kControlSlot);
    ASSERT_EQ(replies.size(), 1u);
    // Padding trimmed; every field as RFC 826 swaps them.
    EXPECT_EQ(replies[0],
              ether(kNewHostMac, kLanMac, kEtherArp, arp(kArpReply, kLanMac, kLanIp, kNewHostMac, kNewHost)))
        << hex(replies[0]);
    const auto c = control_counters();
    expect_no_drops(c);
    EXPECT_EQ(c.tx_packets, 1u);

    // The requester was learned: traffic to it needs no resolution.
    const Bytes in = from_wan4(kNewHost);
    send(kWan, in);
    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], after_one_hop(in, kNewHostMac, kLanMac));
    EXPECT_EQ(worker_counters().punted, 1u) << "no new punt";
    expect_no_drops(worker_counters());
}

TEST_F(SlowPathTest, NewMacIsSeenByAWorkerThatCachedTheNeighbor) {
    // Learn 10.0.0.3, forward to it (the worker caches the entry), then the
    // host changes its MAC and says so in an ARP request to the gateway.
    send(kLan, padded(ether(kBroadcastMac, kNewHostMac, kEtherArp,
                            arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, kLanIp))));
    poll_control(at(0));
    ASSERT_EQ(sent(kLan, kControlSlot).size(), 1u);
    send(kWan, from_wan4(kNewHost, 1));
    auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(get_mac(out[0], 0), kNewHostMac);

    const Mac new_mac = mac("02:00:00:00:0a:33");
    send(kLan, padded(ether(kBroadcastMac, new_mac, kEtherArp, arp(kArpRequest, new_mac, kNewHost, kZeroMac, kLanIp))));
    poll_control(at(0.001));
    ASSERT_EQ(sent(kLan, kControlSlot).size(), 1u);
    send(kWan, from_wan4(kNewHost, 2));
    out = sent(kLan);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(get_mac(out[0], 0), new_mac) << "the cache holds the entry, not a copy of its MAC";
}

TEST_F(SlowPathTest, ArpRequestForAnotherAddressIsNotAnswered) {
    send(kLan, padded(ether(kBroadcastMac, kNewHostMac, kEtherArp,
                            arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, ip4("10.0.0.99")))));
    poll_control(at(0));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty());
    expect_only_drops(control_counters(), DropReason::arp_not_for_us);

    // Nor was the sender learned (RFC 826: create only when the request is for us).
    send(kWan, from_wan4(kNewHost));
    EXPECT_TRUE(sent(kLan).empty());
    EXPECT_EQ(worker_counters().punted, 2u);
    poll_control(at(0.01));
    EXPECT_EQ(sent(kLan, kControlSlot).size(), 1u) << "the gateway asks for 10.0.0.3 itself";
}

TEST_F(SlowPathTest, ArpRequestForTheWanAddressOnTheLanIsNotAnswered) {
    send(kLan, padded(ether(kBroadcastMac, kNewHostMac, kEtherArp,
                            arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, kWanIp))));
    poll_control(at(0));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty());
    expect_only_drops(control_counters(), DropReason::arp_not_for_us);
}

TEST_F(SlowPathTest, GratuitousArpIsConsumedSilently) {
    send(kLan, padded(ether(kBroadcastMac, kNewHostMac, kEtherArp,
                            arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, kNewHost))));
    poll_control(at(0));
    expect_no_drops(control_counters());
}

struct ArpCase {
    std::string description;
    Bytes frame;
};
void PrintTo(const ArpCase& c, std::ostream* os) {
    *os << c.description;
}

class MalformedArp : public DataplaneTest, public ::testing::WithParamInterface<ArpCase> {};

TEST_P(MalformedArp, IsDroppedAsArpMalformed) {
    send(kLan, GetParam().frame);
    EXPECT_EQ(worker_counters().punted, 1u);
    poll_control(rte_rdtsc());
    EXPECT_TRUE(sent(kLan, kControlSlot).empty());
    const auto c = control_counters();
    expect_only_drops(c, DropReason::arp_malformed);
    expect_no_drops(worker_counters());
}

std::vector<ArpCase> malformed_arp_cases() {
    const Bytes good = arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, kLanIp);
    auto edited = [&](std::size_t off, uint8_t value) {
        Bytes b = good;
        b[off] = value;
        return padded(ether(kBroadcastMac, kNewHostMac, kEtherArp, b));
    };
    return {
        {"hardware_length_8", padded(ether(kBroadcastMac, kNewHostMac, kEtherArp,
                                           arp(kArpRequest, kNewHostMac, kNewHost, kZeroMac, kLanIp, 8)))},
        {"protocol_length_16", edited(5, 16)},
        {"hardware_type_ieee802", edited(1, 6)},
        {"protocol_type_ipv6",
         [&] {
             Bytes b = good;
             b[2] = 0x86;
             b[3] = 0xdd;
             return padded(ether(kBroadcastMac, kNewHostMac, kEtherArp, b));
         }()},
        {"truncated_to_20_bytes", ether(kBroadcastMac, kNewHostMac, kEtherArp, std::span(good).first(20))},
    };
}

INSTANTIATE_TEST_SUITE_P(Packets, MalformedArp, ::testing::ValuesIn(malformed_arp_cases()),
                         [](const auto& info) { return info.param.description; });

// ---- IPv4 next-hop resolution -----------------------------------------------

TEST_F(SlowPathTest, UnresolvedHostIsAskedForAndItsPacketsReleasedByTheReply) {
    const Bytes first = from_wan4(kQuietHost, 1);
    send(kWan, first);
    EXPECT_TRUE(sent(kLan).empty()) << "no MAC yet";
    auto w = worker_counters();
    EXPECT_EQ(w.punted, 1u);
    expect_no_drops(w);

    poll_control(at(0));
    auto requests = sent(kLan, kControlSlot);
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0], arp_request_from_gateway(kQuietHost)) << hex(requests[0]);

    // The answer comes through the worker like any ARP.
    send(kLan, arp_reply_to_gateway(kQuietHostMac, kQuietHost));
    poll_control(at(0.001));
    const auto released = sent(kLan, kControlSlot);
    ASSERT_EQ(released.size(), 1u) << "the held packet leaves once resolved";
    EXPECT_EQ(released[0], after_one_hop(first, kQuietHostMac, kLanMac)) << "TTL decremented once, new MACs";

    // From now on the worker forwards without the slow path.
    const Bytes second = from_wan4(kQuietHost, 2);
    send(kWan, second);
    const auto direct = sent(kLan);
    ASSERT_EQ(direct.size(), 1u);
    EXPECT_EQ(direct[0], after_one_hop(second, kQuietHostMac, kLanMac));
    w = worker_counters();
    EXPECT_EQ(w.punted, 2u) << "the data packet and the ARP reply";
    expect_no_drops(w);
    expect_no_drops(control_counters());
}

TEST_F(SlowPathTest, NoAnswerAfterThreeProbesDropsTheHeldPackets) {
    send(kWan, {from_wan4(kQuietHost, 1), from_wan4(kQuietHost, 2)});
    poll_control(at(0));
    ASSERT_EQ(sent(kLan, kControlSlot).size(), 1u) << "one probe for two packets";

    poll_control(at(0.5));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "not due before a second";
    poll_control(at(1.1));
    auto probes = sent(kLan, kControlSlot);
    ASSERT_EQ(probes.size(), 1u) << "second probe";
    EXPECT_EQ(probes[0], arp_request_from_gateway(kQuietHost));
    poll_control(at(2.2));
    ASSERT_EQ(sent(kLan, kControlSlot).size(), 1u) << "third probe";
    EXPECT_EQ(control_counters().total_drops(), 0u) << "still waiting";

    poll_control(at(3.3));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "no fourth probe";
    expect_only_drops(control_counters(), DropReason::neighbor_unresolved, 2);
    poll_control(at(4.4));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "nothing waits, nothing to ask";

    // A new packet starts a new round of probes.
    send(kWan, from_wan4(kQuietHost, 3));
    poll_control(at(5.0));
    EXPECT_EQ(sent(kLan, kControlSlot).size(), 1u);
}

TEST_F(SlowPathTest, HoldQueueKeepsTheNewestFourPackets) {
    std::vector<Bytes> frames;
    for (uint16_t id = 1; id <= 5; ++id) {
        frames.push_back(from_wan4(kQuietHost, id));
    }
    send(kWan, frames);
    EXPECT_EQ(worker_counters().punted, 5u);
    poll_control(at(0));
    EXPECT_EQ(sent(kLan, kControlSlot).size(), 1u) << "one probe";
    expect_only_drops(control_counters(), DropReason::neighbor_queue_full, 1);

    send(kLan, arp_reply_to_gateway(kQuietHostMac, kQuietHost));
    poll_control(at(0.001));
    const auto released = sent(kLan, kControlSlot);
    ASSERT_EQ(released.size(), 4u);
    for (std::size_t i = 0; i < released.size(); ++i) {
        EXPECT_EQ(released[i], after_one_hop(frames[i + 1], kQuietHostMac, kLanMac))
            << "packet " << i + 2 << ", oldest dropped, order kept";
    }
    expect_only_drops(control_counters(), DropReason::neighbor_queue_full, 1);
}

TEST_F(SlowPathTest, IcmpErrorToAnUnresolvedSenderWaitsForArp) {
    // 10.0.0.60 has no entry: the time-exceeded about its packet needs ARP first.
    const uint32_t sender = ip4("10.0.0.60");
    const Mac sender_mac = mac("02:00:00:00:0a:60");
    send(kLan, ether(kLanMac, sender_mac, kEtherIp4, ipv4_udp({.src = sender, .dst = kServer, .ttl = 1}, 1, 2, {})));
    auto w = worker_counters();
    expect_only_drops(w, DropReason::ttl_exceeded);
    EXPECT_EQ(w.icmp_sent, 1u);
    EXPECT_EQ(w.punted, 1u) << "the ICMP error, for resolution";

    poll_control(at(0));
    ASSERT_EQ(sent(kLan, kControlSlot), std::vector<Bytes>{arp_request_from_gateway(sender)});
    send(kLan, arp_reply_to_gateway(sender_mac, sender));
    poll_control(at(0.001));
    const auto out = sent(kLan, kControlSlot);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(get_mac(out[0], 0), sender_mac);
    EXPECT_EQ(l3(out[0])[kIp4Len], 11) << "time exceeded";
    EXPECT_EQ(get32(l3(out[0]), 16), sender);
    EXPECT_TRUE(ip4_header_ok(out[0]));
    EXPECT_TRUE(icmp4_ok(out[0]));
}

class ViaUnresolvedGateway : public SlowPathTest {
protected:
    TopologyOptions options() const override { return {.extra = "route 100.64.0.0/10 via 10.0.0.254\n"}; }
};

TEST_F(ViaUnresolvedGateway, ArpAsksForTheNextHopNotTheDestination) {
    const Bytes in = from_wan4(ip4("100.64.1.1"));
    send(kWan, in);
    poll_control(at(0));
    ASSERT_EQ(sent(kLan, kControlSlot), std::vector<Bytes>{arp_request_from_gateway(ip4("10.0.0.254"))});
    const Mac gw_mac = mac("02:00:00:00:0a:fe");
    send(kLan, arp_reply_to_gateway(gw_mac, ip4("10.0.0.254")));
    poll_control(at(0.001));
    const auto out = sent(kLan, kControlSlot);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], after_one_hop(in, gw_mac, kLanMac));
}

// ---- Static neighbors -----------------------------------------------------------

TEST_F(SlowPathTest, StaticNeighborIsUsedWithoutArp) {
    const auto* e = dataplane().tables().neighbors->lookup(dp::neighbor_key4(kWan, kServer));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->state, dp::NeighborState::static_entry);

    const Bytes in = ether(kLanMac, kHostMac, kEtherIp4, ipv4_udp({.src = kHost, .dst = kServer}, 1, 2, pattern(4)));
    send(kLan, in);
    const auto out = sent(kWan);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], after_one_hop(in, kServerMac, kWanMac));
    EXPECT_EQ(worker_counters().punted, 0u);
    poll_control(at(0));
    const auto c = control_counters();
    EXPECT_EQ(c.rx_packets, 0u) << "the slow path saw nothing";
    EXPECT_EQ(c.tx_packets, 0u) << "no ARP";
}

TEST_F(SlowPathTest, ArpFromTheWireDoesNotOverrideAStaticNeighbor) {
    const Mac impostor = mac("02:00:00:00:66:66");
    send(kWan, padded(ether(kWanMac, impostor, kEtherArp, arp(kArpReply, impostor, kServer, kWanMac, kWanIp))));
    send(kWan,
         padded(ether(kBroadcastMac, impostor, kEtherArp, arp(kArpRequest, impostor, kServer, kZeroMac, kWanIp))));
    poll_control(at(0));
    const auto replies = sent(kWan, kControlSlot);
    ASSERT_EQ(replies.size(), 1u) << "the request for our address is still answered";

    const Bytes in = ether(kLanMac, kHostMac, kEtherIp4, ipv4_udp({.src = kHost, .dst = kServer}, 1, 2, pattern(4)));
    send(kLan, in);
    const auto out = sent(kWan);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(get_mac(out[0], 0), kServerMac) << "configuration wins over the wire";
}

// ---- IPv6 neighbor discovery ------------------------------------------------------

Bytes ns_to_gateway(const Ip6& src, const Mac& src_mac, std::optional<Mac> slla, bool multicast = true,
                    uint8_t hop_limit = 255) {
    const Ip6 dst = multicast ? solicited_node(kLanIp6) : kLanIp6;
    const Mac dst_mac = multicast ? multicast_mac(dst) : kLanMac;
    return ether(dst_mac, src_mac, kEtherIp6,
                 ipv6_icmp({.src = src, .dst = dst, .hop_limit = hop_limit}, kNdNs, 0, nd_ns_body(kLanIp6, slla)));
}

TEST_F(SlowPathTest, NeighborSolicitationForTheGatewayIsAnswered) {
    send(kLan, ns_to_gateway(kNewHost6, kNewHostMac, kNewHostMac));
    EXPECT_EQ(worker_counters().punted, 1u);
    poll_control(at(0));

    const auto out = sent(kLan, kControlSlot);
    ASSERT_EQ(out.size(), 1u);
    const Bytes expected = ether(kNewHostMac, kLanMac, kEtherIp6,
                                 ipv6_icmp({.src = kLanIp6, .dst = kNewHost6, .hop_limit = 255}, kNdNa, 0,
                                           nd_na_body(kNaRouter | kNaSolicited | kNaOverride, kLanIp6, kLanMac)));
    EXPECT_EQ(out[0], expected) << "NA with R|S|O and our MAC as target link-layer address\n" << hex(out[0]);
    EXPECT_TRUE(l4_6_ok(out[0]));
    EXPECT_TRUE(icmp6_checksum_ok_dpdk(out[0]));
    expect_no_drops(control_counters());

    // The solicitor was learned from its source link-layer address option.
    const Bytes in = from_wan6(kNewHost6);
    send(kWan, in);
    const auto fwd = sent(kLan);
    ASSERT_EQ(fwd.size(), 1u);
    EXPECT_EQ(fwd[0], after_one_hop(in, kNewHostMac, kLanMac));
}

TEST_F(SlowPathTest, UnicastSolicitationWithoutSllaIsAnsweredToTheFrameSource) {
    send(kLan, ns_to_gateway(kNewHost6, kNewHostMac, std::nullopt, /*multicast=*/false));
    poll_control(at(0));
    const auto out = sent(kLan, kControlSlot);
    ASSERT_EQ(out.size(), 1u);
    const Bytes expected = ether(kNewHostMac, kLanMac, kEtherIp6,
                                 ipv6_icmp({.src = kLanIp6, .dst = kNewHost6, .hop_limit = 255}, kNdNa, 0,
                                           nd_na_body(kNaRouter | kNaSolicited | kNaOverride, kLanIp6, kLanMac)));
    EXPECT_EQ(out[0], expected) << "the NA grew by the option the NS lacked\n" << hex(out[0]);
    expect_no_drops(control_counters());
}

TEST_F(SlowPathTest, DuplicateAddressDetectionIsAnsweredToAllNodes) {
    send(kLan, ns_to_gateway(Ip6{}, kNewHostMac, std::nullopt));
    poll_control(at(0));
    const auto out = sent(kLan, kControlSlot);
    ASSERT_EQ(out.size(), 1u);
    const Ip6 all_nodes = ip6("ff02::1");
    const Bytes expected = ether(multicast_mac(all_nodes), kLanMac, kEtherIp6,
                                 ipv6_icmp({.src = kLanIp6, .dst = all_nodes, .hop_limit = 255}, kNdNa, 0,
                                           nd_na_body(kNaRouter | kNaOverride, kLanIp6, kLanMac)));
    EXPECT_EQ(out[0], expected) << "RFC 4861 7.2.4: unsolicited (S=0), to all-nodes\n" << hex(out[0]);
}

TEST_F(SlowPathTest, SolicitationForAnotherAddressIsIgnored) {
    const Ip6 other = ip6("2001:db8:a::99");
    const Ip6 group = solicited_node(other);
    send(kLan, ether(multicast_mac(group), kNewHostMac, kEtherIp6,
                     ipv6_icmp({.src = kNewHost6, .dst = group, .hop_limit = 255}, kNdNs, 0,
                               nd_ns_body(other, kNewHostMac))));
    poll_control(at(0));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty());
    expect_no_drops(control_counters());
}

struct NdCase {
    std::string description;
    Bytes frame;
};
void PrintTo(const NdCase& c, std::ostream* os) {
    *os << c.description;
}

class MalformedNd : public DataplaneTest, public ::testing::WithParamInterface<NdCase> {};

TEST_P(MalformedNd, IsDroppedAsNdMalformed) {
    send(kLan, GetParam().frame);
    EXPECT_EQ(worker_counters().punted, 1u);
    poll_control(rte_rdtsc());
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "no advertisement";
    expect_only_drops(control_counters(), DropReason::nd_malformed);
}

std::vector<NdCase> malformed_nd_cases() {
    const Ip6 group = solicited_node(kLanIp6);
    auto ns = [&](uint8_t hop_limit, uint8_t code, const Bytes& body) {
        return ether(multicast_mac(group), kNewHostMac, kEtherIp6,
                     ipv6_icmp({.src = kNewHost6, .dst = group, .hop_limit = hop_limit}, kNdNs, code, body));
    };
    const Bytes body = nd_ns_body(kLanIp6, kNewHostMac);
    return {
        {"hop_limit_64", ns(64, 0, body)},
        {"code_1", ns(255, 1, body)},
        {"bad_checksum",
         [&] {
             Bytes b = ns(255, 0, body);
             b[kEthLen + kIp6Len + 2] ^= 0x40;
             return b;
         }()},
        {"shorter_than_a_solicitation", ns(255, 0, Bytes(body.begin(), body.begin() + 16))},
        {"option_length_0",
         [&] {
             Bytes b = body;
             b[21] = 0;  // the option's length byte
             return ns(255, 0, b);
         }()},
        {"multicast_target", ns(255, 0, nd_ns_body(ip6("ff02::1"), kNewHostMac))},
    };
}

INSTANTIATE_TEST_SUITE_P(Packets, MalformedNd, ::testing::ValuesIn(malformed_nd_cases()),
                         [](const auto& info) { return info.param.description; });

// Regression (dataplane/slowpath.cc, handle_nd): the checks announced as "RFC 4861 7.1.1 / 7.1.2
// validity checks" miss two MUSTs: a solicitation from the unspecified address carries no source
// link-layer address option (7.1.1), and an advertisement sent to a multicast address has S = 0
// (7.1.2). Both are acted on instead of being dropped as nd-malformed.
TEST_F(SlowPathTest, DadSolicitationWithSllaIsInvalid) {
    send(kLan, ns_to_gateway(Ip6{}, kNewHostMac, kNewHostMac));
    poll_control(at(0));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "no advertisement";
    expect_only_drops(control_counters(), DropReason::nd_malformed);
}

// Regression: see DadSolicitationWithSllaIsInvalid. Here the invalid advertisement resolves a
// neighbor and releases the packet waiting for it.
TEST_F(SlowPathTest, SolicitedAdvertisementToAMulticastAddressIsInvalid) {
    send(kWan, from_wan6(kQuietHost6));
    poll_control(at(0));
    ASSERT_EQ(sent(kLan, kControlSlot).size(), 1u) << "NS";
    const Ip6 all_nodes = ip6("ff02::1");
    send(kLan, ether(multicast_mac(all_nodes), kQuietHostMac, kEtherIp6,
                     ipv6_icmp({.src = kQuietHost6, .dst = all_nodes, .hop_limit = 255}, kNdNa, 0,
                               nd_na_body(kNaSolicited | kNaOverride, kQuietHost6, kQuietHostMac))));
    poll_control(at(0.001));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "the held packet must keep waiting";
    expect_only_drops(control_counters(), DropReason::nd_malformed);
}

TEST_F(SlowPathTest, UnresolvedV6HostIsSolicitedAndReleasedByTheAdvertisement) {
    const Bytes in = from_wan6(kQuietHost6);
    send(kWan, in);
    EXPECT_EQ(worker_counters().punted, 1u);
    poll_control(at(0));
    const auto ns = sent(kLan, kControlSlot);
    ASSERT_EQ(ns.size(), 1u);
    EXPECT_EQ(ns[0], ns_from_gateway(kQuietHost6)) << "NS to the solicited-node group with our SLLA\n" << hex(ns[0]);
    EXPECT_TRUE(icmp6_checksum_ok_dpdk(ns[0]));

    // The solicited advertisement, unicast back to the gateway's address.
    send(kLan, ether(kLanMac, kQuietHostMac, kEtherIp6,
                     ipv6_icmp({.src = kQuietHost6, .dst = kLanIp6, .hop_limit = 255}, kNdNa, 0,
                               nd_na_body(kNaSolicited | kNaOverride, kQuietHost6, kQuietHostMac))));
    poll_control(at(0.001));
    const auto released = sent(kLan, kControlSlot);
    ASSERT_EQ(released.size(), 1u);
    EXPECT_EQ(released[0], after_one_hop(in, kQuietHostMac, kLanMac)) << "hop limit decremented once, new MACs";
    expect_no_drops(control_counters());
    expect_no_drops(worker_counters());
}

TEST_F(SlowPathTest, V6NoAnswerDropsTheHeldPacket) {
    send(kWan, from_wan6(kQuietHost6));
    for (double t : {0.0, 1.1, 2.2}) {
        poll_control(at(t));
        ASSERT_EQ(sent(kLan, kControlSlot), std::vector<Bytes>{ns_from_gateway(kQuietHost6)}) << "probe at " << t;
    }
    poll_control(at(3.3));
    EXPECT_TRUE(sent(kLan, kControlSlot).empty());
    expect_only_drops(control_counters(), DropReason::neighbor_unresolved, 1);
}

}  // namespace
}  // namespace gw::test
