#pragma once
// Every reason the data plane drops a packet, declared once. The enum, the
// counter index, the metric label and the operator's description all come
// from this table (as VPP declares its error counters).

#include <array>
#include <cstdint>
#include <string_view>

namespace gw::dp {

// X(identifier, label, description)
#define GW_DROP_REASONS(X)                                                                               \
    X(l2_truncated, "l2-truncated", "frame shorter than an Ethernet header")                             \
    X(l2_other_host, "l2-other-host", "unicast frame addressed to another MAC")                          \
    X(l2_unsupported_ethertype, "l2-unsupported-ethertype", "neither IPv4, IPv6 nor ARP")                \
    X(arp_malformed, "arp-malformed", "ARP packet that is truncated or not Ethernet/IPv4")               \
    X(arp_not_for_us, "arp-not-for-us", "ARP request for an address the gateway does not own")           \
    X(ip4_truncated, "ip4-truncated", "IPv4 header or total length beyond the frame")                    \
    X(ip4_bad_header, "ip4-bad-header", "IPv4 version or header length invalid")                         \
    X(ip4_bad_checksum, "ip4-bad-checksum", "IPv4 header checksum mismatch")                             \
    X(ip4_martian_source, "ip4-martian-source", "IPv4 source is multicast, broadcast or loopback")       \
    X(ip4_not_forwarded, "ip4-not-forwarded", "IPv4 multicast or broadcast destination")                 \
    X(ip6_truncated, "ip6-truncated", "IPv6 header or payload length beyond the frame")                  \
    X(ip6_bad_header, "ip6-bad-header", "IPv6 version invalid")                                          \
    X(ip6_martian_source, "ip6-martian-source", "IPv6 source is multicast, loopback or unspecified")     \
    X(ip6_not_forwarded, "ip6-not-forwarded", "IPv6 multicast or link-local destination")                \
    X(nd_malformed, "nd-malformed", "neighbor discovery message that fails RFC 4861 checks")             \
    X(ttl_exceeded, "ttl-exceeded", "TTL or hop limit expired in transit")                               \
    X(no_route, "no-route", "no route to the destination")                                               \
    X(blackhole, "blackhole", "destination matches a blackhole route")                                   \
    X(mtu_exceeded, "mtu-exceeded", "packet larger than the egress MTU")                                 \
    X(local_unsupported, "local-unsupported", "addressed to the gateway, not a service it offers")       \
    X(punt_queue_full, "punt-queue-full", "slow-path queue to the control thread full")                  \
    X(neighbor_queue_full, "neighbor-queue-full", "too many packets waiting for one neighbor")           \
    X(neighbor_unresolved, "neighbor-unresolved", "next hop did not answer ARP / ND")                    \
    X(neighbor_table_full, "neighbor-table-full", "no room for another neighbor entry")                  \
    X(tx_full, "tx-full", "transmit queue did not accept the packet")                                    \
    X(ipsec_policy_discard, "ipsec-policy-discard", "matches a discard security policy")                 \
    X(ipsec_policy_mismatch, "ipsec-policy-mismatch", "protected-policy traffic in clear or wrong SA")   \
    X(ipsec_sa_expired, "ipsec-sa-expired", "SA stopped: hard lifetime or sequence overflow")            \
    X(esp_truncated, "esp-truncated", "ESP packet shorter than header, IV, trailer and ICV")             \
    X(esp_unknown_spi, "esp-unknown-spi", "no inbound SA for the SPI and destination")                   \
    X(esp_replay, "esp-replay", "sequence number already seen (anti-replay)")                            \
    X(esp_too_old, "esp-too-old", "sequence number left of the anti-replay window")                      \
    X(esp_auth_failed, "esp-auth-failed", "ICV check failed")                                            \
    X(esp_bad_padding, "esp-bad-padding", "ESP padding bytes or pad length invalid")                     \
    X(esp_bad_next_header, "esp-bad-next-header", "ESP next header neither IPv4 nor IPv6")               \
    X(esp_dummy, "esp-dummy", "ESP dummy packet (next header 59), discarded as RFC 4303 says")           \
    X(esp_no_room, "esp-no-room", "no room: mbuf head/tailroom, chained mbuf, or the burst's ESP batch") \
    X(esp_crypto_failed, "esp-crypto-failed", "the crypto library rejected the operation")               \
    X(mbuf_alloc_failed, "mbuf-alloc-failed", "no mbuf for a generated packet")

enum class DropReason : uint8_t {
#define GW_X(id, label, doc) id,
    GW_DROP_REASONS(GW_X)
#undef GW_X
        count
};

inline constexpr std::size_t kNumDropReasons = static_cast<std::size_t>(DropReason::count);

struct DropReasonInfo {
    std::string_view label;
    std::string_view description;
};

inline constexpr std::array<DropReasonInfo, kNumDropReasons> kDropReasonInfo = {{
#define GW_X(id, label, doc) {label, doc},
    GW_DROP_REASONS(GW_X)
#undef GW_X
}};

[[nodiscard]] constexpr std::string_view drop_label(DropReason r) noexcept {
    return kDropReasonInfo[static_cast<std::size_t>(r)].label;
}

}  // namespace gw::dp
