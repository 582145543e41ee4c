#include "ebpf/xdp_fast_path.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "common/log.h"

#ifndef GW_XDP_OBJECT
#error "GW_XDP_OBJECT (path of xdp_gateway.bpf.o) comes from ebpf/meson.build"
#endif

namespace gw::bpf {
namespace {

// The kernel interface's own addresses: management ports and ICMP echo pass
// only to these.
std::vector<net::IpAddr> iface_addresses(const std::string& ifname) {
    std::vector<net::IpAddr> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) {
        return out;
    }
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr || ifname != a->ifa_name) {
            continue;
        }
        if (a->ifa_addr->sa_family == AF_INET) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
            out.push_back(net::Ip4Addr{ntohl(sin->sin_addr.s_addr)});
        } else if (a->ifa_addr->sa_family == AF_INET6) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
            net::Ip6Addr v6;
            std::memcpy(v6.bytes.data(), &sin6->sin6_addr, 16);
            out.push_back(v6);
        }
    }
    freeifaddrs(list);
    return out;
}

template <typename T>
Status as_status(const Result<T>& r) {
    if (!r) {
        return std::unexpected(r.error());
    }
    return {};
}

}  // namespace

Result<XdpFastPath> XdpFastPath::prepare(cp::Config& config) {
    XdpFastPath fp;
    fp.xdp_ = config.xdp;
    for (const auto& x : config.xdp.ports) {
        auto& pc = config.ports[x.port];
        Port p;
        p.name = pc.name;
        p.ifname = cp::kernel_iface(pc.devargs);
        p.af_xdp = pc.devargs.starts_with("net_af_xdp");
        p.options = XdpOptions{.ifname = p.ifname,
                               .mode = x.mode == cp::XdpMode::native ? XdpMode::native : XdpMode::generic,
                               .replace_foreign = x.replace};
        if (p.af_xdp) {
            if (auto st = XdpGateway::clear_stale(p.options); !st) {
                return std::unexpected(st.error());
            }
            if (pc.devargs.find("xdp_prog=") == std::string::npos) {
                pc.devargs += ",xdp_prog=" GW_XDP_OBJECT;
            }
        } else {
            auto gw = XdpGateway::open(p.options);
            if (!gw) {
                return std::unexpected(gw.error());
            }
            p.gw = std::move(*gw);
            if (auto st = fp.apply(p); !st) {
                return std::unexpected(st.error());
            }
            if (auto st = p.gw->attach(); !st) {
                return std::unexpected(st.error());
            }
        }
        fp.ports_.push_back(std::move(p));
    }
    return fp;
}

Status XdpFastPath::adopt() {
    for (auto& p : ports_) {
        if (!p.af_xdp || p.gw) {
            continue;
        }
        auto xsks = XdpGateway::attached_xsks_map(p.ifname);
        if (!xsks) {
            return std::unexpected(xsks.error());
        }
        XdpOptions o = p.options;
        o.xsks_map_fd = *xsks;
        auto gw = XdpGateway::open(o);
        ::close(*xsks);  // libbpf dup()ed it
        if (!gw) {
            return std::unexpected(gw.error());
        }
        p.gw = std::move(*gw);
        if (auto st = apply(p); !st) {
            return st;
        }
        if (auto st = p.gw->attach(); !st) {  // replaces the PMD's instance (XDP_FLAGS_REPLACE)
            return st;
        }
    }
    return {};
}

Status XdpFastPath::apply(Port& p) {
    const auto& x = xdp_;
    auto& gw = *p.gw;
    const uint32_t flags =
        (x.pass_arp ? GW_XDP_MGMT_ARP : 0u) | (x.pass_nd ? GW_XDP_MGMT_ND : 0u) | (x.pass_icmp ? GW_XDP_MGMT_ICMP : 0u);
    if (auto st = gw.set_mgmt_flags(flags); !st) {
        return st;
    }
    for (auto port : x.pass_tcp) {
        if (auto st = gw.add_mgmt_port(L4Proto::tcp, port); !st) {
            return st;
        }
    }
    for (auto port : x.pass_udp) {
        if (auto st = gw.add_mgmt_port(L4Proto::udp, port); !st) {
            return st;
        }
    }
    for (const auto& a : iface_addresses(p.ifname)) {
        if (auto st = gw.add_local_address(a); !st) {
            return st;
        }
    }
    if (auto st = gw.set_rate_limit(x.rate_pps, x.rate_burst); !st) {
        return st;
    }
    for (const auto& b : x.blocks) {
        if (auto st = as_status(gw.add_block(b)); !st) {
            return st;
        }
    }
    for (const auto& b : x.bypass) {
        BypassRule r{.dst = b.prefix, .egress_ifname = b.via_iface, .dst_mac = b.dst_mac, .src_mac = b.src_mac};
        if (auto st = as_status(gw.add_bypass(r)); !st) {
            return st;
        }
    }
    return {};
}

