// The forwarding stage end to end on ring ports (forward.cc, icmp.cc via the
// worker): packet tables of {description, input frame, expected verdict,
// checks on the output}, then echo, ICMP rate limiting and bursts.
//
// Every case asserts the worker's counters as well as what left which port,
// and the fixture fails any case that leaves an unexpected frame or an mbuf.

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/dataplane/dataplane_fixture.h"

namespace gw::test {
namespace {

using dp::DropReason;

// ---- Inputs -----------------------------------------------------------------

// Who sends test traffic on each port: its MAC is the frames' source and the
// destination of anything the gateway sends back to it.
Mac sender_mac(uint16_t port) {
    switch (port) {
        case kLan:
            return kHostMac;
        case kWan:
            return kRouterMac;
        default:
            return kDmzHostMac;
    }
}
uint32_t gateway_ip4(uint16_t port) {
    return port == kLan ? kLanIp : port == kWan ? kWanIp : kDmzIp;
}
Ip6 gateway_ip6(uint16_t port) {
    return port == kLan ? kLanIp6 : port == kWan ? kWanIp6 : kDmzIp6;
}

enum class L2 : uint8_t {
    to_gateway,     // unicast to the ingress port's MAC
    to_other_host,  // unicast to some other station's MAC
    broadcast,      // ff:ff:ff:ff:ff:ff
    raw,            // `bytes` is the whole frame
};

struct Input {
    uint16_t port = kLan;
    L2 l2 = L2::to_gateway;
    uint16_t ethertype = kEtherIp4;
    Bytes bytes{};  // the L3 packet, Ethernet padding included; or the frame for L2::raw
};

Bytes frame_of(const Input& in) {
    switch (in.l2) {
        case L2::to_gateway:
            return ether(port_mac(in.port), sender_mac(in.port), in.ethertype, in.bytes);
        case L2::to_other_host:
            return ether(mac("02:00:00:00:99:99"), sender_mac(in.port), in.ethertype, in.bytes);
        case L2::broadcast:
            return ether(kBroadcastMac, sender_mac(in.port), in.ethertype, in.bytes);
        case L2::raw:
            return in.bytes;
    }
    return {};
}

// The L3 packet without Ethernet padding: what the gateway must forward or quote.
std::span<const uint8_t> datagram(const Input& in) {
    const std::span<const uint8_t> b = in.bytes;
    if (in.ethertype == kEtherIp4) {
        return b.first(get16(b, 2));
    }
    return b.first(kIp6Len + get16(b, 4));
}

Bytes udp4(Ip4Fields f, std::size_t n = 32) {
    return ipv4_udp(std::move(f), 40000, 53, pattern(n));
}
Bytes udp6(Ip6Fields f, std::size_t n = 32) {
    return ipv6_udp(f, 40000, 53, pattern(n));
}
// UDP with the total IP length given (header included).
Bytes udp4_len(Ip4Fields f, std::size_t total) {
    return udp4(std::move(f), total - kIp4Len - 8);
}
Bytes udp6_len(Ip6Fields f, std::size_t total) {
    return udp6(f, total - kIp6Len - 8);
}

Bytes with_padding(Bytes b, std::size_t n) {
    b.resize(b.size() + n, 0);
    return b;
}

// Applies `f` to a copy of an IPv4 packet and recomputes its header checksum.
Bytes mangle4(Bytes b, const std::function<void(Bytes&)>& f) {
    f(b);
    const std::size_t hlen = std::max<std::size_t>(kIp4Len, (b[0] & 0x0f) * 4u);
    set16(b, 10, 0);
    set16(b, 10, checksum(std::span(b).first(std::min(hlen, b.size()))));
    return b;
}

// ---- Checks on what the gateway sent ------------------------------------

struct IcmpError {
    uint8_t type = 0;
    uint8_t code = 0;
    uint32_t mtu = 0;  // 3/4 next-hop MTU, ICMPv6 packet-too-big MTU
};

// RFC 1812 4.3.2.3 (576 bytes) and RFC 4443 2.4(c) (1280 bytes) bound ICMP errors.
constexpr std::size_t kIcmp4Max = 576;
constexpr std::size_t kIcmp6Max = 1280;

void expect_icmp4_error(std::span<const uint8_t> out, uint16_t in_port, std::span<const uint8_t> offender,
                        const IcmpError& want) {
    ASSERT_GE(out.size(), kEthLen + kIp4Len + 8) << hex(out);
    EXPECT_EQ(get_mac(out, 0), sender_mac(in_port)) << "back to the sender's next hop";
    EXPECT_EQ(get_mac(out, 6), port_mac(in_port));
    EXPECT_EQ(get16(out, 12), kEtherIp4);
    const auto ip = l3(out);
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(get16(ip, 2), ip.size()) << "frame carries exactly the datagram";
    EXPECT_LE(ip.size(), kIcmp4Max);
    EXPECT_GT(ip[8], 1) << "TTL";
    EXPECT_EQ(ip[9], kProtoIcmp);
    EXPECT_EQ(get16(ip, 6) & 0x1fff, 0) << "not a fragment";
    EXPECT_EQ(get32(ip, 12), gateway_ip4(in_port)) << "sourced from the ingress port's address";
    EXPECT_EQ(get32(ip, 16), get32(offender, 12)) << "addressed to the offender's source";
    EXPECT_TRUE(ip4_header_ok(out)) << "IPv4 header checksum";
    EXPECT_TRUE(icmp4_ok(out)) << "ICMP checksum";
    const auto icmp = ip.subspan(kIp4Len);
    EXPECT_EQ(icmp[0], want.type);
    EXPECT_EQ(icmp[1], want.code);
    EXPECT_EQ(get32(icmp, 4), want.mtu) << "unused, or next-hop MTU in the low 16 bits";
    const std::size_t quote = std::min(offender.size(), kIcmp4Max - kIp4Len - 8);
    ASSERT_EQ(icmp.size() - 8, quote) << "quotes as much of the offender as fits in 576 bytes";
    EXPECT_TRUE(std::ranges::equal(icmp.subspan(8), offender.first(quote))) << "quote is the offender as received";
}

void expect_icmp6_error(std::span<const uint8_t> out, uint16_t in_port, std::span<const uint8_t> offender,
                        const IcmpError& want) {
    ASSERT_GE(out.size(), kEthLen + kIp6Len + 8) << hex(out);
    EXPECT_EQ(get_mac(out, 0), sender_mac(in_port));
    EXPECT_EQ(get_mac(out, 6), port_mac(in_port));
    EXPECT_EQ(get16(out, 12), kEtherIp6);
    const auto ip = l3(out);
    EXPECT_EQ(ip[0] >> 4, 6);
    EXPECT_EQ(get16(ip, 4), ip.size() - kIp6Len) << "payload length";
    EXPECT_LE(ip.size(), kIcmp6Max);
    EXPECT_EQ(ip[6], kProtoIcmp6);
    EXPECT_GT(ip[7], 1) << "hop limit";
    EXPECT_EQ(get_ip6(ip, 8), gateway_ip6(in_port)) << "sourced from the ingress port's address";
    EXPECT_EQ(get_ip6(ip, 24), get_ip6(offender, 8)) << "addressed to the offender's source";
    EXPECT_TRUE(l4_6_ok(out)) << "ICMPv6 checksum (independent)";
    EXPECT_EQ(rte_ipv6_udptcp_cksum_verify(reinterpret_cast<const rte_ipv6_hdr*>(ip.data()), ip.data() + kIp6Len), 0)
        << "ICMPv6 checksum (DPDK)";
    const auto icmp = ip.subspan(kIp6Len);
    EXPECT_EQ(icmp[0], want.type);
    EXPECT_EQ(icmp[1], want.code);
    EXPECT_EQ(get32(icmp, 4), want.mtu) << "unused, or the packet-too-big MTU";
    const std::size_t quote = std::min(offender.size(), kIcmp6Max - kIp6Len - 8);
    ASSERT_EQ(icmp.size() - 8, quote) << "quotes as much of the offender as fits in 1280 bytes";
    EXPECT_TRUE(std::ranges::equal(icmp.subspan(8), offender.first(quote))) << "quote is the offender as received";
}

// A forwarded packet is the received one with TTL / hop limit one less (and
// the IPv4 header checksum updated), nothing else changed, padding gone.
void expect_forwarded(std::span<const uint8_t> out, const Input& in, uint16_t out_port, const Mac& next_hop) {
    ASSERT_GE(out.size(), kEthLen) << hex(out);
    EXPECT_EQ(get_mac(out, 0), next_hop) << "destination MAC is the next hop's";
    EXPECT_EQ(get_mac(out, 6), port_mac(out_port)) << "source MAC is the egress port's";
    EXPECT_EQ(get16(out, 12), in.ethertype);
    const auto sent = l3(out);
    const auto received = datagram(in);
    ASSERT_EQ(sent.size(), received.size()) << "length (Ethernet padding trimmed)";
    Bytes expected(received.begin(), received.end());
    Bytes actual(sent.begin(), sent.end());
    if (in.ethertype == kEtherIp4) {
        EXPECT_EQ(actual[8], expected[8] - 1) << "TTL decremented";
        EXPECT_TRUE(ip4_header_ok(out)) << "IPv4 header checksum";
        expected[8] = actual[8];
        expected[10] = actual[10];  // checksum: verified above
        expected[11] = actual[11];
    } else {
        EXPECT_EQ(actual[7], expected[7] - 1) << "hop limit decremented";
        expected[7] = actual[7];
    }
    EXPECT_EQ(actual, expected) << "header fields and payload unchanged\nsent:\n"
                                << hex(actual) << "\nreceived:\n"
                                << hex(expected);
}

std::string test_name(std::string_view description) {
    std::string s;
    for (char c : description) {
        s += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
    }
    return s;
}

// ---- Forwarding table -------------------------------------------------------

struct ForwardCase {
    std::string description;
    Input in;
    uint16_t out_port = kWan;
    Mac next_hop{};
};
void PrintTo(const ForwardCase& c, std::ostream* os) {
    *os << c.description;
}

std::vector<ForwardCase> forward_cases() {
    const Ip4Fields h4{.src = kHost};
    const Ip6Fields h6{.src = kHost6};
    auto to4 = [&](uint32_t dst) {
        Ip4Fields f = h4;
        f.dst = dst;
        return f;
    };
    auto to6 = [&](const Ip6& dst) {
        Ip6Fields f = h6;
        f.dst = dst;
        return f;
    };
    return {
        {"v4 static route, resolved gateway", {.bytes = udp4(to4(ip4("198.51.100.7")))}, kWan, kRouterMac},
        {"v4 shorter prefix when the longer does not match",
         {.bytes = udp4(to4(ip4("198.51.7.7")))},
         kWan,
         kRouter2Mac},
        {"v4 on-link destination in a connected subnet", {.bytes = udp4(to4(kServer))}, kWan, kServerMac},
        {"v4 wan to a lan host",
         {.port = kWan, .bytes = udp4({.src = ip4("198.51.100.7"), .dst = kHost})},
         kLan,
         kHostMac},
        {"v4 ttl 2 leaves with ttl 1",
         {.bytes = udp4([&] {
              auto f = to4(kServer);
              f.ttl = 2;
              return f;
          }())},
         kWan,
         kServerMac},
        {"v4 with header options, IHL 6",
         {.bytes = udp4([&] {
              auto f = to4(kServer);
              f.options = {1, 1, 1, 0};  // NOP NOP NOP EOL
              return f;
          }())},
         kWan,
         kServerMac},
        {"v4 28 byte packet in a 60 byte frame, padding trimmed",
         {.bytes = with_padding(udp4(to4(kServer), 0), 60 - kEthLen - 28)},
         kWan,
         kServerMac},
        {"v4 DF packet exactly at the egress MTU",
         {.bytes = udp4_len(
              [&] {
                  auto f = to4(kDmzHost);
                  f.df = true;
                  return f;
              }(),
              kDmzMtu)},
         kDmz,
         kDmzHostMac},
        {"v4 echo request through the gateway",
         {.bytes = ipv4_icmp(to4(kServer), 8, 0, 0x12340001, pattern(24))},
         kWan,
         kServerMac},
        {"v4 dmz to the internet via the wan gateway",
         {.port = kDmz, .bytes = udp4({.src = kDmzHost, .dst = ip4("198.51.100.1")})},
         kWan,
         kRouterMac},
        {"v6 static route, resolved gateway",
         {.ethertype = kEtherIp6, .bytes = udp6(to6(ip6("2001:db8:100::7")))},
         kWan,
         kRouterMac},
        {"v6 longer prefix wins",
         {.ethertype = kEtherIp6, .bytes = udp6(to6(ip6("2001:db8:100:1::7")))},
         kWan,
         kRouter2Mac},
        {"v6 on-link destination in a connected subnet",
         {.ethertype = kEtherIp6, .bytes = udp6(to6(kServer6))},
         kWan,
         kServerMac},
        {"v6 wan to a lan host",
         {.port = kWan, .ethertype = kEtherIp6, .bytes = udp6({.src = ip6("2001:db8:100::7"), .dst = kHost6})},
         kLan,
         kHostMac},
        {"v6 hop limit 2 leaves with 1",
         {.ethertype = kEtherIp6, .bytes = udp6([&] {
                                      auto f = to6(kServer6);
                                      f.hop_limit = 2;
                                      return f;
                                  }())},
         kWan,
         kServerMac},
        {"v6 packet exactly at the egress MTU",
         {.ethertype = kEtherIp6, .bytes = udp6_len(to6(kDmzHost6), kDmzMtu)},
         kDmz,
         kDmzHostMac},
        {"v6 54 byte frame padded to 60, padding trimmed",
         {.ethertype = kEtherIp6,
          .bytes = with_padding(
              [&] {
                  auto f = to6(kServer6);
                  f.next = kProtoNone6;
                  return ipv6(f, {});
              }(),
              6)},
         kWan,
         kServerMac},
    };
}

class ForwardTable : public DataplaneTest, public ::testing::WithParamInterface<ForwardCase> {};

TEST_P(ForwardTable, ForwardsToTheNextHop) {
    const ForwardCase& c = GetParam();
    send(c.in.port, frame_of(c.in));

    const auto out = sent(c.out_port);
    ASSERT_EQ(out.size(), 1u) << "one frame on the egress port";
    expect_forwarded(out[0], c.in, c.out_port, c.next_hop);

    const auto w = worker_counters();
    expect_no_drops(w);
    EXPECT_EQ(w.rx_packets, 1u);
    EXPECT_EQ(w.tx_packets, 1u);
    EXPECT_EQ(w.tx_bytes, out[0].size());
    EXPECT_EQ(w.punted, 0u) << "static neighbor: no resolution";
    EXPECT_EQ(w.icmp_sent, 0u);
}

INSTANTIATE_TEST_SUITE_P(Packets, ForwardTable, ::testing::ValuesIn(forward_cases()),
                         [](const auto& info) { return test_name(info.param.description); });

// ---- Drop table -------------------------------------------------------------

struct DropCase {
    std::string description;
    Input in;
    DropReason reason = DropReason::count;
    std::optional<IcmpError> icmp{};  // the error sent back to the sender, if any
};
void PrintTo(const DropCase& c, std::ostream* os) {
    *os << c.description;
}

std::vector<DropCase> drop_cases() {
    const Ip4Fields h4{.src = kHost, .dst = kServer};
    const Ip6Fields h6{.src = kHost6, .dst = kServer6};
    auto v4 = [&](auto edit) {
        Ip4Fields f = h4;
        edit(f);
        return f;
    };
    auto v6 = [&](auto edit) {
        Ip6Fields f = h6;
        edit(f);
        return f;
    };
    const Bytes good4 = udp4(h4);
    const Bytes good6 = udp6(h6);
    const Bytes big_df = udp4_len(v4([](auto& f) {
                                      f.dst = kDmzHost;
                                      f.df = true;
                                  }),
                                  1500);
    const Bytes echo4 = ipv4_icmp(v4([](auto& f) { f.ttl = 1; }), 8, 0, 0x00010001, pattern(16));
    // An ICMP port-unreachable quoting some datagram: itself an error.
    const Bytes error4 = ipv4_icmp(v4([](auto& f) { f.ttl = 1; }), 3, 3, 0, std::span(good4).first(28));
    const Bytes error6 = ipv6_icmp(v6([](auto& f) { f.hop_limit = 1; }), 1, 4, std::span(good6).first(48));
    const Bytes echo6 =
        ipv6_icmp(v6([](auto& f) { f.hop_limit = 1; }), kIcmp6EchoRequest, 0, Bytes{0, 1, 0, 1, 'p', 'i', 'n', 'g'});

    return {
        // Ethernet
        {"empty frame", {.l2 = L2::raw, .bytes = {}}, DropReason::l2_truncated},
        {"13 byte runt", {.l2 = L2::raw, .bytes = pattern(13)}, DropReason::l2_truncated},
        {"unicast to another MAC", {.l2 = L2::to_other_host, .bytes = good4}, DropReason::l2_other_host},
        {"unknown ethertype LLDP", {.ethertype = 0x88cc, .bytes = pattern(46)}, DropReason::l2_unsupported_ethertype},
        {"802.1Q tagged frame", {.ethertype = 0x8100, .bytes = pattern(46)}, DropReason::l2_unsupported_ethertype},
        // IPv4 header validation
        {"v4 shorter than a header", {.bytes = Bytes(good4.begin(), good4.begin() + 19)}, DropReason::ip4_truncated},
        {"v4 version 6 under the IPv4 ethertype",
         {.bytes = mangle4(good4, [](Bytes& b) { b[0] = 0x65; })},
         DropReason::ip4_bad_header},
        {"v4 IHL 4", {.bytes = mangle4(good4, [](Bytes& b) { b[0] = 0x44; })}, DropReason::ip4_bad_header},
        {"v4 IHL 0", {.bytes = mangle4(good4, [](Bytes& b) { b[0] = 0x40; })}, DropReason::ip4_bad_header},
        {"v4 IHL 15 beyond the frame",
         {.bytes = mangle4(udp4(h4, 4), [](Bytes& b) { b[0] = 0x4f; })},
         DropReason::ip4_truncated},
        {"v4 bad header checksum",
         {.bytes =
              [&] {
                  Bytes b = good4;
                  b[10] ^= 0x01;
                  return b;
              }()},
         DropReason::ip4_bad_checksum},
        {"v4 total length beyond the frame",
         {.bytes = mangle4(good4, [](Bytes& b) { set16(b, 2, static_cast<uint16_t>(b.size() + 1)); })},
         DropReason::ip4_truncated},
        {"v4 total length shorter than the header",
         {.bytes = mangle4(good4, [](Bytes& b) { set16(b, 2, 19); })},
         DropReason::ip4_truncated},
        // IPv4 addresses
        {"v4 multicast source",
         {.bytes = udp4(v4([](auto& f) { f.src = ip4("224.0.0.5"); }))},
         DropReason::ip4_martian_source},
        {"v4 loopback source",
         {.bytes = udp4(v4([](auto& f) { f.src = ip4("127.0.0.1"); }))},
         DropReason::ip4_martian_source},
        {"v4 source 0.0.0.0", {.bytes = udp4(v4([](auto& f) { f.src = 0; }))}, DropReason::ip4_martian_source},
        {"v4 broadcast source",
         {.bytes = udp4(v4([](auto& f) { f.src = ip4("255.255.255.255"); }))},
         DropReason::ip4_martian_source},
        {"v4 class E source",
         {.bytes = udp4(v4([](auto& f) { f.src = ip4("240.0.0.1"); }))},
         DropReason::ip4_martian_source},
        {"v4 multicast destination",
         {.bytes = udp4(v4([](auto& f) { f.dst = ip4("239.1.1.1"); }))},
         DropReason::ip4_not_forwarded},
        {"v4 limited broadcast destination",
         {.l2 = L2::broadcast, .bytes = udp4(v4([](auto& f) { f.dst = ip4("255.255.255.255"); }))},
         DropReason::ip4_not_forwarded},
        // IPv4 routing
        {"v4 no route, net unreachable sent",
         {.bytes = udp4(v4([](auto& f) { f.dst = ip4("8.8.8.8"); }))},
         DropReason::no_route,
         IcmpError{3, 0}},
        {"v4 blackhole route, silent",
         {.bytes = udp4(v4([](auto& f) { f.dst = ip4("203.0.113.5"); }))},
         DropReason::blackhole},
        {"v4 blackhole checked before ttl",
         {.bytes = udp4(v4([](auto& f) {
              f.dst = ip4("203.0.113.5");
              f.ttl = 1;
          }))},
         DropReason::blackhole},
        {"v4 ttl 1, time exceeded sent",
         {.bytes = udp4(v4([](auto& f) { f.ttl = 1; }))},
         DropReason::ttl_exceeded,
         IcmpError{11, 0}},
        {"v4 ttl 0, time exceeded sent",
         {.bytes = udp4(v4([](auto& f) { f.ttl = 0; }))},
         DropReason::ttl_exceeded,
         IcmpError{11, 0}},
        {"v4 ttl 1 from wan, error from the wan address",
         {.port = kWan, .bytes = udp4({.src = ip4("198.51.100.7"), .dst = kHost, .ttl = 1})},
         DropReason::ttl_exceeded,
         IcmpError{11, 0}},
        {"v4 ttl 1 echo request, error sent", {.bytes = echo4}, DropReason::ttl_exceeded, IcmpError{11, 0}},
        {"v4 ttl 1 ICMP error, no error about an error", {.bytes = error4}, DropReason::ttl_exceeded},
        {"v4 ttl 1 non initial fragment, no error",
         {.bytes = udp4(v4([](auto& f) {
              f.ttl = 1;
              f.frag_offset = 185;
          }))},
         DropReason::ttl_exceeded},
        {"v4 DF one byte over the egress MTU, frag needed sent",
         {.bytes = udp4_len(v4([](auto& f) {
                                f.dst = kDmzHost;
                                f.df = true;
                            }),
                            kDmzMtu + 1)},
         DropReason::mtu_exceeded,
         IcmpError{3, 4, kDmzMtu}},
        {"v4 DF 1500 bytes over the egress MTU, quote capped at 576",
         {.bytes = big_df},
         DropReason::mtu_exceeded,
         IcmpError{3, 4, kDmzMtu}},
        {"v4 UDP to the gateway", {.bytes = udp4(v4([](auto& f) { f.dst = kLanIp; }))}, DropReason::local_unsupported},
        {"v4 ICMP timestamp request to the gateway",
         {.bytes = ipv4_icmp(v4([](auto& f) { f.dst = kLanIp; }), 13, 0, 0, pattern(12))},
         DropReason::local_unsupported},
        // IPv6 header validation
        {"v6 shorter than a header",
         {.ethertype = kEtherIp6, .bytes = Bytes(good6.begin(), good6.begin() + 39)},
         DropReason::ip6_truncated},
        {"v6 payload length beyond the frame",
         {.ethertype = kEtherIp6,
          .bytes =
              [&] {
                  Bytes b = good6;
                  set16(b, 4, static_cast<uint16_t>(get16(b, 4) + 1));
                  return b;
              }()},
         DropReason::ip6_truncated},
        {"v6 version 4 under the IPv6 ethertype",
         {.ethertype = kEtherIp6,
          .bytes =
              [&] {
                  Bytes b = good6;
                  b[0] = 0x40;
                  return b;
              }()},
         DropReason::ip6_bad_header},
        // IPv6 addresses
        {"v6 link-local destination",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.dst = ip6("fe80::5"); }))},
         DropReason::ip6_not_forwarded},
        {"v6 link-local source",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.src = ip6("fe80::2"); }))},
         DropReason::ip6_not_forwarded},
        {"v6 multicast destination, not ND",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.dst = ip6("ff0e::1"); }))},
         DropReason::ip6_not_forwarded},
        {"v6 loopback source",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.src = ip6("::1"); }))},
         DropReason::ip6_martian_source},
        {"v6 unspecified source",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.src = Ip6{}; }))},
         DropReason::ip6_martian_source},
        {"v6 multicast source",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.src = ip6("ff02::1"); }))},
         DropReason::ip6_martian_source},
        // IPv6 routing
        {"v6 no route, unreachable sent",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.dst = ip6("2001:db8:ffff::1"); }))},
         DropReason::no_route,
         IcmpError{1, 0}},
        {"v6 blackhole route, silent",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.dst = ip6("2001:db8:dead::1"); }))},
         DropReason::blackhole},
        {"v6 hop limit 1, time exceeded sent",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.hop_limit = 1; }))},
         DropReason::ttl_exceeded,
         IcmpError{3, 0}},
        {"v6 hop limit 0, time exceeded sent",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.hop_limit = 0; }))},
         DropReason::ttl_exceeded,
         IcmpError{3, 0}},
        {"v6 hop limit 1 from wan, error from the wan address",
         {.port = kWan,
          .ethertype = kEtherIp6,
          .bytes = udp6({.src = ip6("2001:db8:100::7"), .dst = kHost6, .hop_limit = 1})},
         DropReason::ttl_exceeded,
         IcmpError{3, 0}},
        {"v6 hop limit 1 echo request, error sent",
         {.ethertype = kEtherIp6, .bytes = echo6},
         DropReason::ttl_exceeded,
         IcmpError{3, 0}},
        {"v6 hop limit 1 ICMPv6 error, no error about an error",
         {.ethertype = kEtherIp6, .bytes = error6},
         DropReason::ttl_exceeded},
        {"v6 one byte over the egress MTU, packet too big sent",
         {.ethertype = kEtherIp6, .bytes = udp6_len(v6([](auto& f) { f.dst = kDmzHost6; }), kDmzMtu + 1)},
         DropReason::mtu_exceeded,
         IcmpError{2, 0, kDmzMtu}},
        {"v6 1500 bytes over the egress MTU, quote capped at 1280",
         {.ethertype = kEtherIp6, .bytes = udp6_len(v6([](auto& f) { f.dst = kDmzHost6; }), 1500)},
         DropReason::mtu_exceeded,
         IcmpError{2, 0, kDmzMtu}},
        {"v6 UDP to the gateway",
         {.ethertype = kEtherIp6, .bytes = udp6(v6([](auto& f) { f.dst = kLanIp6; }))},
         DropReason::local_unsupported},
    };
}

