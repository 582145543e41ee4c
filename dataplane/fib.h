#pragma once
// Forwarding information base: IPv4 routes in rte_lpm, IPv6 routes in
// rte_lpm6, both resolving to an index into a next-hop array. Built once from
// the validated config (connected subnets, the gateway's own addresses as
// host routes of kind `local`, static routes) and then read-only: a runtime
// change builds a new Fib and swaps it in.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <rte_ether.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include "common/error.h"
#include "common/net.h"
#include "controlplane/config.h"

namespace gw::dp {

enum class NextHopKind : uint8_t {
    via,        // forward to the gateway address in `gw`
    on_link,    // forward to the packet's own destination (connected subnet)
    local,      // addressed to the gateway itself
    blackhole,  // drop
};

struct NextHop {
    NextHopKind kind = NextHopKind::blackhole;
    uint16_t port = 0;              // index into the port table (config order)
    uint32_t gw4_host = 0;          // kind == via, IPv4
    std::array<uint8_t, 16> gw6{};  // kind == via, IPv6
};

// What the data plane needs to know about each port, in config order.
struct PortInfo {
    uint16_t port_id = 0;  // DPDK ethdev id
    rte_ether_addr mac{};
    uint16_t mtu = 1500;
    std::vector<cp::InterfaceAddress> addresses;
    // First IPv4/IPv6 address of the port: source of ICMP errors sent from it.
    uint32_t icmp_src4_host = 0;
    std::array<uint8_t, 16> icmp_src6{};
    bool has_v4 = false;
    bool has_v6 = false;
};

class Fib {
public:
    static constexpr uint32_t kNoRoute = UINT32_MAX;

    ~Fib();
    Fib(const Fib&) = delete;
    Fib& operator=(const Fib&) = delete;

    [[nodiscard]] static Result<std::unique_ptr<Fib>> build(const cp::Config& config, int socket_id);

    // Returns a next-hop index or kNoRoute. Safe from any lcore.
    [[nodiscard]] uint32_t lookup4(uint32_t dst_host) const noexcept {
        uint32_t nh = 0;
        return rte_lpm_lookup(lpm4_, dst_host, &nh) == 0 ? nh : default4_;
    }
    [[nodiscard]] uint32_t lookup6(const uint8_t* dst) const noexcept {
        uint32_t nh = 0;
        return rte_lpm6_lookup(lpm6_, dst, &nh) == 0 ? nh : default6_;
    }
    [[nodiscard]] const NextHop& next_hop(uint32_t index) const noexcept { return next_hops_[index]; }
    [[nodiscard]] std::size_t size() const noexcept { return next_hops_.size(); }

private:
    Fib() = default;
    Status add(const net::IpPrefix& prefix, const NextHop& nh);

    rte_lpm* lpm4_ = nullptr;
    rte_lpm6* lpm6_ = nullptr;
    std::vector<NextHop> next_hops_;
    // rte_lpm and rte_lpm6 take no /0 rule: the default routes live here.
    uint32_t default4_ = kNoRoute;
    uint32_t default6_ = kNoRoute;
};

}  // namespace gw::dp
