#include "dataplane/forward.h"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dataplane/checksum.h"
#include "dataplane/fragment.h"
#include "dataplane/icmp.h"
#include "dataplane/ipsec/esp.h"

namespace gw::dp {
namespace {

constexpr uint16_t kEthHdrLen = sizeof(rte_ether_hdr);
constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6NdFirst = 133;  // router solicitation
constexpr uint8_t kIcmp6NdLast = 137;   // redirect

inline void punt(LcoreContext& ctx, rte_mbuf* m, PuntKind kind) noexcept {
    if (ctx.punt_count == ctx.punt_list.size()) [[unlikely]] {
        drop_packet(ctx, m, DropReason::punt_queue_full);
        return;
    }
    m->hash.usr = static_cast<uint32_t>(kind);
    ctx.punt_list[ctx.punt_count++] = m;
}

}  // namespace

void release_pending(LcoreContext& ctx) noexcept {
    if (ctx.punt_count != 0) {
        const unsigned sent = rte_ring_mp_enqueue_burst(
            ctx.tables->punt_ring, reinterpret_cast<void* const*>(ctx.punt_list.data()), ctx.punt_count, nullptr);
        ctx.counters.punted += sent;
        for (unsigned i = sent; i < ctx.punt_count; ++i) {
            drop_packet(ctx, ctx.punt_list[i], DropReason::punt_queue_full);
        }
        ctx.punt_count = 0;
    }
    if (ctx.drop_count != 0) {
        rte_pktmbuf_free_bulk(ctx.drop_list.data(), ctx.drop_count);
        ctx.drop_count = 0;
    }
}

namespace {

inline void tx_enqueue(LcoreContext& ctx, uint16_t port, rte_mbuf* m) noexcept {
    auto& buf = ctx.tx[port];
    buf.pkts[buf.count++] = m;
    if (buf.count >= ctx.burst) [[unlikely]] {
        flush_tx_port(ctx, port);
    }
}

// Rewrites L2 for the next hop and queues the packet, or punts it for
// neighbor resolution. `key` identifies the next hop on egress port `port`.
inline uint32_t cache_index(uint64_t lo, uint64_t hi, uint32_t meta) noexcept {
    static_assert(NeighborCache::kSlots == 256, "the hash yields 8 bits");
    const uint64_t x = lo ^ (hi >> 17) ^ hi ^ meta;
    return static_cast<uint32_t>(((x ^ (x >> 32)) * 0x9e3779b97f4a7c15ull) >> 56);
}

// Looks the next hop up in the lcore's cache, then in the shared table;
// rewrites L2 and queues the packet, or punts it for resolution.
inline void send_to_neighbor(LcoreContext& ctx, rte_mbuf* m, uint16_t port, uint64_t lo, uint64_t hi,
                             uint8_t family) noexcept {
    const uint32_t meta = port | uint32_t{family} << 16;
    auto& slot = ctx.neighbor_cache.slots[cache_index(lo, hi, meta)];
    const NeighborEntry* e = slot.entry;
    if (slot.meta != meta || slot.lo != lo || slot.hi != hi) [[unlikely]] {
        NeighborKey key;
        if (family == 4) {
            key = neighbor_key4(port, static_cast<uint32_t>(lo));
        } else {
            std::memcpy(key.addr.data(), &lo, 8);
            std::memcpy(key.addr.data() + 8, &hi, 8);
            key.port = port;
            key.family = 6;
        }
        e = ctx.tables->neighbors->lookup(key);
        if (e != nullptr) {
            slot = NeighborCache::Slot{.lo = lo, .hi = hi, .meta = meta, .entry = e};
        }
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (e == nullptr || !e->resolved(&eth->dst_addr)) [[unlikely]] {
        punt(ctx, m, PuntKind::resolve);
        return;
    }
    rte_ether_addr_copy(&ctx.tables->ports[port].mac, &eth->src_addr);
    tx_enqueue(ctx, port, m);
}

inline void send4(LcoreContext& ctx, rte_mbuf* m, const NextHop& nh, uint32_t dst_host) noexcept {
    const uint32_t next = nh.kind == NextHopKind::via ? nh.gw4_host : dst_host;
    send_to_neighbor(ctx, m, nh.port, next, 0, 4);
}

inline void send6(LcoreContext& ctx, rte_mbuf* m, const NextHop& nh, const uint8_t* dst) noexcept {
    const uint8_t* next = nh.kind == NextHopKind::via ? nh.gw6.data() : dst;
    uint64_t lo;
    uint64_t hi;
    std::memcpy(&lo, next, 8);
    std::memcpy(&hi, next + 8, 8);
    send_to_neighbor(ctx, m, nh.port, lo, hi, 6);
}

// The policy selector fields of an IPv4 / IPv6 packet. Ports are read only
// from the first fragment of TCP, UDP and SCTP.
inline ipsec::FlowKey flow_key4(const rte_ipv4_hdr* ip, uint16_t ihl, uint32_t avail) noexcept {
    ipsec::FlowKey k;
    k.proto = ip->next_proto_id;
    k.src[0] = rte_be_to_cpu_32(ip->src_addr);
    k.dst[0] = rte_be_to_cpu_32(ip->dst_addr);
    const bool first_fragment = (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) == 0;
    if (first_fragment && (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP || k.proto == IPPROTO_SCTP) &&
        avail >= ihl + 4u) {
        const auto* l4 = reinterpret_cast<const uint8_t*>(ip) + ihl;
        k.sport = static_cast<uint16_t>(l4[0] << 8 | l4[1]);
        k.dport = static_cast<uint16_t>(l4[2] << 8 | l4[3]);
    }
    return k;
}

inline ipsec::FlowKey flow_key6(const rte_ipv6_hdr* ip, uint32_t avail) noexcept {
    ipsec::FlowKey k;
    k.v6 = true;
    k.proto = ip->proto;
    std::memcpy(k.src.data(), ip->src_addr, 16);
    std::memcpy(k.dst.data(), ip->dst_addr, 16);
    if ((k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP || k.proto == IPPROTO_SCTP) &&
        avail >= sizeof(rte_ipv6_hdr) + 4) {
        const auto* l4 = reinterpret_cast<const uint8_t*>(ip + 1);
        k.sport = static_cast<uint16_t>(l4[0] << 8 | l4[1]);
        k.dport = static_cast<uint16_t>(l4[2] << 8 | l4[3]);
    }
    return k;
}

// Inbound policy (RFC 4301 5.2): traffic a policy says must arrive protected
// is dropped in clear or when it came through another SA. Returns false when
// the packet was dropped.
inline bool inbound_policy_ok(LcoreContext& ctx, rte_mbuf* m, const ipsec::FlowKey& k,
                              const ipsec::Sa* via_sa) noexcept {
    const ipsec::PolicyRule* r = ctx.ipsec->in.lookup(k);
    if (r == nullptr || r->action == cp::PolicyAction::bypass) {
        return true;
    }
    if (r->action == cp::PolicyAction::discard) {
        drop_packet(ctx, m, DropReason::ipsec_policy_discard);
        return false;
    }
    // Like an xfrm template, the policy names a tunnel: any SA between the same
    // endpoints satisfies it, so a rekeyed SA is accepted beside the old one.
    if (r->sa != via_sa && (via_sa == nullptr || !ipsec::same_tunnel(*r->sa, *via_sa))) {
        drop_packet(ctx, m, DropReason::ipsec_policy_mismatch);
        return false;
    }
    return true;
}

// Forwarding into the tunnel costs the inner packet one hop.
inline void decrement_hop(rte_mbuf* m) noexcept {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        ip4_decrement_ttl(rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEthHdrLen));
    } else {
        --rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, kEthHdrLen)->hop_limits;
    }
}

