#include "dataplane/fib.h"

#include <atomic>

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

namespace gw::dp {
namespace {

// rte_lpm tables need process-unique names; a Fib is rebuilt on every change.
std::atomic<uint32_t> g_fib_serial{0};

constexpr uint32_t kMaxRules4 = 65536;
constexpr uint32_t kNumTbl8 = 1024;
constexpr uint32_t kMaxRules6 = 16384;
constexpr uint32_t kNumTbl8For6 = 8192;

}  // namespace

Fib::~Fib() {
    rte_lpm_free(lpm4_);
    rte_lpm6_free(lpm6_);
}

Status Fib::add(const net::IpPrefix& prefix, const NextHop& nh) {
    const auto index = static_cast<uint32_t>(next_hops_.size());
    next_hops_.push_back(nh);
    int rc = 0;
    if (prefix.len == 0) {
        (prefix.is_v4() ? default4_ : default6_) = index;
        return {};
    }
    if (const auto* a4 = std::get_if<net::Ip4Addr>(&prefix.addr)) {
        rc = rte_lpm_add(lpm4_, a4->host, prefix.len, index);
    } else {
        rc = rte_lpm6_add(lpm6_, std::get<net::Ip6Addr>(prefix.addr).bytes.data(), prefix.len, index);
    }
    if (rc < 0) {
        return make_errno_error(rc, "fib: cannot add route {}: {}", net::to_string(prefix), rte_strerror(-rc));
    }
    return {};
}

Result<std::unique_ptr<Fib>> Fib::build(const cp::Config& config, int socket_id) {
    std::unique_ptr<Fib> fib(new Fib());
    const auto serial = g_fib_serial.fetch_add(1, std::memory_order_relaxed);
    const std::string name4 = "gw_fib4_" + std::to_string(serial);
    const std::string name6 = "gw_fib6_" + std::to_string(serial);

    const rte_lpm_config c4{.max_rules = kMaxRules4, .number_tbl8s = kNumTbl8, .flags = 0};
    fib->lpm4_ = rte_lpm_create(name4.c_str(), socket_id, &c4);
    if (fib->lpm4_ == nullptr) {
        return make_errno_error(-rte_errno, "fib: cannot create IPv4 LPM table: {}", rte_strerror(rte_errno));
    }
    rte_lpm6_config c6{.max_rules = kMaxRules6, .number_tbl8s = kNumTbl8For6, .flags = 0};
    fib->lpm6_ = rte_lpm6_create(name6.c_str(), socket_id, &c6);
    if (fib->lpm6_ == nullptr) {
        return make_errno_error(-rte_errno, "fib: cannot create IPv6 LPM table: {}", rte_strerror(rte_errno));
    }

    // Order matters only for readability of `show ip fib`: LPM picks the longest match.
    for (uint16_t p = 0; p < config.ports.size(); ++p) {
        for (const auto& a : config.ports[p].addresses) {
            if (auto st = fib->add(a.subnet(), NextHop{.kind = NextHopKind::on_link, .port = p}); !st) {
                return std::unexpected(st.error());
            }
            const net::IpPrefix host{a.addr, static_cast<uint8_t>(net::is_v4(a.addr) ? 32 : 128)};
            if (auto st = fib->add(host, NextHop{.kind = NextHopKind::local, .port = p}); !st) {
                return std::unexpected(st.error());
            }
        }
    }
    for (const auto& r : config.routes) {
        NextHop nh{.kind = NextHopKind::on_link, .port = r.port};
        if (r.blackhole) {
            nh.kind = NextHopKind::blackhole;
        } else if (r.via) {
            nh.kind = NextHopKind::via;
            if (const auto* v4 = std::get_if<net::Ip4Addr>(&*r.via)) {
                nh.gw4_host = v4->host;
            } else {
                nh.gw6 = std::get<net::Ip6Addr>(*r.via).bytes;
            }
        }
        if (auto st = fib->add(r.prefix, nh); !st) {
            return std::unexpected(st.error());
        }
    }
    return fib;
}

}  // namespace gw::dp