Status XdpFastPath::update(const cp::XdpConfig& next) {
    if (next.ports != xdp_.ports) {
        return make_error("xdp: the set of 'xdp port' interfaces changes only with a restart");
    }
    const auto& cur = xdp_;
    auto missing = [](const auto& from, const auto& in) {
        std::vector<typename std::decay_t<decltype(from)>::value_type> out;
        for (const auto& v : from) {
            if (std::ranges::find(in, v) == in.end()) {
                out.push_back(v);
            }
        }
        return out;
    };
    for (auto& p : ports_) {
        if (!p.gw) {
            continue;
        }
        auto& gw = *p.gw;
        const uint32_t flags = (next.pass_arp ? GW_XDP_MGMT_ARP : 0u) | (next.pass_nd ? GW_XDP_MGMT_ND : 0u) |
                               (next.pass_icmp ? GW_XDP_MGMT_ICMP : 0u);
        Status st = gw.set_mgmt_flags(flags);
        for (auto port : missing(cur.pass_tcp, next.pass_tcp)) {
            st = st ? gw.del_mgmt_port(L4Proto::tcp, port) : st;
        }
        for (auto port : missing(cur.pass_udp, next.pass_udp)) {
            st = st ? gw.del_mgmt_port(L4Proto::udp, port) : st;
        }
        for (auto port : missing(next.pass_tcp, cur.pass_tcp)) {
            st = st ? gw.add_mgmt_port(L4Proto::tcp, port) : st;
        }
        for (auto port : missing(next.pass_udp, cur.pass_udp)) {
            st = st ? gw.add_mgmt_port(L4Proto::udp, port) : st;
        }
        if (st && (next.rate_pps != cur.rate_pps || next.rate_burst != cur.rate_burst)) {
            st = gw.set_rate_limit(next.rate_pps, next.rate_burst);
        }
        for (const auto& b : missing(cur.blocks, next.blocks)) {
            st = st ? gw.del_block(b) : st;
        }
        for (const auto& b : missing(next.blocks, cur.blocks)) {
            st = st ? as_status(gw.add_block(b)) : st;
        }
        for (const auto& b : missing(cur.bypass, next.bypass)) {
            st = st ? gw.del_bypass(b.prefix) : st;
        }
        for (const auto& b : missing(next.bypass, cur.bypass)) {
            BypassRule r{.dst = b.prefix, .egress_ifname = b.via_iface, .dst_mac = b.dst_mac, .src_mac = b.src_mac};
            st = st ? as_status(gw.add_bypass(r)) : st;
        }
        if (!st) {
            return make_error("xdp port '{}': {}", p.name, st.error().message);
        }
    }
    xdp_ = next;
    return {};
}

std::vector<telemetry::XdpVerdict> XdpFastPath::verdicts() const {
    std::vector<telemetry::XdpVerdict> out;
    for (const auto& p : ports_) {
        if (!p.gw) {
            continue;
        }
        auto v = p.gw->verdict_counters();
        if (!v) {
            continue;
        }
        for (const auto& s : stat_table()) {
            out.push_back(telemetry::XdpVerdict{.iface = p.ifname,
                                                .verdict = std::string(s.label),
                                                .packets = (*v)[s.id].packets,
                                                .bytes = (*v)[s.id].bytes});
        }
    }
    return out;
}

void XdpFastPath::detach() {
    for (auto& p : ports_) {
        if (p.gw) {
            if (auto st = p.gw->detach(); !st) {
                log::warn("{}", st.error().message);
            }
        }
    }
}

std::string XdpFastPath::format_text() const {
    std::string out;
    for (const auto& p : ports_) {
        if (!p.gw) {
            continue;
        }
        out += fmt::format("xdp port {} ({}):\n", p.name, p.ifname);
        auto v = p.gw->verdict_counters();
        if (!v) {
            out += fmt::format("  {}\n", v.error().message);
            continue;
        }
        for (const auto& s : stat_table()) {
            out += fmt::format("  {:<16} {:>14} pkts {:>16} bytes\n", s.label, (*v)[s.id].packets, (*v)[s.id].bytes);
        }
        if (auto rules = p.gw->rule_counters()) {
            for (const auto& r : *rules) {
                out += fmt::format("  rule {:<4} {:<6} {:<24} {:>14} pkts {:>16} bytes\n", r.rule_id,
                                   r.kind == RuleKind::block ? "block" : "bypass", net::to_string(r.prefix),
                                   r.counter.packets, r.counter.bytes);
            }
        }
    }
    return out;
}

nlohmann::json XdpFastPath::to_json() const {
    nlohmann::json ports = nlohmann::json::object();
    for (const auto& p : ports_) {
        if (!p.gw) {
            continue;
        }
        nlohmann::json j;
        j["iface"] = p.ifname;
        if (auto v = p.gw->verdict_counters()) {
            for (const auto& s : stat_table()) {
                j["verdicts"][std::string(s.label)] = {{"packets", (*v)[s.id].packets}, {"bytes", (*v)[s.id].bytes}};
            }
        }
        j["rules"] = nlohmann::json::array();
        if (auto rules = p.gw->rule_counters()) {
            for (const auto& r : *rules) {
                j["rules"].push_back({{"id", r.rule_id},
                                      {"kind", r.kind == RuleKind::block ? "block" : "bypass"},
                                      {"prefix", net::to_string(r.prefix)},
                                      {"packets", r.counter.packets},
                                      {"bytes", r.counter.bytes}});
            }
        }
        ports[p.name] = std::move(j);
    }
    return ports;
}

}  // namespace gw::bpf