class DropTable : public DataplaneTest, public ::testing::WithParamInterface<DropCase> {};

TEST_P(DropTable, DropsAndCounts) {
    const DropCase& c = GetParam();
    send(c.in.port, frame_of(c.in));

    const auto back = sent(c.in.port);
    if (c.icmp) {
        ASSERT_EQ(back.size(), 1u) << "one ICMP error back to the sender";
        if (c.in.ethertype == kEtherIp4) {
            expect_icmp4_error(back[0], c.in.port, datagram(c.in), *c.icmp);
        } else {
            expect_icmp6_error(back[0], c.in.port, datagram(c.in), *c.icmp);
        }
    } else {
        EXPECT_TRUE(back.empty()) << "no frame back to the sender";
    }
    // TearDown fails on any other frame, on any port and queue.

    const auto w = worker_counters();
    expect_only_drops(w, c.reason);
    EXPECT_EQ(w.rx_packets, 1u);
    EXPECT_EQ(w.icmp_sent, c.icmp ? 1u : 0u);
    EXPECT_EQ(w.tx_packets, c.icmp ? 1u : 0u);
    EXPECT_EQ(w.icmp_rate_limited, 0u);
    EXPECT_EQ(w.punted, 0u);
}

INSTANTIATE_TEST_SUITE_P(Packets, DropTable, ::testing::ValuesIn(drop_cases()),
                         [](const auto& info) { return test_name(info.param.description); });

