// Fib (fib.cc) built from a config: longest-prefix match across connected
// subnets, the gateway's own addresses (host routes of kind local), static
// via / on-link / blackhole routes and default routes, IPv4 and IPv6.

#include <gtest/gtest.h>

#include <rte_memory.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/config.h"
#include "dataplane/fib.h"
#include "tests/dataplane/packet_builder.h"

namespace gw::test {
namespace {

using dp::Fib;
using dp::NextHopKind;

constexpr uint16_t kPortA = 0;
constexpr uint16_t kPortB = 1;

// Devices are never probed here: Fib::build reads only addresses and routes.
constexpr std::string_view kPorts = R"(
port a dev net_null0
port a address 10.0.0.1/24
port a address 10.1.0.1/16
port a address 2001:db8:a::1/64
port b dev net_null1
port b address 192.0.2.1/24
port b address 2001:db8:b::1/64
worker 1
)";

constexpr std::string_view kRoutes = R"(
route 198.51.100.0/24 via 192.0.2.253
route 198.51.100.128/25 blackhole
route 198.51.100.7/32 port a
route 10.0.0.128/25 via 192.0.2.250
route 10.1.2.0/24 port b
route 2001:db8:100::/48 via 2001:db8:b::fd
route 2001:db8:100:1::/64 blackhole
route 2001:db8:100:2::7/128 port a
route 2001:db8:a:0:8000::/65 via 2001:db8:b::fc
)";

std::unique_ptr<Fib> build(std::string_view text) {
    auto config = cp::parse_config(text, "fib_test");
    if (!config) {
        ADD_FAILURE() << config.error().message;
        return nullptr;
    }
    auto fib = Fib::build(*config, SOCKET_ID_ANY);
    if (!fib) {
        ADD_FAILURE() << fib.error().message;
        return nullptr;
    }
    return std::move(*fib);
}

struct Expected {
    NextHopKind kind = NextHopKind::blackhole;
    uint16_t port = 0;
    std::optional<std::string> via{};  // the gateway of a `via` next hop
};

std::string describe(const dp::NextHop& nh) {
    static constexpr const char* kKinds[] = {"via", "on_link", "local", "blackhole"};
    return std::string(kKinds[static_cast<int>(nh.kind)]) + " port " + std::to_string(nh.port);
}

void expect_next_hop(const Fib& fib, uint32_t index, const Expected& want, const std::string& what) {
    ASSERT_NE(index, Fib::kNoRoute) << what << ": no route";
    ASSERT_LT(index, fib.size());
    const auto& nh = fib.next_hop(index);
    EXPECT_EQ(nh.kind, want.kind) << what << " -> " << describe(nh);
    if (want.kind != NextHopKind::blackhole) {
        EXPECT_EQ(nh.port, want.port) << what << " -> " << describe(nh);
    }
    if (want.via) {
        if (const auto a4 = net::parse_ip4(*want.via)) {
            EXPECT_EQ(nh.gw4_host, a4->host) << what;
        } else {
            EXPECT_EQ(nh.gw6, ip6(*want.via)) << what;
        }
    }
}

struct Lookup4 {
    const char* dst;
    Expected want;
};
struct Lookup6 {
    const char* dst;
    Expected want;
};

TEST(FibTest, V4LongestPrefixMatch) {
    auto fib = build(std::string(kPorts) + std::string(kRoutes));
    ASSERT_NE(fib, nullptr);
    const std::vector<Lookup4> table = {
        {"10.0.0.1", {NextHopKind::local, kPortA}},  // our address: /32 over the connected /24
        {"10.1.0.1", {NextHopKind::local, kPortA}},  // second address on the port
        {"192.0.2.1", {NextHopKind::local, kPortB}},
        {"10.0.0.2", {NextHopKind::on_link, kPortA}},  // connected subnet
        {"10.0.0.127", {NextHopKind::on_link, kPortA}},
        {"10.0.0.0", {NextHopKind::on_link, kPortA}},
        {"10.1.255.254", {NextHopKind::on_link, kPortA}},           // the /16
        {"10.0.0.128", {NextHopKind::via, kPortB, "192.0.2.250"}},  // static /25 inside the connected /24
        {"10.0.0.255", {NextHopKind::via, kPortB, "192.0.2.250"}},
        {"10.1.2.3", {NextHopKind::on_link, kPortB}},  // static on-link /24 inside port a's /16
        {"192.0.2.77", {NextHopKind::on_link, kPortB}},
        {"198.51.100.7", {NextHopKind::on_link, kPortA}},  // /32 over /24
        {"198.51.100.8", {NextHopKind::via, kPortB, "192.0.2.253"}},
        {"198.51.100.127", {NextHopKind::via, kPortB, "192.0.2.253"}},
        {"198.51.100.128", {NextHopKind::blackhole}},  // /25 over /24
        {"198.51.100.255", {NextHopKind::blackhole}},
    };
    for (const auto& t : table) {
        expect_next_hop(*fib, fib->lookup4(ip4(t.dst)), t.want, t.dst);
    }
}

