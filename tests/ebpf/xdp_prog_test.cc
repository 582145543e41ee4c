// The XDP program run by the kernel on packet tables (BPF_PROG_TEST_RUN):
// {description, input frame, expected action, expected verdict counter,
// expected rule counter, expected output frame}. Every verdict, malformed
// headers, VLAN tags, IPv4 options, fragments, v4/v6 longest-prefix blocking,
// the token bucket, and the bypass rewrite (TTL, checksum, MACs).
//
// Needs root (BPF, bpffs); skipped otherwise. Maps are pinned under a
// per-process directory in bpffs that the fixture removes.

#include <gtest/gtest.h>

#include <net/if.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "ebpf/xdp_manager.h"
#include "tests/ebpf/packets.h"

namespace {

using gw::bpf::XdpGateway;
using gw::bpf::XdpOptions;
using namespace gw::test;

gw::net::IpPrefix P(const char* s) {
    return *gw::net::parse_prefix(s);
}

bool is_root() {
    return geteuid() == 0;
}

// A veth pair for the bypass egress and attach tests, unique per process.
struct Veth {
    std::string a = "gwxt" + std::to_string(getpid() % 100000) + "a";
    std::string b = "gwxt" + std::to_string(getpid() % 100000) + "b";
    Veth() {
        std::system(("ip link del " + a + " 2>/dev/null").c_str());
        std::system(("ip link add " + a + " type veth peer name " + b + " && ip link set " + a + " up && ip link set " +
                     b + " up")
                        .c_str());
    }
    ~Veth() { std::system(("ip link del " + a + " 2>/dev/null").c_str()); }
};

std::filesystem::path pin_root() {
    return "/sys/fs/bpf/gw-test-" + std::to_string(getpid());
}

struct RunResult {
    int action = -1;
    Bytes out;
};

RunResult run(int prog_fd, const Bytes& in) {
    RunResult r;
    r.out.resize(in.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(in.size()), .data_size_out = static_cast<uint32_t>(r.out.size()),
                .repeat = 1);
    const int rc = bpf_prog_test_run_opts(prog_fd, &o);
    EXPECT_EQ(rc, 0) << "bpf_prog_test_run_opts: " << std::strerror(errno);
    r.action = static_cast<int>(o.retval);
    r.out.resize(o.data_size_out);
    return r;
}

class XdpProgTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!is_root()) {
            return;
        }
        std::filesystem::remove_all(pin_root());
        veth_ = new Veth();
    }
    static void TearDownTestSuite() {
        delete veth_;
        veth_ = nullptr;
        std::filesystem::remove_all(pin_root());
    }

    void SetUp() override {
        if (!is_root()) {
            GTEST_SKIP() << "needs root (BPF_PROG_TEST_RUN, bpffs)";
        }
        std::filesystem::remove_all(pin_root());
        auto gw = XdpGateway::open(XdpOptions{.ifname = veth_->a, .pin_root = pin_root()});
        ASSERT_TRUE(gw) << gw.error().message;
        gw_ = std::move(*gw);
        block24_ = *gw_->add_block(P("198.51.100.0/24"));
        block25_ = *gw_->add_block(P("198.51.100.128/25"));
        block48_ = *gw_->add_block(P("2001:db8:bad::/48"));
        block64_ = *gw_->add_block(P("2001:db8:bad:1::/64"));
        ASSERT_TRUE(gw_->set_mgmt_flags(GW_XDP_MGMT_ARP | GW_XDP_MGMT_ND | GW_XDP_MGMT_ICMP));
        ASSERT_TRUE(gw_->add_mgmt_port(gw::bpf::L4Proto::tcp, 22));
        ASSERT_TRUE(gw_->add_mgmt_port(gw::bpf::L4Proto::tcp, 179));
        ASSERT_TRUE(gw_->add_mgmt_port(gw::bpf::L4Proto::udp, 53));
        ASSERT_TRUE(gw_->add_local_address(*gw::net::parse_ip("192.0.2.1")));
        ASSERT_TRUE(gw_->add_local_address(*gw::net::parse_ip("2001:db8::1")));
        auto b4 = gw_->add_bypass({.dst = P("203.0.113.0/24"),
                                   .egress_ifname = veth_->b,
                                   .dst_mac = *gw::net::parse_mac("02:00:00:00:00:aa"),
                                   .src_mac = gw::net::parse_mac("02:00:00:00:00:bb")});
        ASSERT_TRUE(b4) << b4.error().message;
        bypass4_ = *b4;
        auto b6 = gw_->add_bypass({.dst = P("2001:db8:f00::/48"),
                                   .egress_ifname = veth_->b,
                                   .dst_mac = *gw::net::parse_mac("02:00:00:00:00:aa"),
                                   .src_mac = gw::net::parse_mac("02:00:00:00:00:bb")});
        ASSERT_TRUE(b6) << b6.error().message;
        bypass6_ = *b6;
    }
    void TearDown() override {
        gw_.reset();
        if (is_root()) {
            std::filesystem::remove_all(pin_root());
        }
    }

    std::array<gw::bpf::Counter, GW_XDP_STAT_MAX> verdicts() {
        auto v = gw_->verdict_counters();
        EXPECT_TRUE(v);
        return v ? *v : std::array<gw::bpf::Counter, GW_XDP_STAT_MAX>{};
    }
    uint64_t rule_packets(uint32_t id) {
        auto rows = gw_->rule_counters();
        EXPECT_TRUE(rows);
        for (const auto& r : *rows) {
            if (r.rule_id == id) {
                return r.counter.packets;
            }
        }
        return 0;
    }

    static inline Veth* veth_ = nullptr;
    std::unique_ptr<XdpGateway> gw_;
    uint32_t block24_ = 0, block25_ = 0, block48_ = 0, block64_ = 0, bypass4_ = 0, bypass6_ = 0;
};

