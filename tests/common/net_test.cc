// Address parsers and formatters of common/net.h: valid and invalid text,
// canonical forms, prefix arithmetic.

#include "common/net.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace gw::net {
namespace {

Ip6Addr ip6(std::string_view s) {
    auto a = parse_ip6(s);
    EXPECT_TRUE(a.has_value()) << s;
    return a.value_or(Ip6Addr{});
}

IpPrefix prefix(std::string_view s) {
    auto p = parse_prefix(s);
    EXPECT_TRUE(p.has_value()) << s;
    return p.value_or(IpPrefix{});
}

IpAddr ip(std::string_view s) {
    auto a = parse_ip(s);
    EXPECT_TRUE(a.has_value()) << s;
    return a.value_or(IpAddr{});
}

TEST(MacTest, ParsesColonAndDashSeparatedHexInAnyCase) {
    const MacAddr expected{{0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0xef}};
    EXPECT_EQ(parse_mac("02:1a:2b:3c:4d:ef"), expected);
    EXPECT_EQ(parse_mac("02-1A-2B-3C-4D-EF"), expected);
    EXPECT_EQ(parse_mac("02:1A:2b:3C:4d:Ef"), expected);
}

TEST(MacTest, FormatsLowerCaseWithColons) {
    EXPECT_EQ(to_string(MacAddr{{0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0xef}}), "02:1a:2b:3c:4d:ef");
    EXPECT_EQ(to_string(MacAddr{}), "00:00:00:00:00:00");
    EXPECT_EQ(to_string(*parse_mac("FF-FF-FF-FF-FF-FF")), "ff:ff:ff:ff:ff:ff");
}

TEST(MacTest, RejectsMalformedText) {
    for (std::string_view bad :
         {"", "02:1a:2b:3c:4d", "02:1a:2b:3c:4d:ef:01", "02:1a:2b:3c:4d:e", "02:1a:2b:3c:4d:eg", "02.1a.2b.3c.4d.ef",
          "021a2b3c4def", "02:1a:2b:3c:4d:ef ", " 2:1a:2b:3c:4d:ef", "0x:1a:2b:3c:4d:ef", "02::1a:2b:3c:4d:e"}) {
        EXPECT_FALSE(parse_mac(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(MacTest, ClassifiesZeroAndMulticast) {
    EXPECT_TRUE(MacAddr{}.is_zero());
    EXPECT_FALSE(MacAddr{}.is_multicast());
    EXPECT_FALSE(parse_mac("02:00:00:00:00:01")->is_zero());
    EXPECT_FALSE(parse_mac("02:00:00:00:00:01")->is_multicast());
    EXPECT_TRUE(parse_mac("01:00:5e:00:00:01")->is_multicast());
    EXPECT_TRUE(parse_mac("33:33:00:00:00:01")->is_multicast());
    EXPECT_TRUE(parse_mac("ff:ff:ff:ff:ff:ff")->is_multicast());
    EXPECT_FALSE(parse_mac("00:00:00:00:00:01")->is_zero());
}

TEST(Ip4Test, ParsesToHostByteOrder) {
    EXPECT_EQ(parse_ip4("10.0.0.1"), Ip4Addr{0x0a000001});
    EXPECT_EQ(parse_ip4("192.168.255.254"), Ip4Addr{0xc0a8fffe});
    EXPECT_EQ(parse_ip4("0.0.0.0"), Ip4Addr{0});
    EXPECT_EQ(parse_ip4("255.255.255.255"), Ip4Addr{0xffffffff});
}

TEST(Ip4Test, FormatsDottedQuad) {
    EXPECT_EQ(to_string(Ip4Addr{0x0a000001}), "10.0.0.1");
    EXPECT_EQ(to_string(Ip4Addr{0xc0a8fffe}), "192.168.255.254");
    EXPECT_EQ(to_string(Ip4Addr{}), "0.0.0.0");
}

TEST(Ip4Test, RejectsMalformedText) {
    for (std::string_view bad :
         {"", "10.0.0", "10.0.0.1.2", "256.0.0.1", "10.0.0.-1", "a.b.c.d", "10.0.0.1/24", " 10.0.0.1", "10.0.0.1 ",
          "10..0.1", "10.0.0.1.", "::1", "1234567890123456", "010.0.0.1", "0x0a.0.0.1"}) {
        EXPECT_FALSE(parse_ip4(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(Ip6Test, ParsesToNetworkByteOrder) {
    const auto a = ip6("2001:db8::1");
    EXPECT_EQ(a.bytes[0], 0x20);
    EXPECT_EQ(a.bytes[1], 0x01);
    EXPECT_EQ(a.bytes[2], 0x0d);
    EXPECT_EQ(a.bytes[3], 0xb8);
    for (unsigned i = 4; i < 15; ++i) {
        EXPECT_EQ(a.bytes[i], 0) << i;
    }
    EXPECT_EQ(a.bytes[15], 1);
    EXPECT_EQ(ip6("::"), Ip6Addr{});
    EXPECT_EQ(ip6("2001:0DB8:0000:0000:0000:0000:0000:0001"), a);
    const auto mapped = ip6("::ffff:10.0.0.1");
    EXPECT_EQ(mapped.bytes[10], 0xff);
    EXPECT_EQ(mapped.bytes[11], 0xff);
    EXPECT_EQ(mapped.bytes[12], 10);
    EXPECT_EQ(mapped.bytes[15], 1);
}

TEST(Ip6Test, FormatsCompressedLowerCase) {
    EXPECT_EQ(to_string(ip6("2001:0DB8:0000:0000:0000:0000:0000:0001")), "2001:db8::1");
    EXPECT_EQ(to_string(ip6("::")), "::");
    EXPECT_EQ(to_string(ip6("::1")), "::1");
    EXPECT_EQ(to_string(ip6("fe80::0:0:1")), "fe80::1");
    EXPECT_EQ(to_string(ip6("2001:db8:0:1:0:0:0:1")), "2001:db8:0:1::1");
    EXPECT_EQ(to_string(ip6("1:2:3:4:5:6:7:8")), "1:2:3:4:5:6:7:8");
}

TEST(Ip6Test, RejectsMalformedText) {
    for (std::string_view bad :
         {"", ":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "2001:db8::g", "2001::db8::1", "12345::1",
          "fe80::1%eth0", "2001:db8::1/64", " ::1", "10.0.0.1", "2001:0db8:0000:0000:0000:0000:0000:0001:0001"}) {
        EXPECT_FALSE(parse_ip6(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(IpTest, PicksFamilyFromText) {
    ASSERT_TRUE(parse_ip("10.0.0.1").has_value());
    EXPECT_TRUE(is_v4(*parse_ip("10.0.0.1")));
    ASSERT_TRUE(parse_ip("2001:db8::1").has_value());
    EXPECT_FALSE(is_v4(*parse_ip("2001:db8::1")));
    EXPECT_EQ(to_string(ip("10.0.0.1")), "10.0.0.1");
    EXPECT_EQ(to_string(ip("2001:DB8::1")), "2001:db8::1");
    for (std::string_view bad : {"", "host.example", "10.0.0", "2001:db8::x", "10.0.0.1:80"}) {
        EXPECT_FALSE(parse_ip(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(IpTest, FamiliesNeverCompareEqual) {
    EXPECT_NE(ip("0.0.0.0"), ip("::"));
    EXPECT_NE(ip("10.0.0.1"), ip("::ffff:10.0.0.1"));
}

TEST(PrefixTest, ParsesAndKeepsAddressAsWritten) {
    const auto p = prefix("10.1.2.3/8");
    EXPECT_TRUE(p.is_v4());
    EXPECT_EQ(p.len, 8);
    EXPECT_EQ(p.max_len(), 32);
    EXPECT_EQ(to_string(p), "10.1.2.3/8");
    const auto p6 = prefix("2001:db8::1/64");
    EXPECT_FALSE(p6.is_v4());
    EXPECT_EQ(p6.len, 64);
    EXPECT_EQ(p6.max_len(), 128);
    EXPECT_EQ(to_string(p6), "2001:db8::1/64");
    EXPECT_EQ(to_string(prefix("0.0.0.0/0")), "0.0.0.0/0");
    EXPECT_EQ(to_string(prefix("::/0")), "::/0");
    EXPECT_EQ(to_string(prefix("10.0.0.1/32")), "10.0.0.1/32");
    EXPECT_EQ(to_string(prefix("2001:db8::1/128")), "2001:db8::1/128");
}

TEST(PrefixTest, RejectsMalformedText) {
    for (std::string_view bad : {"", "10.0.0.0", "10.0.0.0/", "/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x",
                                 "10.0.0.0/ 8", "10.0.0.0/8/8", "10.0.0/8", "2001:db8::/129", "2001:db8::/",
                                 "2001:db8::", "2001:db8::x/64", "10.0.0.0/+8", "10.0.0.0/99999999999"}) {
        EXPECT_FALSE(parse_prefix(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(PrefixTest, CanonicalClearsHostBits) {
    EXPECT_EQ(to_string(prefix("10.1.2.3/8").canonical()), "10.0.0.0/8");
    EXPECT_EQ(to_string(prefix("10.1.2.3/0").canonical()), "0.0.0.0/0");
    EXPECT_EQ(to_string(prefix("10.1.2.3/32").canonical()), "10.1.2.3/32");
    EXPECT_EQ(to_string(prefix("10.1.2.3/31").canonical()), "10.1.2.2/31");
    EXPECT_EQ(to_string(prefix("192.168.1.130/25").canonical()), "192.168.1.128/25");
    EXPECT_EQ(to_string(prefix("2001:db8:1:2::1/64").canonical()), "2001:db8:1:2::/64");
    EXPECT_EQ(to_string(prefix("2001:db8:1:ffff::1/61").canonical()), "2001:db8:1:fff8::/61");
    EXPECT_EQ(to_string(prefix("2001:db8::1/0").canonical()), "::/0");
    EXPECT_EQ(to_string(prefix("2001:db8::1/128").canonical()), "2001:db8::1/128");
    EXPECT_EQ(to_string(prefix("2001:db8::ff/121").canonical()), "2001:db8::80/121");
}

TEST(PrefixTest, IsCanonical) {
    EXPECT_TRUE(prefix("10.0.0.0/8").is_canonical());
    EXPECT_FALSE(prefix("10.0.0.1/8").is_canonical());
    EXPECT_TRUE(prefix("0.0.0.0/0").is_canonical());
    EXPECT_FALSE(prefix("0.0.0.1/0").is_canonical());
    EXPECT_TRUE(prefix("10.0.0.1/32").is_canonical());
    EXPECT_TRUE(prefix("2001:db8::/32").is_canonical());
    EXPECT_FALSE(prefix("2001:db8::1/32").is_canonical());
    EXPECT_TRUE(prefix("::/0").is_canonical());
    EXPECT_TRUE(prefix("2001:db8::1/128").is_canonical());
}

TEST(PrefixTest, ContainsMatchesFamilyAndNetworkBits) {
    const auto p = prefix("10.1.0.0/16");
    EXPECT_TRUE(p.contains(ip("10.1.0.0")));
    EXPECT_TRUE(p.contains(ip("10.1.255.255")));
    EXPECT_FALSE(p.contains(ip("10.2.0.1")));
    EXPECT_FALSE(p.contains(ip("::ffff:10.1.0.1")));
    // A prefix written with host bits still describes its subnet.
    EXPECT_TRUE(prefix("10.1.2.3/16").contains(ip("10.1.9.9")));
    EXPECT_TRUE(prefix("0.0.0.0/0").contains(ip("203.0.113.7")));
    EXPECT_FALSE(prefix("0.0.0.0/0").contains(ip("2001:db8::1")));
    EXPECT_TRUE(prefix("10.0.0.1/32").contains(ip("10.0.0.1")));
    EXPECT_FALSE(prefix("10.0.0.1/32").contains(ip("10.0.0.2")));

    const auto p6 = prefix("2001:db8:1::/48");
    EXPECT_TRUE(p6.contains(ip("2001:db8:1::1")));
    EXPECT_TRUE(p6.contains(ip("2001:db8:1:ffff:ffff:ffff:ffff:ffff")));
    EXPECT_FALSE(p6.contains(ip("2001:db8:2::1")));
    EXPECT_FALSE(p6.contains(ip("10.0.0.1")));
    EXPECT_TRUE(prefix("::/0").contains(ip("2001:db8::1")));
    EXPECT_FALSE(prefix("::/0").contains(ip("10.0.0.1")));
    EXPECT_TRUE(prefix("2001:db8::80/121").contains(ip("2001:db8::ff")));
    EXPECT_FALSE(prefix("2001:db8::80/121").contains(ip("2001:db8::7f")));
}

TEST(PrefixTest, FormatParseRoundTrip) {
    for (std::string_view text :
         {"10.0.0.0/8", "192.0.2.1/32", "0.0.0.0/0", "2001:db8::/32", "::/0", "fe80::1/64", "2001:db8:0:1::1/128"}) {
        EXPECT_EQ(to_string(prefix(text)), text);
        EXPECT_EQ(prefix(to_string(prefix(text))), prefix(text));
    }
}

}  // namespace
}  // namespace gw::net