// ---- Local delivery: echo ---------------------------------------------------

using EchoTest = DataplaneTest;

TEST_F(EchoTest, V4EchoRequestToTheGatewayIsAnswered) {
    const Bytes data = pattern(37);  // odd length: the checksum update must not depend on it
    const Bytes request = ipv4_icmp({.src = kHost, .dst = kLanIp, .ttl = 3}, 8, 0, 0xbeef0007, data);
    send(kLan, ether(kLanMac, kHostMac, kEtherIp4, request));

    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u);
    const auto& r = out[0];
    EXPECT_EQ(get_mac(r, 0), kHostMac);
    EXPECT_EQ(get_mac(r, 6), kLanMac);
    const auto ip = l3(r);
    ASSERT_EQ(ip.size(), request.size());
    EXPECT_EQ(get32(ip, 12), kLanIp) << "source and destination swapped";
    EXPECT_EQ(get32(ip, 16), kHost);
    EXPECT_GT(ip[8], 1) << "fresh TTL, not the request's";
    EXPECT_TRUE(ip4_header_ok(r));
    EXPECT_TRUE(icmp4_ok(r));
    EXPECT_EQ(ip[kIp4Len], 0) << "echo reply";
    EXPECT_EQ(ip[kIp4Len + 1], 0);
    EXPECT_EQ(get32(ip, kIp4Len + 4), 0xbeef0007u) << "identifier and sequence kept";
    EXPECT_TRUE(std::ranges::equal(ip.subspan(kIp4Len + 8), data)) << "data echoed";

    const auto w = worker_counters();
    expect_no_drops(w);
    EXPECT_EQ(w.icmp_sent, 1u);
    EXPECT_EQ(w.tx_packets, 1u);
}

