#pragma once
// ESP tunnel mode with AES-GCM (RFC 4303, RFC 4106) over the lcore's queued
// ESP work: each call handles the whole batch, reserving sequence numbers and
// taking replay locks once per SA group, and submitting every packet's crypto
// to ipsec-mb back to back.

#include <cstdint>

#include "dataplane/lcore_context.h"

struct rte_mbuf;

namespace gw::dp::ipsec {

// Encapsulates ctx.esp_out (inner packets with their Ethernet header, TTL
// already decremented). Writes the ESP packets, Ethernet space in front and
// ether_type set, to `out`; returns how many. Failures are dropped and counted.
uint16_t esp_encrypt(LcoreContext& ctx, rte_mbuf** out) noexcept;

// Verifies and decapsulates ctx.esp_in (Ethernet + outer IP + ESP as
// received). Writes the inner packets, with Ethernet space in front and
// ether_type set, to `out` and the SA each came through to `out_sa`.
uint16_t esp_decrypt(LcoreContext& ctx, rte_mbuf** out, Sa** out_sa) noexcept;

// Bytes ESP tunnel mode adds around an inner packet of `inner_len` bytes.
[[nodiscard]] constexpr uint32_t esp_overhead(uint32_t inner_len, bool outer_v6) noexcept {
    const uint32_t pad = (4 - ((inner_len + kEspTrailerLen) & 3)) & 3;
    return (outer_v6 ? 40 : 20) + kEspHeaderLen + kEspIvLen + pad + kEspTrailerLen + kEspIcvLen;
}

// The largest inner packet whose ESP tunnel packet fits `mtu`: what ICMP
// fragmentation-needed / packet-too-big reports through the tunnel.
[[nodiscard]] constexpr uint32_t esp_max_inner(uint32_t mtu, bool outer_v6) noexcept {
    const uint32_t fixed = (outer_v6 ? 40 : 20) + kEspHeaderLen + kEspIvLen + kEspIcvLen;
    // inner + pad + trailer is a multiple of 4, so it may fill (mtu - fixed) rounded down.
    return mtu > fixed + 4 ? ((mtu - fixed) & ~3u) - kEspTrailerLen : 0;
}

}  // namespace gw::dp::ipsec