constexpr uint32_t kNone = ~0u;

struct Case {
    const char* description;
    Bytes input;
    int action;
    gw_xdp_stat stat;
    uint32_t rule = kNone;        // which of the fixture's rules counts it (index into rule_ids())
    std::optional<Bytes> output;  // expected frame when the program rewrites it
};

// Rule selectors (the ids are only known after SetUp).
enum : uint32_t { kBlock24, kBlock25, kBlock48, kBlock64, kBypass4, kBypass6 };

V4 v4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t port) {
    V4 v;
    v.src = src;
    v.dst = dst;
    v.l4.proto = proto;
    v.l4.dst_port = port;
    return v;
}

V6 v6_from(std::initializer_list<uint8_t> src_prefix, uint8_t proto, uint16_t port) {
    V6 v;
    std::copy(src_prefix.begin(), src_prefix.end(), v.src);
    v.l4.proto = proto;
    v.l4.dst_port = port;
    return v;
}

constexpr uint32_t kLocal = 0xc0000201;      // 192.0.2.1
constexpr uint32_t kOther = 0xc0000263;      // 192.0.2.99
constexpr uint32_t kClient = 0x0a000001;     // 10.0.0.1
constexpr uint32_t kBad24 = 0xc6336405;      // 198.51.100.5
constexpr uint32_t kBad25 = 0xc63364c8;      // 198.51.100.200
constexpr uint32_t kBypassDst = 0xcb007107;  // 203.0.113.7

Bytes bypassed_v4(V4 v) {
    v.ttl--;
    Bytes b = ipv4(v);  // checksum computed from scratch: checks the program's incremental update
    const uint8_t dmac[6] = {2, 0, 0, 0, 0, 0xaa};
    const uint8_t smac[6] = {2, 0, 0, 0, 0, 0xbb};
    std::copy(dmac, dmac + 6, b.begin());
    std::copy(smac, smac + 6, b.begin() + 6);
    return b;
}

