// gw::bpf::XdpGateway: pins reused across instances (rules and counters survive
// a restart), attach/replace/detach on a veth, and the errors an operator sees.
// Needs root; skipped otherwise.

#include <gtest/gtest.h>

#include <net/if.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "ebpf/xdp_manager.h"

namespace {

using gw::bpf::XdpGateway;
using gw::bpf::XdpOptions;

gw::net::IpPrefix P(const char* s) {
    return *gw::net::parse_prefix(s);
}

class XdpManagerTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) {
            GTEST_SKIP() << "needs root";
        }
        std::filesystem::remove_all(root_);
        std::system(("ip link del " + if_ + " 2>/dev/null; ip link add " + if_ + " type veth peer name " + peer_ +
                     " && ip link set " + if_ + " up && ip link set " + peer_ + " up")
                        .c_str());
    }
    void TearDown() override {
        if (geteuid() == 0) {
            std::system(("ip link del " + if_ + " 2>/dev/null").c_str());
            std::filesystem::remove_all(root_);
        }
    }
    XdpOptions opts() const { return XdpOptions{.ifname = if_, .pin_root = root_}; }

    std::string if_ = "gwxm" + std::to_string(getpid() % 100000) + "a";
    std::string peer_ = "gwxm" + std::to_string(getpid() % 100000) + "b";
    std::filesystem::path root_ = "/sys/fs/bpf/gw-mtest-" + std::to_string(getpid());
};

TEST_F(XdpManagerTest, RulesAndSettingsSurviveARestart) {
    uint32_t id = 0;
    {
        auto a = XdpGateway::open(opts());
        ASSERT_TRUE(a) << a.error().message;
        auto r = (*a)->add_block(P("198.51.100.0/24"));
        ASSERT_TRUE(r);
        id = *r;
        ASSERT_TRUE((*a)->add_block(P("2001:db8:bad::/48")));
        ASSERT_TRUE((*a)->set_rate_limit(1000, 50));
        ASSERT_TRUE((*a)->add_bypass({.dst = P("203.0.113.0/24"),
                                      .egress_ifname = peer_,
                                      .dst_mac = *gw::net::parse_mac("02:00:00:00:00:aa"),
                                      .src_mac = {}}));
    }  // "gatewayd exits"
    EXPECT_TRUE(std::filesystem::exists(root_ / if_ / "block_v4"));
    auto b = XdpGateway::open(opts());
    ASSERT_TRUE(b) << b.error().message;
    auto rows = (*b)->rule_counters();
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 3u);
    bool found = false;
    for (const auto& r : *rows) {
        if (r.prefix == P("198.51.100.0/24")) {
            found = true;
            EXPECT_EQ(r.rule_id, id);
            EXPECT_EQ(r.kind, gw::bpf::RuleKind::block);
        }
    }
    EXPECT_TRUE(found);
    // Re-adding is idempotent and keeps the id; a new rule gets a fresh id.
    EXPECT_EQ(*(*b)->add_block(P("198.51.100.0/24")), id);
    auto fresh = (*b)->add_block(P("192.0.2.0/24"));
    ASSERT_TRUE(fresh);
    for (const auto& r : *rows) {
        EXPECT_NE(r.rule_id, *fresh);
    }
    // The devmap (not pinned) was rebuilt from the bypass rule.
    const uint32_t egress = if_nametoindex(peer_.c_str());
    bpf_devmap_val dev{};
    EXPECT_EQ(bpf_map_lookup_elem((*b)->tx_ports_fd(), &egress, &dev), 0);
    ASSERT_TRUE((*b)->del_block(P("198.51.100.0/24")));
    EXPECT_FALSE((*b)->del_block(P("198.51.100.0/24")));  // already gone: an error, not silence
}