TEST_F(EchoTest, V4EchoToTheOtherPortsAddressIsAnsweredFromIt) {
    const Bytes request = ipv4_icmp({.src = kHost, .dst = kWanIp}, 8, 0, 0x00010002, pattern(8));
    send(kLan, ether(kLanMac, kHostMac, kEtherIp4, request));

    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(get32(l3(out[0]), 12), kWanIp);
    EXPECT_EQ(get32(l3(out[0]), 16), kHost);
    EXPECT_TRUE(ip4_header_ok(out[0]));
    EXPECT_TRUE(icmp4_ok(out[0]));
    expect_no_drops(worker_counters());
}

TEST_F(EchoTest, V6EchoRequestToTheGatewayIsAnswered) {
    const Bytes body = {0x12, 0x34, 0x00, 0x09, 'h', 'e', 'l', 'l', 'o', '!', '!'};
    const Bytes request = ipv6_icmp({.src = kHost6, .dst = kLanIp6, .hop_limit = 2}, kIcmp6EchoRequest, 0, body);
    send(kLan, ether(kLanMac, kHostMac, kEtherIp6, request));

    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u);
    const auto& r = out[0];
    EXPECT_EQ(get_mac(r, 0), kHostMac);
    EXPECT_EQ(get_mac(r, 6), kLanMac);
    const auto ip = l3(r);
    ASSERT_EQ(ip.size(), request.size());
    EXPECT_EQ(get_ip6(ip, 8), kLanIp6);
    EXPECT_EQ(get_ip6(ip, 24), kHost6);
    EXPECT_GT(ip[7], 1);
    EXPECT_EQ(ip[kIp6Len], kIcmp6EchoReply);
    EXPECT_TRUE(l4_6_ok(r)) << "ICMPv6 checksum (independent)";
    EXPECT_EQ(rte_ipv6_udptcp_cksum_verify(reinterpret_cast<const rte_ipv6_hdr*>(ip.data()), ip.data() + kIp6Len), 0);
    EXPECT_TRUE(std::ranges::equal(ip.subspan(kIp6Len + 4), body)) << "identifier, sequence and data kept";

    const auto w = worker_counters();
    expect_no_drops(w);
    EXPECT_EQ(w.icmp_sent, 1u);
}