TEST(FibTest, V6LongestPrefixMatch) {
    auto fib = build(std::string(kPorts) + std::string(kRoutes));
    ASSERT_NE(fib, nullptr);
    const std::vector<Lookup6> table = {
        {"2001:db8:a::1", {NextHopKind::local, kPortA}},
        {"2001:db8:b::1", {NextHopKind::local, kPortB}},
        {"2001:db8:a::2", {NextHopKind::on_link, kPortA}},
        {"2001:db8:a:0:7fff:ffff:ffff:ffff", {NextHopKind::on_link, kPortA}},
        {"2001:db8:a:0:8000::", {NextHopKind::via, kPortB, "2001:db8:b::fc"}},  // /65 inside the /64
        {"2001:db8:a:0:ffff:ffff:ffff:ffff", {NextHopKind::via, kPortB, "2001:db8:b::fc"}},
        {"2001:db8:b::abcd", {NextHopKind::on_link, kPortB}},
        {"2001:db8:100::7", {NextHopKind::via, kPortB, "2001:db8:b::fd"}},
        {"2001:db8:100:1::7", {NextHopKind::blackhole}},        // /64 over /48
        {"2001:db8:100:2::7", {NextHopKind::on_link, kPortA}},  // /128 over /48
        {"2001:db8:100:2::8", {NextHopKind::via, kPortB, "2001:db8:b::fd"}},
    };
    for (const auto& t : table) {
        expect_next_hop(*fib, fib->lookup6(ip6(t.dst).data()), t.want, t.dst);
    }
}

TEST(FibTest, UnroutedAddressesHaveNoRoute) {
    // Without default routes, only connected subnets, our addresses and the statics match.
    auto fib = build(std::string(kPorts) + std::string(kRoutes));
    ASSERT_NE(fib, nullptr);
    for (const char* dst : {"8.8.8.8", "0.0.0.0", "10.2.0.1", "198.51.101.1", "192.0.3.0", "255.255.255.255"}) {
        EXPECT_EQ(fib->lookup4(ip4(dst)), Fib::kNoRoute) << dst;
    }
    for (const char* dst : {"::", "::1", "fe80::1", "2001:db8:c::1", "2001:db8:101::", "ff02::1"}) {
        EXPECT_EQ(fib->lookup6(ip6(dst).data()), Fib::kNoRoute) << dst;
    }
}

// Regression (dataplane/fib.cc, Fib::add): rte_lpm_add and rte_lpm6_add accept depths 1..32 /
// 1..128 only and return -EINVAL for depth 0, so a default route (`route 0.0.0.0/0 ...`, `route
// ::/0 ...`, documented in configs/README.md and used by configs/example.conf) makes Fib::build,
// hence Dataplane::create, fail with "fib: cannot add route 0.0.0.0/0: Invalid argument".g. a
// default index returned by lookup4/lookup6 on an LPM miss).
TEST(FibTest, V4DefaultRouteCatchesWhatNothingElseMatches) {
    auto fib = build(std::string(kPorts) + std::string(kRoutes) + "route 0.0.0.0/0 via 192.0.2.254\n");
    ASSERT_NE(fib, nullptr);
    const Expected dflt{NextHopKind::via, kPortB, "192.0.2.254"};
    for (const char* dst : {"8.8.8.8", "198.51.101.1", "0.0.0.0", "255.255.255.255"}) {
        expect_next_hop(*fib, fib->lookup4(ip4(dst)), dflt, dst);
    }
    expect_next_hop(*fib, fib->lookup4(ip4("198.51.100.8")), {NextHopKind::via, kPortB, "192.0.2.253"},
                    "longer prefixes still win");
    expect_next_hop(*fib, fib->lookup4(ip4("10.0.0.1")), {NextHopKind::local, kPortA}, "our address");
}

// Regression: same as above, for ::/0.
TEST(FibTest, V6DefaultRouteCatchesWhatNothingElseMatches) {
    auto fib = build(std::string(kPorts) + std::string(kRoutes) + "route ::/0 via 2001:db8:b::fe\n");
    ASSERT_NE(fib, nullptr);
    const Expected dflt{NextHopKind::via, kPortB, "2001:db8:b::fe"};
    for (const char* dst : {"2001:db8:101::1", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
        expect_next_hop(*fib, fib->lookup6(ip6(dst).data()), dflt, dst);
    }
    expect_next_hop(*fib, fib->lookup6(ip6("2001:db8:100::7").data()), {NextHopKind::via, kPortB, "2001:db8:b::fd"},
                    "longer prefixes still win");
}

TEST(FibTest, EveryAddressAddsASubnetAndAHostRoute) {
    auto fib = build(std::string(kPorts) + std::string(kRoutes));
    ASSERT_NE(fib, nullptr);
    constexpr std::size_t kAddresses = 5;
    constexpr std::size_t kStaticRoutes = 9;
    EXPECT_EQ(fib->size(), 2 * kAddresses + kStaticRoutes);
}

TEST(FibTest, EmptyConfigRoutesNothing) {
    auto fib = build("");
    ASSERT_NE(fib, nullptr);
    EXPECT_EQ(fib->size(), 0u);
    EXPECT_EQ(fib->lookup4(ip4("10.0.0.1")), Fib::kNoRoute);
    EXPECT_EQ(fib->lookup6(ip6("2001:db8::1").data()), Fib::kNoRoute);
}

TEST(FibTest, TablesCanBeRebuiltSideBySide) {
    // A runtime change builds a new Fib while the old one is still read.
    auto old_fib = build(std::string(kPorts));
    auto new_fib = build(std::string(kPorts) + std::string(kRoutes));
    ASSERT_NE(old_fib, nullptr);
    ASSERT_NE(new_fib, nullptr);
    EXPECT_EQ(old_fib->lookup4(ip4("198.51.100.8")), Fib::kNoRoute);
    EXPECT_NE(new_fib->lookup4(ip4("198.51.100.8")), Fib::kNoRoute);
}

}  // namespace
}  // namespace gw::test