// Outbound policy: returns true when the packet was taken (queued for ESP or
// dropped), false when it bypasses IPsec and forwarding goes on. The caller
// checked the TTL; the decrement happens here, once the packet is taken, so
// that an ICMP error quotes the packet as it arrived.
inline bool outbound_policy_takes(LcoreContext& ctx, rte_mbuf* m, uint16_t in_port, const ipsec::FlowKey& k,
                                  uint32_t inner_len, bool df_or_v6) noexcept {
    const ipsec::PolicyRule* r = ctx.ipsec->out.lookup(k);
    if (r == nullptr || r->action == cp::PolicyAction::bypass) {
        return false;
    }
    if (r->action == cp::PolicyAction::discard) {
        drop_packet(ctx, m, DropReason::ipsec_policy_discard);
        return true;
    }
    ipsec::Sa* sa = r->sa;
    // The outer packet's route decides its MTU (PMTUD through the tunnel).
    const Fib& fib = ctx.tables->fib();
    const uint32_t nh_index = sa->outer_v6 ? fib.lookup6(sa->remote6.data()) : fib.lookup4(sa->remote4_host);
    if (nh_index == Fib::kNoRoute) [[unlikely]] {
        drop_packet(ctx, m, DropReason::no_route);
        return true;
    }
    const uint16_t mtu = ctx.tables->ports[fib.next_hop(nh_index).port].mtu;
    const uint32_t overhead = ipsec::esp_overhead(inner_len, sa->outer_v6);
    if (inner_len + overhead > mtu) [[unlikely]] {
        const uint32_t room = ipsec::esp_max_inner(mtu, sa->outer_v6);
        if (!df_or_v6 && ctx.ipsec_fragment && room >= 68 &&
            std::size_t{ctx.esp_out_count} + kMaxFragments <= ctx.esp_out.size()) {
            // RFC 4459 pre-fragmentation: each fragment is its own ESP packet.
            rte_mbuf* frags[kMaxFragments];
            decrement_hop(m);
            const uint16_t n = ip4_fragment(m, static_cast<uint16_t>(room), frags, kMaxFragments);
            if (n == 0) {
                ip4_increment_ttl(rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEthHdrLen));
            } else {
                ctx.counters.fragments_made += n;
                for (uint16_t i = 0; i < n; ++i) {
                    ctx.esp_out[ctx.esp_out_count] = frags[i];
                    ctx.esp_out_sa[ctx.esp_out_count] = sa;
                    ++ctx.esp_out_count;
                }
                return true;
            }
        }
        if (df_or_v6) {
            send_icmp_error(ctx, m, in_port, IcmpError::frag_needed, ipsec::esp_max_inner(mtu, sa->outer_v6));
        }
        drop_packet(ctx, m, DropReason::mtu_exceeded);
        return true;
    }
    if (ctx.esp_out_count == ctx.esp_out.size()) [[unlikely]] {
        drop_packet(ctx, m, DropReason::esp_no_room);  // fragments filled this burst's ESP batch
        return true;
    }
    decrement_hop(m);
    ctx.esp_out[ctx.esp_out_count] = m;
    ctx.esp_out_sa[ctx.esp_out_count] = sa;
    ++ctx.esp_out_count;
    return true;
}