// ---- Link-layer broadcast -----------------------------------------------------

// Regression (dataplane/forward.cc, forward_one): RFC 1812 5.3.4 says a router MUST NOT forward a
// packet received as a link-layer broadcast or multicast unless its IP destination is multicast
// (Linux: ip_forward drops pkt_type != PACKET_HOST). The L2 filter accepts every
// multicast/broadcast frame and forward4/forward6 then route unicast destinations out of another
// port.
TEST_F(DataplaneTest, UnicastIpInLinkLayerBroadcastIsNotForwarded) {
    send(kLan, ether(kBroadcastMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer})));
    send(kLan, ether(multicast_mac(ip6("ff02::1")), kHostMac, kEtherIp6, udp6({.src = kHost6, .dst = kServer6})));

    EXPECT_TRUE(sent(kWan).empty()) << "forwarded a frame received as link-layer broadcast/multicast";
    const auto w = worker_counters();
    EXPECT_EQ(w.total_drops(), 2u) << "drops: " << drops_to_string(w);
    EXPECT_EQ(w.tx_packets, 0u);
}

// ---- Default routes -------------------------------------------------------------

class WithDefaultRoutes : public DataplaneTest {
protected:
    TopologyOptions options() const override {
        return {.extra = "route 0.0.0.0/0 via 192.0.2.254\nroute ::/0 via 2001:db8:b::fe\n"};
    }
};