TEST_F(XdpManagerTest, AttachReplacesAStaleGatewayAndDetachKeepsPins) {
    {
        auto a = XdpGateway::open(opts());
        ASSERT_TRUE(a);
        ASSERT_TRUE((*a)->attach()) << "first attach";
    }  // a crashed gatewayd: its program stays attached
    auto cur = XdpGateway::query(if_);
    ASSERT_TRUE(cur);
    ASSERT_TRUE(cur->is_gateway());
    const uint32_t stale = cur->id;
    auto b = XdpGateway::open(opts());
    ASSERT_TRUE(b);
    ASSERT_TRUE((*b)->attach()) << "replacing our own stale program needs no force";
    cur = XdpGateway::query(if_);
    ASSERT_TRUE(cur);
    EXPECT_NE(cur->id, stale);
    EXPECT_TRUE(cur->is_gateway());
    ASSERT_TRUE((*b)->detach());
    cur = XdpGateway::query(if_);
    ASSERT_TRUE(cur);
    EXPECT_EQ(cur->id, 0u) << "detached";
    EXPECT_TRUE(std::filesystem::exists(root_ / if_ / "config")) << "pins kept";
}

TEST_F(XdpManagerTest, RefusesToClobberAnotherProgramUnlessTold) {
    // A foreign XDP program: "return XDP_PASS", named "foreign".
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = XDP_PASS},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    const int foreign = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign", "GPL", insns, 2, nullptr);
    ASSERT_GE(foreign, 0);
    const int ifindex = static_cast<int>(if_nametoindex(if_.c_str()));
    ASSERT_EQ(bpf_xdp_attach(ifindex, foreign, XDP_FLAGS_DRV_MODE, nullptr), 0);
    auto gw = XdpGateway::open(opts());
    ASSERT_TRUE(gw);
    auto st = (*gw)->attach();
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("another XDP program 'foreign'"), std::string::npos) << st.error().message;
    EXPECT_EQ(st.error().code, -EBUSY);
    auto st2 = XdpGateway::clear_stale(opts());
    EXPECT_FALSE(st2) << "clear_stale must not remove a foreign program either";
    XdpOptions force = opts();
    force.replace_foreign = true;
    auto gw2 = XdpGateway::open(force);
    ASSERT_TRUE(gw2);
    EXPECT_TRUE((*gw2)->attach()) << "replace_foreign";
    auto cur = XdpGateway::query(if_);
    EXPECT_TRUE(cur && cur->is_gateway());
    EXPECT_TRUE((*gw2)->detach());
    close(foreign);
}

TEST_F(XdpManagerTest, ClearErrors) {
    XdpOptions bad = opts();
    bad.ifname = "eth9";
    auto e = XdpGateway::open(bad);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message, "xdp: cannot attach to 'eth9': No such device (-19)");

    XdpOptions no_btf = opts();
    no_btf.kernel_btf = "/nonexistent/vmlinux";
    auto n = XdpGateway::open(no_btf);
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("kernel has no BTF"), std::string::npos) << n.error().message;

    auto gw = XdpGateway::open(opts());
    ASSERT_TRUE(gw);
    auto h = (*gw)->add_block(P("10.0.0.1/8"));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().message, "xdp: block 10.0.0.1/8: host bits set, did you mean 10.0.0.0/8?");
    auto l = (*gw)->add_block(gw::net::IpPrefix{gw::net::Ip4Addr{0}, 33});
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message.find("prefix length 33 out of range 0..32"), std::string::npos);
    auto eg = (*gw)->add_bypass({.dst = P("203.0.113.0/24"),
                                 .egress_ifname = "eth9",
                                 .dst_mac = *gw::net::parse_mac("02:00:00:00:00:aa"),
                                 .src_mac = {}});
    ASSERT_FALSE(eg);
    EXPECT_EQ(eg.error().message, "xdp: bypass 203.0.113.0/24: no egress interface 'eth9': No such device (-19)");
    auto rl = (*gw)->set_rate_limit(10, 0);
    EXPECT_FALSE(rl);
}

}  // namespace