inline bool queue_esp_in(LcoreContext& ctx, rte_mbuf* m) noexcept {
    if (ctx.ipsec == nullptr || ctx.esp_in_count == kMaxBurstDp) {
        return false;
    }
    ctx.esp_in[ctx.esp_in_count++] = m;
    return true;
}

void local4(LcoreContext& ctx, rte_mbuf* m, rte_ipv4_hdr* ip, uint16_t ihl) noexcept {
    if (ip->next_proto_id == ipsec::kProtoEsp && queue_esp_in(ctx, m)) {
        return;
    }
    if (ip->next_proto_id == IPPROTO_ICMP && rte_pktmbuf_data_len(m) >= kEthHdrLen + ihl + sizeof(rte_icmp_hdr)) {
        auto* icmp = reinterpret_cast<rte_icmp_hdr*>(reinterpret_cast<uint8_t*>(ip) + ihl);
        if (icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && icmp->icmp_code == 0) {
            make_echo_reply4(ip, icmp);
            ++ctx.counters.icmp_sent;
            output_local(ctx, m);
            return;
        }
    }
    drop_packet(ctx, m, DropReason::local_unsupported);
}

void local6(LcoreContext& ctx, rte_mbuf* m, rte_ipv6_hdr* ip) noexcept {
    if (ip->proto == ipsec::kProtoEsp && queue_esp_in(ctx, m)) {
        return;
    }
    if (ip->proto == IPPROTO_ICMPV6 && rte_pktmbuf_data_len(m) >= kEthHdrLen + sizeof(rte_ipv6_hdr) + 4) {
        auto* icmp = reinterpret_cast<rte_icmp_hdr*>(ip + 1);
        if (icmp->icmp_type == kIcmp6EchoRequest && icmp->icmp_code == 0) {
            make_echo_reply6(ip, icmp);
            ++ctx.counters.icmp_sent;
            output_local(ctx, m);
            return;
        }
        if (icmp->icmp_type >= kIcmp6NdFirst && icmp->icmp_type <= kIcmp6NdLast) {
            punt(ctx, m, PuntKind::nd);
            return;
        }
    }
    drop_packet(ctx, m, DropReason::local_unsupported);
}