// Regression (dataplane/fib.cc, Fib::add; see FibTest.V4DefaultRouteCatchesWhat...): a /0 route
// reaches rte_lpm_add / rte_lpm6_add with depth 0, which they reject with -EINVAL, so
// Dataplane::create fails and this fixture's SetUp with it.
TEST_F(WithDefaultRoutes, UnknownDestinationsGoToTheDefaultGateway) {
    const Input v4{.bytes = udp4({.src = kHost, .dst = ip4("8.8.8.8")})};
    const Input v6{.ethertype = kEtherIp6, .bytes = udp6({.src = kHost6, .dst = ip6("2001:db8:ffff::1")})};
    send(kLan, {frame_of(v4), frame_of(v6)});
    const auto out = sent(kWan);
    ASSERT_EQ(out.size(), 2u);
    expect_forwarded(out[0], v4, kWan, kRouterMac);
    expect_forwarded(out[1], v6, kWan, kRouterMac);
    expect_no_drops(worker_counters());
}

// ---- Bursts -----------------------------------------------------------------

// A router fragments what the sender allows it to (RFC 791): a packet without
// DF over the egress MTU leaves as fragments that reassemble to the original.
TEST_F(DataplaneTest, NonDfOversizeIsFragmented) {
    for (const std::size_t total : {std::size_t{kDmzMtu} + 1, std::size_t{2000}}) {
        SCOPED_TRACE(total);
        const Bytes pkt = udp4_len({.src = kHost, .dst = kDmzHost, .id = 0x4242}, total);
        send(kLan, ether(port_mac(kLan), sender_mac(kLan), kEtherIp4, pkt));
        const auto out = sent(kDmz);
        ASSERT_EQ(out.size(), 2u);
        Bytes payload(pkt.size() - kIp4Len, 0);
        std::size_t covered = 0;
        for (std::size_t i = 0; i < out.size(); ++i) {
            const auto ip = l3(out[i]);
            const std::size_t len = get16(ip, 2);
            const uint16_t frag = get16(ip, 6);
            const std::size_t offset = (frag & 0x1fff) * 8u;
            EXPECT_LE(len, kDmzMtu);
            EXPECT_EQ(get16(ip, 4), 0x4242) << "fragments keep the identification";
            EXPECT_EQ((frag & 0x2000) != 0, i + 1 < out.size()) << "MF on all but the last";
            EXPECT_EQ(ip[8], 63) << "TTL decremented once";
            EXPECT_TRUE(checksum_ok(ip.first(kIp4Len)));
            ASSERT_LE(offset + len - kIp4Len, payload.size());
            std::copy(ip.begin() + kIp4Len, ip.begin() + static_cast<std::ptrdiff_t>(len),
                      payload.begin() + static_cast<std::ptrdiff_t>(offset));
            covered += len - kIp4Len;
        }
        EXPECT_EQ(covered, payload.size());
        EXPECT_TRUE(std::equal(payload.begin(), payload.end(), pkt.begin() + kIp4Len)) << "reassembles";
    }
    EXPECT_EQ(worker_counters().fragments_made, 4u);
    expect_no_drops(worker_counters());
}

TEST_F(DataplaneTest, MixedBurstGetsAVerdictPerPacket) {
    const std::vector<Bytes> burst = {
        ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer})),                   // forward
        ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = ip4("8.8.8.8")})),            // no route + ICMP
        ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer, .ttl = 1})),         // ttl + ICMP
        pattern(9),                                                                                  // runt
        ether(kLanMac, kHostMac, kEtherIp6, udp6({.src = kHost6, .dst = kServer6})),                 // forward
        ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = ip4("10.0.0.77")})),          // punt: unresolved
        ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = ip4("203.0.113.1")})),        // blackhole
        ether(kLanMac, kHostMac, kEtherIp4, ipv4_icmp({.src = kHost, .dst = kLanIp}, 8, 0, 1, {})),  // echo
    };
    send(kLan, burst);

    EXPECT_EQ(sent(kWan).size(), 2u);
    EXPECT_EQ(sent(kLan).size(), 3u) << "two ICMP errors and an echo reply";
    const auto w = worker_counters();
    EXPECT_EQ(w.rx_packets, burst.size());
    EXPECT_EQ(w.dropped(DropReason::no_route), 1u);
    EXPECT_EQ(w.dropped(DropReason::ttl_exceeded), 1u);
    EXPECT_EQ(w.dropped(DropReason::l2_truncated), 1u);
    EXPECT_EQ(w.dropped(DropReason::blackhole), 1u);
    EXPECT_EQ(w.total_drops(), 4u) << drops_to_string(w);
    EXPECT_EQ(w.punted, 1u);
    EXPECT_EQ(w.icmp_sent, 3u);
    EXPECT_EQ(w.tx_packets, 5u);
    // The punted packet waits in the slow path; the control thread asks for its neighbor.
    poll_control(rte_rdtsc());
    EXPECT_EQ(sent(kLan, kControlSlot).size(), 1u) << "ARP request for 10.0.0.77";
}