std::vector<Case> cases() {
    std::vector<Case> c;
    // Management traffic -> kernel.
    c.push_back({"ARP passes to the kernel", arp(), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    c.push_back({"TCP 22 to a local v4 address", ipv4(v4(kClient, kLocal, 6, 22)), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    c.push_back({"TCP 179 to a local v4 address", ipv4(v4(kClient, kLocal, 6, 179)), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    c.push_back({"UDP 53 to a local v4 address", ipv4(v4(kClient, kLocal, 17, 53)), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    c.push_back({"TCP 22 to another host is data plane traffic", ipv4(v4(kClient, kOther, 6, 22)), XDP_PASS,
                 GW_XDP_STAT_PASS_NO_SOCKET});
    c.push_back({"UDP 22 is not management (TCP only)", ipv4(v4(kClient, kLocal, 17, 22)), XDP_PASS,
                 GW_XDP_STAT_PASS_NO_SOCKET});
    c.push_back({"ICMP echo to a local address", ipv4(v4(kClient, kLocal, 1, 0)), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    c.push_back({"ICMP echo to another host", ipv4(v4(kClient, kOther, 1, 0)), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
    {
        V6 v = v6_from({}, 58, 0);
        v.l4.icmp_type = 135;  // neighbor solicitation
        v.dst[0] = 0xff;       // to a solicited-node multicast address: ND passes whatever the destination
        c.push_back({"IPv6 neighbor solicitation", ipv6(v), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
        v.l4.icmp_type = 128;
        c.push_back({"ICMPv6 echo to a non-local address", ipv6(v), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
        V6 w = v6_from({}, 58, 0);
        w.l4.icmp_type = 128;
        c.push_back({"ICMPv6 echo to a local address", ipv6(w), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    }
    c.push_back({"TCP 22 to a local v6 address", ipv6(v6_from({}, 6, 22)), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    // Everything else -> the data plane's socket (none bound here: kernel).
    c.push_back({"UDP to another host", ipv4(v4(kClient, kOther, 17, 4000)), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
    c.push_back({"LLDP ethertype goes to the data plane", eth(0x88cc), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
    // Blocklist, longest prefix first.
    c.push_back({"v4 source in /24", ipv4(v4(kBad24, kOther, 17, 4000)), XDP_DROP, GW_XDP_STAT_DROP_BLOCKED, kBlock24});
    c.push_back({"v4 source in the more specific /25", ipv4(v4(kBad25, kOther, 17, 4000)), XDP_DROP,
                 GW_XDP_STAT_DROP_BLOCKED, kBlock25});
    c.push_back({"blocked source to a management port is still dropped", ipv4(v4(kBad24, kLocal, 6, 22)), XDP_DROP,
                 GW_XDP_STAT_DROP_BLOCKED, kBlock24});
    c.push_back({"v6 source in /48", ipv6(v6_from({0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad, 0, 2}, 17, 4000)), XDP_DROP,
                 GW_XDP_STAT_DROP_BLOCKED, kBlock48});
    c.push_back({"v6 source in the more specific /64",
                 ipv6(v6_from({0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad, 0, 1}, 17, 4000)), XDP_DROP,
                 GW_XDP_STAT_DROP_BLOCKED, kBlock64});
    // VLAN tags.
    c.push_back(
        {"802.1Q tagged UDP", ipv4(v4(kClient, kOther, 17, 4000), {0x8100}), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
    c.push_back({"802.1ad + 802.1Q tagged TCP 22 to local", ipv4(v4(kClient, kLocal, 6, 22), {0x88a8, 0x8100}),
                 XDP_PASS, GW_XDP_STAT_PASS_MGMT});
    c.push_back({"QinQ tagged blocked source", ipv4(v4(kBad24, kOther, 17, 4000), {0x88a8, 0x8100}), XDP_DROP,
                 GW_XDP_STAT_DROP_BLOCKED, kBlock24});
    c.push_back({"three VLAN tags", ipv4(v4(kClient, kOther, 17, 4000), {0x88a8, 0x8100, 0x8100}), XDP_DROP,
                 GW_XDP_STAT_DROP_MALFORMED});
    c.push_back({"VLAN-tagged bypass destination is not bypassed", ipv4(v4(kClient, kBypassDst, 17, 4000), {0x8100}),
                 XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
    // Malformed. (The kernel refuses test frames under 14 bytes, so a
    // truncated Ethernet header cannot be fed; the VLAN cases cover L2.)
    c.push_back({"VLAN tag truncated", truncate(eth(0x0800, {0x8100}), 16), XDP_DROP, GW_XDP_STAT_DROP_MALFORMED});
    c.push_back({"IPv4 header truncated (19 bytes)", truncate(ipv4(v4(kClient, kOther, 17, 4000)), 14 + 19), XDP_DROP,
                 GW_XDP_STAT_DROP_MALFORMED});
    {
        V4 v = v4(kClient, kLocal, 6, 22);
        v.options = {1, 1, 1, 1, 1, 1, 1, 0};  // NOPs + EOL: IHL 7
        c.push_back({"IPv4 with options, TCP 22 to local", ipv4(v), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
        c.push_back({"IPv4 options truncated", truncate(ipv4(v), 14 + 24), XDP_DROP, GW_XDP_STAT_DROP_MALFORMED});
        Bytes bad_ihl = ipv4(v4(kClient, kOther, 17, 4000));
        bad_ihl[14] = 0x44;
        c.push_back({"IPv4 IHL < 5", bad_ihl, XDP_DROP, GW_XDP_STAT_DROP_MALFORMED});
        Bytes bad_ver = ipv4(v4(kClient, kOther, 17, 4000));
        bad_ver[14] = 0x65;
        c.push_back({"IPv4 ethertype with version 6", bad_ver, XDP_DROP, GW_XDP_STAT_DROP_MALFORMED});
        c.push_back({"TCP ports truncated", truncate(ipv4(v4(kClient, kLocal, 6, 22)), 14 + 20 + 3), XDP_DROP,
                     GW_XDP_STAT_DROP_MALFORMED});
    }
    c.push_back({"IPv6 header truncated (39 bytes)", truncate(ipv6(v6_from({}, 17, 4000)), 14 + 39), XDP_DROP,
                 GW_XDP_STAT_DROP_MALFORMED});
    // Fragments.
    {
        V4 first = v4(kClient, kLocal, 6, 22);
        first.frag = 0x2000;  // MF, offset 0: has the TCP header
        c.push_back({"IPv4 first fragment to TCP 22", ipv4(first), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
        V4 later = v4(kClient, kLocal, 6, 22);
        later.frag = 100;  // offset 800: no ports, so not management
        c.push_back({"IPv4 non-first fragment has no ports", ipv4(later), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
        V4 blocked = later;
        blocked.src = kBad24;
        c.push_back({"IPv4 non-first fragment from a blocked source", ipv4(blocked), XDP_DROP, GW_XDP_STAT_DROP_BLOCKED,
                     kBlock24});
    }
    // IPv6 extension headers.
    {
        V6 v = v6_from({}, 6, 22);
        v.ext = {{0, opt_header(1)}, {60, opt_header(0)}};  // hop-by-hop (16 B), destination options
        c.push_back(
            {"IPv6 hop-by-hop + destination options, TCP 22 to local", ipv6(v), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
        c.push_back({"IPv6 extension header truncated", truncate(ipv6(v), 14 + 40 + 16 + 4), XDP_DROP,
                     GW_XDP_STAT_DROP_MALFORMED});
        V6 f = v6_from({}, 6, 22);
        f.ext = {{44, frag_header(0, true)}};
        c.push_back({"IPv6 first fragment to TCP 22", ipv6(f), XDP_PASS, GW_XDP_STAT_PASS_MGMT});
        V6 g = v6_from({}, 6, 22);
        g.ext = {{44, frag_header(100, false)}};
        g.fragment_tail = true;
        c.push_back({"IPv6 non-first fragment has no ports", ipv6(g), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
        V6 deep = v6_from({}, 17, 4000);
        for (int i = 0; i < GW_XDP_MAX_EXT_HDRS + 1; ++i) {
            deep.ext.push_back({60, opt_header(0)});
        }
        c.push_back({"more IPv6 extension headers than walked", ipv6(deep), XDP_DROP, GW_XDP_STAT_DROP_MALFORMED});
        V6 max = v6_from({}, 17, 4000);
        for (int i = 0; i < GW_XDP_MAX_EXT_HDRS - 1; ++i) {
            max.ext.push_back({60, opt_header(0)});
        }
        c.push_back({"IPv6 with the most extension headers walked", ipv6(max), XDP_PASS, GW_XDP_STAT_PASS_NO_SOCKET});
    }
    // Bypass: rewrite, TTL, checksum.
    {
        V4 v = v4(kClient, kBypassDst, 17, 4000);
        c.push_back({"v4 bypass: MACs rewritten, TTL 64 -> 63, checksum updated", ipv4(v), XDP_REDIRECT,
                     GW_XDP_STAT_REDIRECT_BYPASS, kBypass4, bypassed_v4(v)});
        v.options = {0x94, 0x04, 0, 0};  // router alert
        v.ttl = 2;
        c.push_back({"v4 bypass with options, TTL 2 -> 1", ipv4(v), XDP_REDIRECT, GW_XDP_STAT_REDIRECT_BYPASS, kBypass4,
                     bypassed_v4(v)});
        v.ttl = 255;
        c.push_back({"v4 bypass, TTL 255 (checksum carry)", ipv4(v), XDP_REDIRECT, GW_XDP_STAT_REDIRECT_BYPASS,
                     kBypass4, bypassed_v4(v)});
        v.ttl = 1;
        c.push_back({"v4 bypass with TTL 1 goes to the kernel", ipv4(v), XDP_PASS, GW_XDP_STAT_PASS_TTL});
        v.ttl = 0;
        c.push_back({"v4 bypass with TTL 0 goes to the kernel", ipv4(v), XDP_PASS, GW_XDP_STAT_PASS_TTL});
        V6 w = v6_from({}, 17, 4000);
        w.dst[4] = 0x0f;  // 2001:db8:f00::1
        Bytes expect = ipv6(w);
        expect[14 + 7] = 63;
        const uint8_t macs[12] = {2, 0, 0, 0, 0, 0xaa, 2, 0, 0, 0, 0, 0xbb};
        std::copy(macs, macs + 12, expect.begin());
        c.push_back(
            {"v6 bypass: hop limit 64 -> 63", ipv6(w), XDP_REDIRECT, GW_XDP_STAT_REDIRECT_BYPASS, kBypass6, expect});
        w.hop_limit = 1;
        c.push_back({"v6 bypass with hop limit 1 goes to the kernel", ipv6(w), XDP_PASS, GW_XDP_STAT_PASS_TTL});
    }
    return c;
}

TEST_F(XdpProgTest, PacketTable) {
    const uint32_t ids[] = {block24_, block25_, block48_, block64_, bypass4_, bypass6_};
    for (const Case& tc : cases()) {
        SCOPED_TRACE(tc.description);
        const auto before = verdicts();
        const uint64_t rule_before = tc.rule == kNone ? 0 : rule_packets(ids[tc.rule]);
        const RunResult r = run(gw_->prog_fd(), tc.input);
        EXPECT_EQ(r.action, tc.action);
        const auto after = verdicts();
        for (uint32_t s = 0; s < GW_XDP_STAT_MAX; ++s) {
            const uint64_t want = s == tc.stat ? 1 : 0;
            EXPECT_EQ(after[s].packets - before[s].packets, want) << gw::bpf::stat_table()[s].label;
            EXPECT_EQ(after[s].bytes - before[s].bytes, want * tc.input.size()) << gw::bpf::stat_table()[s].label;
        }
        if (tc.rule != kNone) {
            EXPECT_EQ(rule_packets(ids[tc.rule]) - rule_before, 1u);
        }
        EXPECT_EQ(r.out, tc.output.value_or(tc.input)) << "output frame";
    }
}

TEST_F(XdpProgTest, RateLimitHoldsASourceToItsBurstThenRefills) {
    ASSERT_TRUE(gw_->set_rate_limit(1, 5));  // 1 pps, burst 5: the 6th packet in a row is over
    const Bytes flood = ipv4(v4(0x0a000063, kOther, 17, 4000));
    int passed = 0;
    int dropped = 0;
    const auto before = verdicts();
    for (int i = 0; i < 8; ++i) {
        const int a = run(gw_->prog_fd(), flood).action;
        passed += a == XDP_PASS;
        dropped += a == XDP_DROP;
    }
    EXPECT_EQ(passed, 5);
    EXPECT_EQ(dropped, 3);
    const auto after = verdicts();
    EXPECT_EQ(after[GW_XDP_STAT_DROP_RATELIMIT].packets - before[GW_XDP_STAT_DROP_RATELIMIT].packets, 3u);
    // Another source has its own bucket; the same /64 in IPv6 shares one.
    EXPECT_EQ(run(gw_->prog_fd(), ipv4(v4(0x0a000064, kOther, 17, 4000))).action, XDP_PASS);
    V6 a = v6_from({0x20, 0x01, 0x0d, 0xb8, 0, 0x77}, 17, 4000);
    V6 b = a;
    b.src[15] = 0x99;  // same /64
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(run(gw_->prog_fd(), ipv6(i % 2 ? a : b)).action, XDP_PASS);
    }
    EXPECT_EQ(run(gw_->prog_fd(), ipv6(a)).action, XDP_DROP);
    // Refill: 1 pps, so after ~1.1 s one more packet is admitted, then dropped again.
    usleep(1'100'000);
    EXPECT_EQ(run(gw_->prog_fd(), flood).action, XDP_PASS);
    EXPECT_EQ(run(gw_->prog_fd(), flood).action, XDP_DROP);
    // Off again: everything passes.
    ASSERT_TRUE(gw_->set_rate_limit(0, 0));
    EXPECT_EQ(run(gw_->prog_fd(), flood).action, XDP_PASS);
}

TEST_F(XdpProgTest, BypassWithoutDevmapEntryPassesToKernel) {
    const uint32_t ifindex = if_nametoindex(veth_->b.c_str());
    ASSERT_EQ(bpf_map_delete_elem(gw_->tx_ports_fd(), &ifindex), 0);
    const auto before = verdicts();
    EXPECT_EQ(run(gw_->prog_fd(), ipv4(v4(kClient, kBypassDst, 17, 4000))).action, XDP_PASS);
    const auto after = verdicts();
    EXPECT_EQ(after[GW_XDP_STAT_PASS_NO_EGRESS].packets - before[GW_XDP_STAT_PASS_NO_EGRESS].packets, 1u);
}

TEST_F(XdpProgTest, RedirectsToTheAfXdpSocketOfTheRxQueue) {
    // A real AF_XDP socket (copy mode) on the veth, registered by hand in xsks_map
    // as DPDK's net_af_xdp does; the test run only checks the verdict.
    constexpr size_t kFrames = 64;
    constexpr size_t kSize = kFrames * XSK_UMEM__DEFAULT_FRAME_SIZE;
    void* buf = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(buf, MAP_FAILED);
    xsk_umem* umem = nullptr;
    xsk_ring_prod fq;
    xsk_ring_cons cq;
    ASSERT_EQ(xsk_umem__create(&umem, buf, kSize, &fq, &cq, nullptr), 0);
    xsk_socket* xsk = nullptr;
    xsk_ring_cons rx;
    xsk_ring_prod tx;
    xsk_socket_config cfg{};
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    cfg.bind_flags = XDP_COPY;
    const int rc = xsk_socket__create(&xsk, veth_->a.c_str(), 0, umem, &rx, &tx, &cfg);
    if (rc != 0) {
        xsk_umem__delete(umem);
        munmap(buf, kSize);
        GTEST_SKIP() << "cannot create an AF_XDP socket: " << std::strerror(-rc);
    }
    const uint32_t queue = 0;
    const int fd = xsk_socket__fd(xsk);
    ASSERT_EQ(bpf_map_update_elem(gw_->xsks_map_fd(), &queue, &fd, BPF_ANY), 0);
    const auto before = verdicts();
    EXPECT_EQ(run(gw_->prog_fd(), ipv4(v4(kClient, kOther, 17, 4000))).action, XDP_REDIRECT);
    EXPECT_EQ(run(gw_->prog_fd(), arp()).action, XDP_PASS);  // management still goes to the kernel
    const auto after = verdicts();
    EXPECT_EQ(after[GW_XDP_STAT_REDIRECT_XSK].packets - before[GW_XDP_STAT_REDIRECT_XSK].packets, 1u);
    xsk_socket__delete(xsk);
    xsk_umem__delete(umem);
    munmap(buf, kSize);
}

}  // namespace
