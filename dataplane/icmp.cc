#include "dataplane/icmp.h"

#include <algorithm>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/checksum.h"

namespace gw::dp {
namespace {

constexpr uint16_t kEthHdrLen = sizeof(rte_ether_hdr);
constexpr uint8_t kDefaultTtl = 64;
// RFC 1812 4.3.2.3: the error datagram should not exceed 576 bytes.
constexpr uint32_t kIcmp4MaxLen = 576;
// RFC 4443 2.4(c): as much of the invoking packet as fits in the minimum MTU.
constexpr uint32_t kIcmp6MaxLen = 1280;
constexpr uint16_t kIcmpHdrLen = 8;

bool icmp4_is_error(uint8_t type) noexcept {
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

// rte_pktmbuf_read copies only when the range spans segments; otherwise it
// returns a pointer into the mbuf, which we copy from ourselves.
void copy_quote(const rte_mbuf* offender, uint32_t len, uint8_t* out) noexcept {
    const void* p = rte_pktmbuf_read(offender, kEthHdrLen, len, out);
    if (p != nullptr && p != out) {
        std::memcpy(out, p, len);
    }
}

rte_mbuf* alloc_like(const rte_mbuf* offender, uint32_t len) noexcept {
    rte_mbuf* e = rte_pktmbuf_alloc(offender->pool);
    if (e == nullptr) {
        return nullptr;
    }
    if (rte_pktmbuf_append(e, static_cast<uint16_t>(len)) == nullptr) {
        rte_pktmbuf_free(e);
        return nullptr;
    }
    e->port = offender->port;
    return e;
}

rte_mbuf* build4(const rte_mbuf* offender, const PortInfo& in_port, IcmpError kind, uint32_t mtu) noexcept {
    const auto* orig = rte_pktmbuf_mtod_offset(offender, const rte_ipv4_hdr*, kEthHdrLen);
    const uint16_t orig_ihl = static_cast<uint16_t>((orig->version_ihl & 0x0f) * 4);
    if (!in_port.has_v4) {
        return nullptr;
    }
    if ((orig->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
        return nullptr;  // only the first fragment may trigger an error
    }
    if (orig->next_proto_id == IPPROTO_ICMP) {
        if (rte_pktmbuf_data_len(offender) < kEthHdrLen + orig_ihl + 1) {
            return nullptr;
        }
        const uint8_t type = *(reinterpret_cast<const uint8_t*>(orig) + orig_ihl);
        if (icmp4_is_error(type)) {
            return nullptr;
        }
    }
    const uint32_t orig_len = rte_be_to_cpu_16(orig->total_length);
    const uint32_t quote = std::min<uint32_t>(orig_len, kIcmp4MaxLen - sizeof(rte_ipv4_hdr) - kIcmpHdrLen);
    const uint32_t ip_len = sizeof(rte_ipv4_hdr) + kIcmpHdrLen + quote;
    rte_mbuf* e = alloc_like(offender, kEthHdrLen + ip_len);
    if (e == nullptr) {
        return nullptr;
    }
    auto* eth = rte_pktmbuf_mtod(e, rte_ether_hdr*);
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->type_of_service = 0xc0;  // internetwork control
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len));
    ip->packet_id = 0;
    ip->fragment_offset = 0;
    ip->time_to_live = kDefaultTtl;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = rte_cpu_to_be_32(in_port.icmp_src4_host);
    ip->dst_addr = orig->src_addr;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);

    auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
    std::memset(icmp, 0, kIcmpHdrLen);
    switch (kind) {
        case IcmpError::time_exceeded:
            icmp[0] = 11;
            break;
        case IcmpError::net_unreachable:
            icmp[0] = 3;
            break;
        case IcmpError::frag_needed: {
            icmp[0] = 3;
            icmp[1] = 4;
            const uint16_t mtu_be = rte_cpu_to_be_16(static_cast<uint16_t>(mtu));
            std::memcpy(icmp + 6, &mtu_be, sizeof mtu_be);
            break;
        }
    }
    copy_quote(offender, quote, icmp + kIcmpHdrLen);
    const uint16_t sum = rte_raw_cksum(icmp, kIcmpHdrLen + quote);
    const uint16_t check = static_cast<uint16_t>(~sum);
    std::memcpy(icmp + 2, &check, sizeof check);  // raw sum is in memory order already
    return e;
}

rte_mbuf* build6(const rte_mbuf* offender, const PortInfo& in_port, IcmpError kind, uint32_t mtu) noexcept {
    const auto* orig = rte_pktmbuf_mtod_offset(offender, const rte_ipv6_hdr*, kEthHdrLen);
    if (!in_port.has_v6) {
        return nullptr;
    }
    static constexpr uint8_t kUnspecified[16] = {};
    if (orig->src_addr[0] == 0xff || std::memcmp(orig->src_addr, kUnspecified, 16) == 0) {
        return nullptr;
    }
    if (orig->proto == IPPROTO_ICMPV6) {
        if (rte_pktmbuf_data_len(offender) < kEthHdrLen + sizeof(rte_ipv6_hdr) + 1) {
            return nullptr;
        }
        const uint8_t type = *reinterpret_cast<const uint8_t*>(orig + 1);
        if (type < 128) {
            return nullptr;  // never an error about an error (RFC 4443 2.4(e))
        }
    }
    const uint32_t orig_len = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(orig->payload_len);
    const uint32_t quote = std::min<uint32_t>(orig_len, kIcmp6MaxLen - sizeof(rte_ipv6_hdr) - kIcmpHdrLen);
    const uint32_t payload = kIcmpHdrLen + quote;
    rte_mbuf* e = alloc_like(offender, kEthHdrLen + sizeof(rte_ipv6_hdr) + payload);
    if (e == nullptr) {
        return nullptr;
    }
    auto* eth = rte_pktmbuf_mtod(e, rte_ether_hdr*);
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(payload));
    ip->proto = IPPROTO_ICMPV6;
    ip->hop_limits = kDefaultTtl;
    std::memcpy(ip->src_addr, in_port.icmp_src6.data(), 16);
    std::memcpy(ip->dst_addr, orig->src_addr, 16);

    auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
    std::memset(icmp, 0, kIcmpHdrLen);
    switch (kind) {
        case IcmpError::time_exceeded:
            icmp[0] = 3;
            break;
        case IcmpError::net_unreachable:
            icmp[0] = 1;
            break;
        case IcmpError::frag_needed: {
            icmp[0] = 2;
            const uint32_t mtu_be = rte_cpu_to_be_32(mtu);
            std::memcpy(icmp + 4, &mtu_be, sizeof mtu_be);
            break;
        }
    }
    copy_quote(offender, quote, icmp + kIcmpHdrLen);
    const uint16_t check = rte_ipv6_udptcp_cksum(ip, icmp);
    std::memcpy(icmp + 2, &check, sizeof check);
    return e;
}

}  // namespace

bool icmp_error_allowed(const rte_mbuf* offender, const PortInfo& in_port) noexcept {
    const auto* eth = rte_pktmbuf_mtod(offender, const rte_ether_hdr*);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        const auto* orig = rte_pktmbuf_mtod_offset(offender, const rte_ipv4_hdr*, kEthHdrLen);
        const uint16_t ihl = static_cast<uint16_t>((orig->version_ihl & 0x0f) * 4);
        if (!in_port.has_v4 || (orig->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
            return false;  // only the first fragment may trigger an error
        }
        if (orig->next_proto_id == IPPROTO_ICMP) {
            return rte_pktmbuf_data_len(offender) >= kEthHdrLen + ihl + 1 &&
                   !icmp4_is_error(*(reinterpret_cast<const uint8_t*>(orig) + ihl));
        }
        return true;
    }
    const auto* orig = rte_pktmbuf_mtod_offset(offender, const rte_ipv6_hdr*, kEthHdrLen);
    static constexpr uint8_t kUnspecified[16] = {};
    if (!in_port.has_v6 || orig->src_addr[0] == 0xff || std::memcmp(orig->src_addr, kUnspecified, 16) == 0) {
        return false;
    }
    if (orig->proto == IPPROTO_ICMPV6) {
        // Never an error about an error (RFC 4443 2.4(e)).
        return rte_pktmbuf_data_len(offender) >= kEthHdrLen + sizeof(rte_ipv6_hdr) + 1 &&
               *reinterpret_cast<const uint8_t*>(orig + 1) >= 128;
    }
    return true;
}

rte_mbuf* build_icmp_error(const rte_mbuf* offender, const PortInfo& in_port, IcmpError kind, uint32_t mtu) noexcept {
    if (!icmp_error_allowed(offender, in_port)) {
        return nullptr;
    }
    const auto* eth = rte_pktmbuf_mtod(offender, const rte_ether_hdr*);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        return build4(offender, in_port, kind, mtu);
    }
    return build6(offender, in_port, kind, mtu);
}

void make_echo_reply4(rte_ipv4_hdr* ip, rte_icmp_hdr* icmp) noexcept {
    const rte_be32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->time_to_live = kDefaultTtl;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    // Recomputed, not patched: RFC 1624 updating can yield 0x0000 where an
    // all-zero message needs 0xffff.
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    const auto icmp_len = static_cast<uint32_t>(rte_be_to_cpu_16(ip->total_length) - (ip->version_ihl & 0x0f) * 4u);
    icmp->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, icmp_len));
}

void make_echo_reply6(rte_ipv6_hdr* ip, rte_icmp_hdr* icmp) noexcept {
    // Swapping source and destination leaves the pseudo-header sum unchanged.
    uint8_t tmp[16];
    std::memcpy(tmp, ip->src_addr, 16);
    std::memcpy(ip->src_addr, ip->dst_addr, 16);
    std::memcpy(ip->dst_addr, tmp, 16);
    ip->hop_limits = kDefaultTtl;
    const uint16_t old_word = *reinterpret_cast<const uint16_t*>(&icmp->icmp_type);
    icmp->icmp_type = 129;  // echo reply
    icmp->icmp_cksum = csum_replace16(icmp->icmp_cksum, old_word, *reinterpret_cast<const uint16_t*>(&icmp->icmp_type));
}

}  // namespace gw::dp