TEST_F(DataplaneTest, LongBurstIsForwardedInOrder) {
    // More than one rx burst (32) and one tx buffer: arrival order must survive both.
    constexpr std::size_t kCount = 80;
    std::vector<Bytes> frames;
    for (std::size_t i = 0; i < kCount; ++i) {
        frames.push_back(
            ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer, .id = static_cast<uint16_t>(i)})));
        inject(kLan, frames.back());
    }
    std::size_t received = 0;
    while (received < kCount) {
        const uint16_t n = poll_worker();
        ASSERT_GT(n, 0);
        received += n;
    }
    const auto out = sent(kWan);
    ASSERT_EQ(out.size(), kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
        EXPECT_EQ(get16(l3(out[i]), 4), i) << "IPv4 identification of frame " << i;
    }
    const auto w = worker_counters();
    expect_no_drops(w);
    EXPECT_EQ(w.tx_packets, kCount);
}

// ---- Neighbor cache ----------------------------------------------------------------

// More static neighbors than the worker's direct-mapped neighbor cache has
// slots (256), so slots collide and get replaced.
constexpr unsigned kManyV4 = 200;
constexpr unsigned kManyV6 = 300;

uint32_t many_v4(unsigned i) {
    return ip4("192.0.2.20") + i;
}
Ip6 many_v6(unsigned i) {
    Ip6 a = ip6("2001:db8:b::1:0");
    a[14] = static_cast<uint8_t>(i >> 8);
    a[15] = static_cast<uint8_t>(i);
    return a;
}
Mac many_mac(unsigned family, unsigned i) {
    return Mac{0x02, 0x00, static_cast<uint8_t>(family), 0x00, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
}

class ManyNeighbors : public DataplaneTest {
protected:
    TopologyOptions options() const override {
        std::string extra;
        for (unsigned i = 0; i < kManyV4; ++i) {
            extra += "neighbor wan " + net::to_string(net::Ip4Addr{many_v4(i)}) + " " +
                     net::to_string(net::MacAddr{many_mac(4, i)}) + "\n";
        }
        for (unsigned i = 0; i < kManyV6; ++i) {
            extra += "neighbor wan " + net::to_string(net::Ip6Addr{many_v6(i)}) + " " +
                     net::to_string(net::MacAddr{many_mac(6, i)}) + "\n";
        }
        return {.extra = extra};
    }
};

TEST_F(ManyNeighbors, EveryDestinationGetsItsOwnMacThroughTheCache) {
    // Two rounds: the first fills the cache, the second hits or evicts.
    for (int round = 0; round < 2; ++round) {
        std::vector<Bytes> frames;
        std::vector<Mac> want;
        for (unsigned i = 0; i < kManyV4; ++i) {
            frames.push_back(ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = many_v4(i)}, 4)));
            want.push_back(many_mac(4, i));
        }
        for (unsigned i = 0; i < kManyV6; ++i) {
            frames.push_back(ether(kLanMac, kHostMac, kEtherIp6, udp6({.src = kHost6, .dst = many_v6(i)}, 4)));
            want.push_back(many_mac(6, i));
        }
        std::vector<Bytes> out;
        for (std::size_t i = 0; i < frames.size(); i += 32) {
            const auto first = frames.begin() + static_cast<std::ptrdiff_t>(i);
            send(kLan, std::vector<Bytes>(
                           first, first + static_cast<std::ptrdiff_t>(std::min<std::size_t>(32, frames.size() - i))));
            for (auto& f : sent(kWan)) {
                out.push_back(std::move(f));
            }
        }
        ASSERT_EQ(out.size(), frames.size()) << "round " << round;
        for (std::size_t i = 0; i < out.size(); ++i) {
            EXPECT_EQ(get_mac(out[i], 0), want[i]) << "round " << round << ", packet " << i;
            // The destination address: IPv4 bytes 16..19, IPv6 bytes 24..39 of L3.
            const std::size_t off = kEthLen + (i < kManyV4 ? 16 : 24);
            const std::size_t len = i < kManyV4 ? 4 : 16;
            EXPECT_TRUE(std::equal(out[i].begin() + off, out[i].begin() + off + len, frames[i].begin() + off))
                << "same packet, in order";
        }
    }
    const auto w = worker_counters();
    expect_no_drops(w);
    EXPECT_EQ(w.punted, 0u);
}

// ---- Pool exhaustion -------------------------------------------------------------

// Takes every free mbuf of `pool` until destroyed.
class Hoard {
public:
    explicit Hoard(rte_mempool* pool) {
        while (rte_mbuf* m = rte_pktmbuf_alloc(pool)) {
            mbufs_.push_back(m);
        }
    }
    ~Hoard() { rte_pktmbuf_free_bulk(mbufs_.data(), static_cast<unsigned>(mbufs_.size())); }
    Hoard(const Hoard&) = delete;
    Hoard& operator=(const Hoard&) = delete;

private:
    std::vector<rte_mbuf*> mbufs_;
};

TEST_F(DataplaneTest, EmptyPoolCostsTheIcmpErrorNotTheVerdict) {
    inject(kLan, ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer, .ttl = 1})));
    inject(kLan, ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer})));
    {
        const Hoard hoard(pool());
        EXPECT_EQ(poll_worker(), 2);
    }
    const auto out = sent(kWan);
    EXPECT_EQ(out.size(), 1u) << "forwarding needs no new mbuf";
    EXPECT_TRUE(sent(kLan).empty()) << "no mbuf for the time-exceeded";
    const auto w = worker_counters();
    EXPECT_EQ(w.dropped(DropReason::ttl_exceeded), 1u);
    EXPECT_EQ(w.icmp_sent, 0u);
}