// `via_sa`: the SA an inner packet was decrypted with, nullptr for cleartext.
// `l2_multicast`: the frame was link-layer broadcast/multicast, which a
// router may deliver locally but must not forward (RFC 1812 5.3.4).
void forward4(LcoreContext& ctx, rte_mbuf* m, uint16_t in_port, const ipsec::Sa* via_sa, bool l2_multicast) noexcept {
    const uint16_t data_len = rte_pktmbuf_data_len(m);
    if (data_len < kEthHdrLen + sizeof(rte_ipv4_hdr)) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_truncated);
        return;
    }
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEthHdrLen);
    const uint16_t ihl = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr)) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_bad_header);
        return;
    }
    const uint16_t total_len = rte_be_to_cpu_16(ip->total_length);
    const uint32_t l3_len = rte_pktmbuf_pkt_len(m) - kEthHdrLen;
    if (kEthHdrLen + ihl > data_len || total_len < ihl || total_len > l3_len) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_truncated);
        return;
    }
    const uint64_t cksum_flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (cksum_flags == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
        (cksum_flags != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !ip4_header_checksum_ok(ip, ihl))) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_bad_checksum);
        return;
    }
    if (total_len < l3_len) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(l3_len - total_len));  // Ethernet padding
    }

    const uint32_t src = rte_be_to_cpu_32(ip->src_addr);
    const uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
    const uint32_t src_hi = src >> 24;
    if (src_hi >= 224 || src_hi == 127 || src_hi == 0) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_martian_source);
        return;
    }
    if ((dst >> 28) == 0xe || dst == UINT32_MAX) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_not_forwarded);
        return;
    }

    const Fib& fib = ctx.tables->fib();
    const uint32_t nh_index = fib.lookup4(dst);
    if (nh_index == Fib::kNoRoute) [[unlikely]] {
        send_icmp_error(ctx, m, in_port, IcmpError::net_unreachable, 0);
        drop_packet(ctx, m, DropReason::no_route);
        return;
    }
    const NextHop& nh = fib.next_hop(nh_index);
    switch (nh.kind) {
        case NextHopKind::local:
            local4(ctx, m, ip, ihl);
            return;
        case NextHopKind::blackhole:
            drop_packet(ctx, m, DropReason::blackhole);
            return;
        case NextHopKind::via:
        case NextHopKind::on_link:
            break;
    }
    if (l2_multicast) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip4_not_forwarded);
        return;
    }
    ipsec::FlowKey key;
    if (ctx.ipsec != nullptr) {
        key = flow_key4(ip, ihl, data_len - kEthHdrLen);
        if (!ctx.ipsec->in.empty() && !inbound_policy_ok(ctx, m, key, via_sa)) {
            return;
        }
    }
    if (ip->time_to_live <= 1) [[unlikely]] {
        send_icmp_error(ctx, m, in_port, IcmpError::time_exceeded, 0);
        drop_packet(ctx, m, DropReason::ttl_exceeded);
        return;
    }
    const bool df = (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) != 0;
    if (ctx.ipsec != nullptr && !ctx.ipsec->out.empty() && outbound_policy_takes(ctx, m, in_port, key, total_len, df)) {
        return;
    }
    const uint16_t mtu = ctx.tables->ports[nh.port].mtu;
    if (total_len > mtu) [[unlikely]] {
        if (!df && mtu >= 68) {
            // A router fragments what the sender allowed it to (RFC 791).
            ip4_decrement_ttl(ip);
            rte_mbuf* frags[kMaxFragments];
            const uint16_t n = ip4_fragment(m, mtu, frags, kMaxFragments);
            if (n != 0) {
                ctx.counters.fragments_made += n;
                for (uint16_t i = 0; i < n; ++i) {
                    send4(ctx, frags[i], nh, dst);
                }
                return;
            }
            ip4_increment_ttl(ip);
        }
        if (df) {
            send_icmp_error(ctx, m, in_port, IcmpError::frag_needed, mtu);
        }
        drop_packet(ctx, m, DropReason::mtu_exceeded);
        return;
    }
    ip4_decrement_ttl(ip);
    send4(ctx, m, nh, dst);
}

