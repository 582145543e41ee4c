#pragma once
// ICMP and ICMPv6 messages the gateway originates: errors about packets it
// cannot forward (RFC 792 / RFC 1812 4.3, RFC 4443) and echo replies.

#include <cstdint>

#include "dataplane/fib.h"

struct rte_mbuf;
struct rte_ipv4_hdr;
struct rte_ipv6_hdr;
struct rte_icmp_hdr;

namespace gw::dp {

enum class IcmpError : uint8_t {
    time_exceeded,    // v4 11/0, v6 3/0
    net_unreachable,  // v4 3/0, v6 1/0
    frag_needed,      // v4 3/4 with next-hop MTU, v6 2/0 packet too big
};

// Builds, in a new mbuf from `offender`'s pool, the ICMP error about
// `offender` (Ethernet + IP as received), sourced from `in_port`'s address.
// Returns nullptr when no error may be sent (the offender is itself an ICMP
// error, a non-initial fragment, from a multicast/unspecified source; the
// port has no address of that family) or when no mbuf is free.
// The result has L2 space with ether_type set and is ready for output_local.
// Whether an error about `offender` may be sent at all (the exclusions above).
[[nodiscard]] bool icmp_error_allowed(const rte_mbuf* offender, const PortInfo& in_port) noexcept;

[[nodiscard]] rte_mbuf* build_icmp_error(const rte_mbuf* offender, const PortInfo& in_port, IcmpError kind,
                                         uint32_t mtu) noexcept;

// Turns an echo request into its reply in place (addresses swapped, TTL /
// hop limit reset, checksums updated).
void make_echo_reply4(rte_ipv4_hdr* ip, rte_icmp_hdr* icmp) noexcept;
void make_echo_reply6(rte_ipv6_hdr* ip, rte_icmp_hdr* icmp) noexcept;

}  // namespace gw::dp
