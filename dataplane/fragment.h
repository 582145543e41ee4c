#pragma once
// IPv4 fragmentation (RFC 791) for packets that exceed an egress MTU and may
// be fragmented (DF clear): plain forwarding always, and IPsec tunnels
// before encryption when the config asks for it (`dataplane ipsec-fragment
// on`, RFC 4459 pre-fragmentation: the far end reassembles, not the peer
// gateway).

#include <cstdint>

struct rte_mbuf;

namespace gw::dp {

inline constexpr uint16_t kMaxFragments = 16;

// Splits `m` (Ethernet + IPv4) into fragments whose IP packets are at most
// `mtu` bytes. Each fragment is one segment with its Ethernet header space in
// front (ether_type set, addresses to be filled by the caller) and a valid
// header checksum. On success `m` is consumed and the count returned; on
// failure (no mbufs, more than `max_out` fragments) returns 0 and `m` is
// untouched.
[[nodiscard]] uint16_t ip4_fragment(rte_mbuf* m, uint16_t mtu, rte_mbuf** out, uint16_t max_out) noexcept;

}  // namespace gw::dp