inline bool is_nd(const rte_ipv6_hdr* ip, uint16_t data_len) noexcept {
    if (ip->proto != IPPROTO_ICMPV6 || data_len < kEthHdrLen + sizeof(rte_ipv6_hdr) + 4) {
        return false;
    }
    const uint8_t type = reinterpret_cast<const uint8_t*>(ip + 1)[0];
    return type >= kIcmp6NdFirst && type <= kIcmp6NdLast;
}

void forward6(LcoreContext& ctx, rte_mbuf* m, uint16_t in_port, const ipsec::Sa* via_sa, bool l2_multicast) noexcept {
    const uint16_t data_len = rte_pktmbuf_data_len(m);
    if (data_len < kEthHdrLen + sizeof(rte_ipv6_hdr)) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip6_truncated);
        return;
    }
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, kEthHdrLen);
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip6_bad_header);
        return;
    }
    const uint32_t total_len = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len);
    const uint32_t l3_len = rte_pktmbuf_pkt_len(m) - kEthHdrLen;
    if (total_len > l3_len) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip6_truncated);
        return;
    }
    if (total_len < l3_len) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(l3_len - total_len));
    }

    const uint8_t* src = ip->src_addr;
    const uint8_t* dst = ip->dst_addr;
    if (dst[0] == 0xff) {
        // Multicast: only neighbor discovery concerns a router that does not route multicast.
        if (is_nd(ip, data_len)) {
            punt(ctx, m, PuntKind::nd);
        } else {
            drop_packet(ctx, m, DropReason::ip6_not_forwarded);
        }
        return;
    }
    static constexpr uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr uint8_t kUnspecified[16] = {};
    if (src[0] == 0xff || std::memcmp(src, kLoopback, 16) == 0 || std::memcmp(src, kUnspecified, 16) == 0)
        [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip6_martian_source);
        return;
    }

    const Fib& fib = ctx.tables->fib();
    const uint32_t nh_index = fib.lookup6(dst);
    if (nh_index != Fib::kNoRoute && fib.next_hop(nh_index).kind == NextHopKind::local) {
        local6(ctx, m, ip);
        return;
    }
    // Link-local scope never crosses a router (RFC 4291 2.5.6).
    const bool dst_link_local = dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80;
    const bool src_link_local = src[0] == 0xfe && (src[1] & 0xc0) == 0x80;
    if (dst_link_local || src_link_local || l2_multicast) [[unlikely]] {
        drop_packet(ctx, m, DropReason::ip6_not_forwarded);
        return;
    }
    if (nh_index == Fib::kNoRoute) [[unlikely]] {
        send_icmp_error(ctx, m, in_port, IcmpError::net_unreachable, 0);
        drop_packet(ctx, m, DropReason::no_route);
        return;
    }
    const NextHop& nh = fib.next_hop(nh_index);
    if (nh.kind == NextHopKind::blackhole) [[unlikely]] {
        drop_packet(ctx, m, DropReason::blackhole);
        return;
    }
    ipsec::FlowKey key;
    if (ctx.ipsec != nullptr) {
        key = flow_key6(ip, data_len - kEthHdrLen);
        if (!ctx.ipsec->in.empty() && !inbound_policy_ok(ctx, m, key, via_sa)) {
            return;
        }
    }
    if (ip->hop_limits <= 1) [[unlikely]] {
        send_icmp_error(ctx, m, in_port, IcmpError::time_exceeded, 0);
        drop_packet(ctx, m, DropReason::ttl_exceeded);
        return;
    }
    if (ctx.ipsec != nullptr && !ctx.ipsec->out.empty() &&
        outbound_policy_takes(ctx, m, in_port, key, total_len, true)) {
        return;
    }
    const uint16_t mtu = ctx.tables->ports[nh.port].mtu;
    if (total_len > mtu) [[unlikely]] {
        send_icmp_error(ctx, m, in_port, IcmpError::frag_needed, mtu);  // ICMPv6 packet too big
        drop_packet(ctx, m, DropReason::mtu_exceeded);
        return;
    }
    --ip->hop_limits;
    send6(ctx, m, nh, dst);
}

