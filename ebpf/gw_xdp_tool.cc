// gw-xdp: the XDP program's rules and counters without gatewayd. Operates on
// the same pins as gatewayd (<pin-root>/<ifname>/), so what it changes a
// running or restarted gatewayd sees, and vice versa. One command per run:
//
//   gw-xdp [--pin-root DIR] IFNAME attach [native|generic] [replace]
//   gw-xdp [--pin-root DIR] IFNAME detach          # pins are kept
//   gw-xdp [--pin-root DIR] IFNAME block|unblock PREFIX
//   gw-xdp [--pin-root DIR] IFNAME ratelimit PPS BURST   # PPS 0: off
//   gw-xdp [--pin-root DIR] IFNAME pass arp|nd|icmp|none
//   gw-xdp [--pin-root DIR] IFNAME pass|nopass tcp|udp PORT
//   gw-xdp [--pin-root DIR] IFNAME local IP
//   gw-xdp [--pin-root DIR] IFNAME bypass PREFIX EGRESS DST-MAC [SRC-MAC]
//   gw-xdp [--pin-root DIR] IFNAME unbypass PREFIX
//   gw-xdp [--pin-root DIR] IFNAME stats
//
// Exit status: 0 done, 1 the operation failed, 2 usage.

#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "ebpf/xdp_manager.h"

namespace {

using gw::bpf::XdpGateway;

int usage() {
    std::fputs(
        "usage: gw-xdp [--pin-root DIR] IFNAME attach [native|generic] [replace] | detach | block PREFIX |\n"
        "       unblock PREFIX | ratelimit PPS BURST | pass arp|nd|icmp|none | pass|nopass tcp|udp PORT |\n"
        "       local IP | bypass PREFIX EGRESS DST-MAC [SRC-MAC] | unbypass PREFIX | stats\n",
        stderr);
    return 2;
}

int failed(const gw::Error& e) {
    std::fprintf(stderr, "gw-xdp: %s\n", e.message.c_str());
    return 1;
}

std::optional<uint64_t> number(std::string_view s) {
    uint64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    gw::bpf::XdpOptions opt;
    if (args.size() >= 2 && args[0] == "--pin-root") {
        opt.pin_root = std::string(args[1]);
        args.erase(args.begin(), args.begin() + 2);
    }
    if (args.size() < 2) {
        return usage();
    }
    opt.ifname = std::string(args[0]);
    const std::string_view cmd = args[1];
    const std::vector<std::string_view> rest(args.begin() + 2, args.end());

    if (cmd == "detach") {
        auto st = XdpGateway::clear_stale(opt);
        return st ? 0 : failed(st.error());
    }
    if (cmd == "attach") {
        for (auto a : rest) {
            if (a == "generic") {
                opt.mode = gw::bpf::XdpMode::generic;
            } else if (a == "replace") {
                opt.replace_foreign = true;
            } else if (a != "native") {
                return usage();
            }
        }
    }
    auto gw_or = XdpGateway::open(opt);
    if (!gw_or) {
        return failed(gw_or.error());
    }
    auto& xdp = **gw_or;
    gw::Status st;
    auto prefix = [](std::string_view s) -> gw::Result<gw::net::IpPrefix> {
        auto p = gw::net::parse_prefix(s);
        if (!p) {
            return gw::make_errno_error(-22, "xdp: invalid prefix '{}'", s);
        }
        return *p;
    };
    if (cmd == "attach") {
        st = xdp.attach();  // stays attached after we exit: XDP attachments outlive the process
    } else if ((cmd == "block" || cmd == "unblock" || cmd == "unbypass") && rest.size() == 1) {
        auto p = prefix(rest[0]);
        if (!p) {
            return failed(p.error());
        }
        if (cmd == "block") {
            auto id = xdp.add_block(*p);
            st = id ? gw::Status{} : std::unexpected(id.error());
        } else if (cmd == "unblock") {
            st = xdp.del_block(*p);
        } else {
            st = xdp.del_bypass(*p);
        }
    } else if (cmd == "ratelimit" && rest.size() == 2) {
        const auto pps = number(rest[0]);
        const auto burst = number(rest[1]);
        if (!pps || !burst) {
            return usage();
        }
        st = xdp.set_rate_limit(*pps, *burst);
    } else if ((cmd == "pass" || cmd == "nopass") && rest.size() == 2) {
        const auto port = number(rest[1]);
        if (!port || *port > 65535 || (rest[0] != "tcp" && rest[0] != "udp")) {
            return usage();
        }
        const auto proto = rest[0] == "tcp" ? gw::bpf::L4Proto::tcp : gw::bpf::L4Proto::udp;
        st = cmd == "pass" ? xdp.add_mgmt_port(proto, static_cast<uint16_t>(*port))
                           : xdp.del_mgmt_port(proto, static_cast<uint16_t>(*port));
    } else if (cmd == "pass" && !rest.empty()) {
        uint32_t flags = 0;
        for (auto a : rest) {
            if (a == "arp") {
                flags |= GW_XDP_MGMT_ARP;
            } else if (a == "nd") {
                flags |= GW_XDP_MGMT_ND;
            } else if (a == "icmp") {
                flags |= GW_XDP_MGMT_ICMP;
            } else if (a != "none") {
                return usage();
            }
        }
        st = xdp.set_mgmt_flags(flags);
    } else if (cmd == "local" && rest.size() == 1) {
        auto ip = gw::net::parse_ip(rest[0]);
        if (!ip) {
            return usage();
        }
        st = xdp.add_local_address(*ip);
    } else if (cmd == "bypass" && (rest.size() == 3 || rest.size() == 4)) {
        auto p = prefix(rest[0]);
        auto dmac = gw::net::parse_mac(rest[2]);
        if (!p) {
            return failed(p.error());
        }
        if (!dmac) {
            return usage();
        }
        gw::bpf::BypassRule rule{.dst = *p, .egress_ifname = std::string(rest[1]), .dst_mac = *dmac, .src_mac = {}};
        if (rest.size() == 4) {
            rule.src_mac = gw::net::parse_mac(rest[3]);
            if (!rule.src_mac) {
                return usage();
            }
        }
        auto id = xdp.add_bypass(rule);
        st = id ? gw::Status{} : std::unexpected(id.error());
    } else if (cmd == "stats" && rest.empty()) {
        auto v = xdp.verdict_counters();
        if (!v) {
            return failed(v.error());
        }
        for (const auto& s : gw::bpf::stat_table()) {
            std::printf("%-16.*s %12llu pkts %14llu bytes\n", static_cast<int>(s.label.size()), s.label.data(),
                        static_cast<unsigned long long>((*v)[s.id].packets),
                        static_cast<unsigned long long>((*v)[s.id].bytes));
        }
        auto rules = xdp.rule_counters();
        if (!rules) {
            return failed(rules.error());
        }
        for (const auto& r : *rules) {
            std::printf("rule %-4u %-6s %-24s %12llu pkts %14llu bytes\n", r.rule_id,
                        r.kind == gw::bpf::RuleKind::block ? "block" : "bypass", gw::net::to_string(r.prefix).c_str(),
                        static_cast<unsigned long long>(r.counter.packets),
                        static_cast<unsigned long long>(r.counter.bytes));
        }
    } else {
        return usage();
    }
    return st ? 0 : failed(st.error());
}