// Regression (dataplane/forward.cc, icmp_error): when build_icmp_error returns nullptr because the
// pool is empty, nothing is counted ("nothing to count as a drop"), although drop_reasons.h
// declares mbuf-alloc-failed for exactly this ("no mbuf for a generated packet") and the slow path
// counts it for probes. An operator cannot see ICMP errors lost to pool exhaustion.
TEST_F(DataplaneTest, EmptyPoolIsCountedAsMbufAllocFailed) {
    inject(kLan, ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer, .ttl = 1})));
    {
        const Hoard hoard(pool());
        EXPECT_EQ(poll_worker(), 1);
    }
    EXPECT_TRUE(sent(kLan).empty());
    EXPECT_EQ(worker_counters().dropped(DropReason::mbuf_alloc_failed), 1u) << drops_to_string(worker_counters());
}

TEST_F(DataplaneTest, FullTxQueueDropsAsTxFull) {
    // Fill wan's worker queue with placeholders the "NIC" never takes.
    std::vector<rte_mbuf*> filler;
    while (rte_ring_free_count(tx_ring(kWan, kWorkerSlot)) != 0) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool());
        ASSERT_NE(m, nullptr);
        ASSERT_EQ(rte_ring_enqueue(tx_ring(kWan, kWorkerSlot), m), 0);
        filler.push_back(m);
    }
    send(kLan, ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer})));

    const auto out = sent(kWan);
    EXPECT_EQ(out.size(), filler.size()) << "only the placeholders: the packet was not queued";
    const auto w = worker_counters();
    expect_only_drops(w, DropReason::tx_full);
    EXPECT_EQ(w.tx_packets, 0u);
    EXPECT_EQ(w.tx_bytes, 0u);
}

class LargePool : public DataplaneTest {
protected:
    // Room for a full punt ring (4095 packets) on top of the usual traffic.
    TopologyOptions options() const override { return {.extra = "mempool mbufs 16383\n"}; }
};

TEST_F(LargePool, FullPuntRingDropsAsPuntQueueFull) {
    rte_ring* punt = dataplane().tables().punt_ring;
    const Bytes runt_arp = ether(kLanMac, kHostMac, kEtherArp, Bytes(4, 0));
    unsigned queued = 0;
    while (rte_ring_free_count(punt) != 0) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool());
        ASSERT_NE(m, nullptr);
        std::copy(runt_arp.begin(), runt_arp.end(), reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 18)));
        m->port = dataplane().tables().ports[kLan].port_id;
        m->hash.usr = static_cast<uint32_t>(dp::PuntKind::arp);
        ASSERT_EQ(rte_ring_enqueue(punt, m), 0);
        ++queued;
    }
    send(kLan, padded(ether(kBroadcastMac, kHostMac, kEtherArp, arp(kArpRequest, kHostMac, kHost, kZeroMac, kLanIp))));
    auto w = worker_counters();
    expect_only_drops(w, DropReason::punt_queue_full);
    EXPECT_EQ(w.punted, 0u);

    // The control thread drains the backlog a burst at a time.
    unsigned handled = 0;
    while (const unsigned n = poll_control(rte_rdtsc())) {
        handled += n;
    }
    EXPECT_EQ(handled, queued);
    expect_only_drops(control_counters(), DropReason::arp_malformed, queued);
    EXPECT_TRUE(sent(kLan, kControlSlot).empty()) << "the dropped request was never answered";
}

// ---- ICMP rate limit ----------------------------------------------------------

class IcmpRateOne : public DataplaneTest {
protected:
    // Bucket burst = max(1, rate / 10) = 1 token, refilled once a second.
    TopologyOptions options() const override { return {.icmp_rate_pps = 1}; }
};

TEST_F(IcmpRateOne, OneErrorPerBucketTheRestCounted) {
    std::vector<Bytes> burst;
    for (uint16_t i = 0; i < 5; ++i) {
        burst.push_back(ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer, .ttl = 1, .id = i})));
    }
    send(kLan, burst);

    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u) << "one token: one ICMP error";
    expect_icmp4_error(out[0], kLan, l3(burst[0]), IcmpError{11, 0});
    const auto w = worker_counters();
    expect_only_drops(w, DropReason::ttl_exceeded, 5);
    EXPECT_EQ(w.icmp_sent, 1u);
    EXPECT_EQ(w.icmp_rate_limited, 4u);
}

// Regression (dataplane/forward.cc, icmp_error): the token is taken before build_icmp_error decides
// the offender may get an error at all. A packet that must never get one (here an ICMP error with
// TTL 1, RFC 1812 4.3.2.7) spends the token, so the next eligible packet is rate-limited and gets
// nothing; the ineligible one is also counted as icmp_rate_limited when the bucket is empty. An
// attacker can starve traceroute's time-exceeded this way.
TEST_F(IcmpRateOne, IneligibleOffendersDoNotSpendTokens) {
    const Bytes inner = udp4({.src = kHost, .dst = kServer});
    const Bytes error = ipv4_icmp({.src = kHost, .dst = kServer, .ttl = 1}, 3, 3, 0, std::span(inner).first(28));
    const Bytes eligible = udp4({.src = kHost, .dst = kServer, .ttl = 1});
    send(kLan, {ether(kLanMac, kHostMac, kEtherIp4, error), ether(kLanMac, kHostMac, kEtherIp4, eligible)});

    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u) << "the eligible packet gets the only token";
    expect_icmp4_error(out[0], kLan, eligible, IcmpError{11, 0});
    const auto w = worker_counters();
    EXPECT_EQ(w.icmp_sent, 1u);
    EXPECT_EQ(w.icmp_rate_limited, 0u);
}

class IcmpRateZero : public DataplaneTest {
protected:
    TopologyOptions options() const override { return {.icmp_rate_pps = 0}; }
};

TEST_F(IcmpRateZero, RateZeroSendsNoErrorsButStillAnswersEcho) {
    send(kLan, {ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = kServer, .ttl = 1})),
                ether(kLanMac, kHostMac, kEtherIp4, udp4({.src = kHost, .dst = ip4("8.8.8.8")})),
                ether(kLanMac, kHostMac, kEtherIp4, ipv4_icmp({.src = kHost, .dst = kLanIp}, 8, 0, 1, {}))});

    const auto out = sent(kLan);
    ASSERT_EQ(out.size(), 1u) << "only the echo reply";
    EXPECT_EQ(l3(out[0])[kIp4Len], 0) << "echo reply";
    const auto w = worker_counters();
    EXPECT_EQ(w.icmp_rate_limited, 2u);
    EXPECT_EQ(w.icmp_sent, 1u);
    EXPECT_EQ(w.total_drops(), 2u) << drops_to_string(w);
}

}  // namespace
}  // namespace gw::test