inline void forward_one(LcoreContext& ctx, rte_mbuf* m, uint16_t in_port) noexcept {
    if (rte_pktmbuf_data_len(m) < kEthHdrLen) [[unlikely]] {
        drop_packet(ctx, m, DropReason::l2_truncated);
        return;
    }
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const bool l2_multicast = rte_is_multicast_ether_addr(&eth->dst_addr);
    if (!l2_multicast && !rte_is_same_ether_addr(&eth->dst_addr, &ctx.tables->ports[in_port].mac)) [[unlikely]] {
        drop_packet(ctx, m, DropReason::l2_other_host);
        return;
    }
    switch (eth->ether_type) {
        case RTE_BE16(RTE_ETHER_TYPE_IPV4):
            forward4(ctx, m, in_port, nullptr, l2_multicast);
            return;
        case RTE_BE16(RTE_ETHER_TYPE_IPV6):
            forward6(ctx, m, in_port, nullptr, l2_multicast);
            return;
        case RTE_BE16(RTE_ETHER_TYPE_ARP):
            punt(ctx, m, PuntKind::arp);
            return;
        default:
            drop_packet(ctx, m, DropReason::l2_unsupported_ethertype);
            return;
    }
}

}  // namespace

void flush_tx_port(LcoreContext& ctx, uint16_t port) noexcept {
    auto& buf = ctx.tx[port];
    if (buf.count == 0) {
        return;
    }
    // Stamps are read before the burst: once handed over, a packet may be
    // freed (copying PMDs) or reused before tx_burst returns.
    const bool timed = ctx.telemetry;
    uint64_t stamps[kMaxBurstDp];
    const uint64_t start = timed ? rte_rdtsc() : 0;
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < buf.count; ++i) {
        bytes += rte_pktmbuf_pkt_len(buf.pkts[i]);
        if (timed) {
            stamps[i] = rx_stamp(buf.pkts[i]);
        }
    }
    rte_spinlock_t* lock = ctx.tx_lock[port];
    if (lock != nullptr) {
        rte_spinlock_lock(lock);
    }
    const uint16_t sent =
        rte_eth_tx_burst(ctx.tables->ports[port].port_id, ctx.tx_queue[port], buf.pkts.data(), buf.count);
    if (lock != nullptr) {
        rte_spinlock_unlock(lock);
    }
    if (sent < buf.count) [[unlikely]] {
        for (uint16_t i = sent; i < buf.count; ++i) {
            bytes -= rte_pktmbuf_pkt_len(buf.pkts[i]);
        }
        ctx.counters.drop(DropReason::tx_full, buf.count - sent);
        rte_pktmbuf_free_bulk(&buf.pkts[sent], buf.count - sent);
    }
    ctx.counters.tx_packets += sent;
    ctx.counters.tx_bytes += bytes;
    buf.count = 0;
    if (timed) {
        const uint64_t end = rte_rdtsc();
        ctx.counters.stage(Stage::tx, sent, end - start);
        ctx.nested_cycles += end - start;
        // Every packet of this tx burst leaves at `start`, and the packets of one rx burst
        // share a stamp: one record_n per run of equal stamps, not one record per packet.
        for (uint16_t i = 0; i < sent;) {
            const uint64_t s = stamps[i];
            uint16_t end_of_run = i + 1;
            while (end_of_run < sent && stamps[end_of_run] == s) {
                ++end_of_run;
            }
            const uint16_t run = end_of_run - i;
            i = end_of_run;
            const auto slot = static_cast<uint16_t>(s & 0xff);
            if (s == 0 || slot >= kMaxQueuesPerWorker || ctx.latency[slot] == nullptr) [[unlikely]] {
                continue;
            }
            // TSC difference modulo 2^56, the width the stamp keeps.
            const uint64_t cycles = ((start << 8) - (s & ~uint64_t{0xff})) >> 8;
            ctx.latency[slot]->record_n(cycles_to_ns(cycles, ctx.ns_mult), run);
        }
    }
}

void send_on_port(LcoreContext& ctx, uint16_t port, rte_mbuf* m) noexcept {
    tx_enqueue(ctx, port, m);
}

void flush_tx(LcoreContext& ctx) noexcept {
    const auto n = static_cast<uint16_t>(ctx.tables->ports.size());
    for (uint16_t p = 0; p < n; ++p) {
        flush_tx_port(ctx, p);
    }
}

void output_local(LcoreContext& ctx, rte_mbuf* m) noexcept {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const Fib& fib = ctx.tables->fib();
    uint32_t nh_index = Fib::kNoRoute;
    const uint8_t* dst6 = nullptr;
    uint32_t dst4 = 0;
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        dst4 = rte_be_to_cpu_32(rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, kEthHdrLen)->dst_addr);
        nh_index = fib.lookup4(dst4);
    } else {
        dst6 = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, kEthHdrLen)->dst_addr;
        nh_index = fib.lookup6(dst6);
    }
    if (nh_index == Fib::kNoRoute) {
        drop_packet(ctx, m, DropReason::no_route);
        return;
    }
    const NextHop& nh = fib.next_hop(nh_index);
    if (nh.kind == NextHopKind::blackhole || nh.kind == NextHopKind::local) {
        drop_packet(ctx, m, nh.kind == NextHopKind::local ? DropReason::local_unsupported : DropReason::blackhole);
        return;
    }
    if (dst6 == nullptr) {
        send4(ctx, m, nh, dst4);
    } else {
        send6(ctx, m, nh, dst6);
    }
}

void forward_burst(LcoreContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint16_t n) noexcept {
    constexpr uint16_t kPrefetchAhead = 4;
    ctx.ipsec = ctx.tables->ipsec.load(std::memory_order_acquire);
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    }
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        }
        bytes += rte_pktmbuf_pkt_len(pkts[i]);
        forward_one(ctx, pkts[i], in_port);
    }
    ctx.counters.rx_packets += n;
    ctx.counters.rx_bytes += bytes;
    if (ctx.esp_in_count != 0) {
        // Decrypted inner packets are forwarded like received ones (and may
        // themselves be queued for ESP on the way out).
        rte_mbuf* inner[kMaxBurstDp];
        ipsec::Sa* via[kMaxBurstDp];
        const uint64_t start = ctx.telemetry ? rte_rdtsc() : 0;
        const uint16_t k = ipsec::esp_decrypt(ctx, inner, via);
        if (ctx.telemetry) {
            const uint64_t cycles = rte_rdtsc() - start;
            ctx.counters.stage(Stage::esp_decrypt, k, cycles);
            ctx.nested_cycles += cycles;
        }
        for (uint16_t i = 0; i < k; ++i) {
            const auto* eth = rte_pktmbuf_mtod(inner[i], const rte_ether_hdr*);
            if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
                forward4(ctx, inner[i], in_port, via[i], false);
            } else {
                forward6(ctx, inner[i], in_port, via[i], false);
            }
        }
    }
    if (ctx.esp_out_count != 0) {
        rte_mbuf* outer[2 * kMaxBurstDp];
        const uint64_t start = ctx.telemetry ? rte_rdtsc() : 0;
        const uint16_t k = ipsec::esp_encrypt(ctx, outer);
        if (ctx.telemetry) {
            const uint64_t cycles = rte_rdtsc() - start;
            ctx.counters.stage(Stage::esp_encrypt, k, cycles);
            ctx.nested_cycles += cycles;
        }
        for (uint16_t i = 0; i < k; ++i) {
            output_local(ctx, outer[i]);
        }
    }
    release_pending(ctx);
}

void send_icmp_error(LcoreContext& ctx, rte_mbuf* m, uint16_t in_port, IcmpError kind, uint32_t mtu) noexcept {
    const PortInfo& port = ctx.tables->ports[in_port];
    // Ineligible offenders (RFC 1812 / 4443 exclusions) must not spend tokens.
    if (!icmp_error_allowed(m, port)) {
        return;
    }
    if (!ctx.icmp_limit.take(rte_rdtsc())) {
        ++ctx.counters.icmp_rate_limited;
        return;
    }
    rte_mbuf* e = build_icmp_error(m, port, kind, mtu);
    if (e == nullptr) {
        ctx.counters.drop(DropReason::mbuf_alloc_failed);  // the error we owed, not the offender
        return;
    }
    set_rx_stamp(e, rx_stamp(m));  // its residence time starts with the offender's
    ++ctx.counters.icmp_sent;
    output_local(ctx, e);
}

}  // namespace gw::dp
