#include "dataplane/slowpath.h"

#include <cstring>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/forward.h"

namespace gw::dp {
namespace {

constexpr uint16_t kEthHdrLen = sizeof(rte_ether_hdr);
constexpr unsigned kMaxProbes = 3;     // RFC 4861 MAX_MULTICAST_SOLICIT
constexpr uint64_t kTickDivisor = 10;  // tick every 100 ms
constexpr uint8_t kNdHopLimit = 255;
constexpr uint8_t kNdNs = 135;
constexpr uint8_t kNdNa = 136;
constexpr uint8_t kOptSourceLl = 1;
constexpr uint8_t kOptTargetLl = 2;
constexpr uint16_t kNsLen = 24;  // type, code, checksum, reserved, target

// ICMPv6 neighbor solicitation / advertisement body after the 4-byte header.
struct NdBody {
    uint8_t flags_reserved[4];
    uint8_t target[16];
} __attribute__((packed));
static_assert(sizeof(NdBody) == 20);

struct NdLlOption {
    uint8_t type;
    uint8_t len;  // units of 8 bytes
    uint8_t mac[RTE_ETHER_ADDR_LEN];
};
static_assert(sizeof(NdLlOption) == 8);

bool port_owns4(const PortInfo& p, uint32_t addr_host) noexcept {
    for (const auto& a : p.addresses) {
        if (const auto* v4 = std::get_if<net::Ip4Addr>(&a.addr); v4 != nullptr && v4->host == addr_host) {
            return true;
        }
    }
    return false;
}

bool port_owns6(const PortInfo& p, const uint8_t* addr) noexcept {
    for (const auto& a : p.addresses) {
        if (const auto* v6 = std::get_if<net::Ip6Addr>(&a.addr);
            v6 != nullptr && std::memcmp(v6->bytes.data(), addr, 16) == 0) {
            return true;
        }
    }
    return false;
}

bool on_link4(const PortInfo& p, uint32_t addr_host) noexcept {
    for (const auto& a : p.addresses) {
        if (net::is_v4(a.addr) && a.subnet().contains(net::IpAddr{net::Ip4Addr{addr_host}})) {
            return true;
        }
    }
    return false;
}

// Address of `p` to source an ARP request for `target` from: the one whose
// subnet holds the target, else the port's first IPv4 address.
uint32_t arp_source_for(const PortInfo& p, uint32_t target_host) noexcept {
    for (const auto& a : p.addresses) {
        if (net::is_v4(a.addr) && a.subnet().contains(net::IpAddr{net::Ip4Addr{target_host}})) {
            return std::get<net::Ip4Addr>(a.addr).host;
        }
    }
    return p.icmp_src4_host;
}

uint16_t icmp6_checksum(rte_ipv6_hdr* ip, void* l4) noexcept {
    return rte_ipv6_udptcp_cksum(ip, l4);
}

}  // namespace

SlowPath::SlowPath(LcoreContext& ctx) noexcept : ctx_(ctx), probe_interval_tsc_(rte_get_tsc_hz()) {}

Status SlowPath::install_static_neighbors(const cp::Config& config) {
    for (const auto& n : config.neighbors) {
        rte_ether_addr mac;
        std::memcpy(mac.addr_bytes, n.mac.bytes.data(), RTE_ETHER_ADDR_LEN);
        NeighborKey key;
        if (const auto* v4 = std::get_if<net::Ip4Addr>(&n.addr)) {
            key = neighbor_key4(n.port, v4->host);
        } else {
            key = neighbor_key6(n.port, std::get<net::Ip6Addr>(n.addr).bytes.data());
        }
        NeighborEntry* e = ctx_.tables->neighbors->find_or_create(key);
        if (e == nullptr) {
            return make_error("neighbor {}: table full ({} entries)", net::to_string(n.addr),
                              ctx_.tables->neighbors->capacity());
        }
        e->state = NeighborState::static_entry;
        e->publish(mac);
    }
    return {};
}

unsigned SlowPath::poll(uint64_t now_tsc) noexcept {
    rte_mbuf* pkts[kMaxBurstDp];
    const unsigned n =
        rte_ring_sc_dequeue_burst(ctx_.tables->punt_ring, reinterpret_cast<void**>(pkts), kMaxBurstDp, nullptr);
    for (unsigned i = 0; i < n; ++i) {
        handle(pkts[i], now_tsc);
    }
    if (now_tsc >= next_tick_tsc_) {
        tick(now_tsc);
        next_tick_tsc_ = now_tsc + probe_interval_tsc_ / kTickDivisor;
    }
    flush_tx(ctx_);
    return n;
}

void SlowPath::handle(rte_mbuf* m, uint64_t now_tsc) noexcept {
    const int in_port = ctx_.tables->port_index(m->port);
    const auto kind = static_cast<PuntKind>(m->hash.usr);
    ++ctx_.counters.rx_packets;
    if (in_port < 0 && kind != PuntKind::resolve) {
        ctx_.counters.drop(DropReason::local_unsupported);
        rte_pktmbuf_free(m);
        return;
    }
    switch (kind) {
        case PuntKind::arp:
            handle_arp(m, static_cast<uint16_t>(in_port));
            break;
        case PuntKind::nd:
            handle_nd(m, static_cast<uint16_t>(in_port));
            break;
        case PuntKind::resolve:
            handle_resolve(m, now_tsc);
            break;
        default:
            ctx_.counters.drop(DropReason::local_unsupported);
            rte_pktmbuf_free(m);
            break;
    }
    release_pending(ctx_);
}

void SlowPath::learn(const NeighborKey& key, const rte_ether_addr& mac, bool create) noexcept {
    if (rte_is_multicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac)) {
        return;
    }
    NeighborEntry* e = create ? ctx_.tables->neighbors->find_or_create(key) : ctx_.tables->neighbors->find(key);
    if (e == nullptr) {
        if (create) {
            ctx_.counters.drop(DropReason::neighbor_table_full);
        }
        return;
    }
    if (e->state == NeighborState::static_entry) {
        return;  // configuration wins over the wire
    }
    e->publish(mac);
    e->state = NeighborState::reachable;
    e->probes = 0;
    // Send what waited for this neighbor, in arrival order.
    for (unsigned i = 0; i < e->held_count; ++i) {
        output_local(ctx_, e->held[i]);
    }
    e->held_count = 0;
}

void SlowPath::handle_arp(rte_mbuf* m, uint16_t in_port) noexcept {
    if (rte_pktmbuf_data_len(m) < kEthHdrLen + sizeof(rte_arp_hdr)) {
        ctx_.counters.drop(DropReason::arp_malformed);
        rte_pktmbuf_free(m);
        return;
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) || arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
        arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4) {
        ctx_.counters.drop(DropReason::arp_malformed);
        rte_pktmbuf_free(m);
        return;
    }
    const PortInfo& port = ctx_.tables->ports[in_port];
    const uint32_t sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
    const uint32_t tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
    const rte_ether_addr sha = arp->arp_data.arp_sha;
    const bool for_us = port_owns4(port, tip);
    const uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);

    // RFC 826 merge: update an existing entry for the sender; create one only
    // when the packet was addressed to us and the sender is on-link.
    if (sip != 0) {
        learn(neighbor_key4(in_port, sip), sha, for_us && on_link4(port, sip));
    }

    if (op == RTE_ARP_OP_REQUEST && for_us) {
        arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
        arp->arp_data.arp_tha = sha;
        arp->arp_data.arp_tip = arp->arp_data.arp_sip;
        arp->arp_data.arp_sha = port.mac;
        arp->arp_data.arp_sip = rte_cpu_to_be_32(tip);
        eth->dst_addr = sha;
        eth->src_addr = port.mac;
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - kEthHdrLen - sizeof(rte_arp_hdr)));
        send_on_port(ctx_, in_port, m);
        return;
    }
    if (op != RTE_ARP_OP_REPLY && !(op == RTE_ARP_OP_REQUEST && sip == tip)) {
        ctx_.counters.drop(DropReason::arp_not_for_us);
    }
    rte_pktmbuf_free(m);  // replies and gratuitous ARP are consumed by learning
}

void SlowPath::handle_nd(rte_mbuf* m, uint16_t in_port) noexcept {
    const uint16_t data_len = rte_pktmbuf_data_len(m);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
    const uint32_t icmp_len = rte_be_to_cpu_16(ip->payload_len);
    const uint8_t type = icmp[0];
    if (type != kNdNs && type != kNdNa) {
        rte_pktmbuf_free(m);  // router solicitations etc.: we send no router advertisements
        return;
    }
    // RFC 4861 7.1.1 / 7.1.2 validity checks.
    if (icmp_len < kNsLen || kEthHdrLen + sizeof(rte_ipv6_hdr) + icmp_len > data_len || ip->hop_limits != kNdHopLimit ||
        icmp[1] != 0 || rte_ipv6_udptcp_cksum_verify(ip, icmp) != 0) {
        ctx_.counters.drop(DropReason::nd_malformed);
        rte_pktmbuf_free(m);
        return;
    }
    auto* body = reinterpret_cast<NdBody*>(icmp + 4);
    if (body->target[0] == 0xff) {
        ctx_.counters.drop(DropReason::nd_malformed);
        rte_pktmbuf_free(m);
        return;
    }
    // Find the link-layer address option (source for NS, target for NA).
    const uint8_t* ll_bytes = nullptr;
    for (uint32_t off = kNsLen; off + 2 <= icmp_len;) {
        const auto* opt = reinterpret_cast<const NdLlOption*>(icmp + off);
        if (opt->len == 0) {
            ctx_.counters.drop(DropReason::nd_malformed);
            rte_pktmbuf_free(m);
            return;
        }
        if (off + 8u * opt->len > icmp_len) {
            break;
        }
        if ((opt->type == kOptSourceLl && type == kNdNs) || (opt->type == kOptTargetLl && type == kNdNa)) {
            ll_bytes = opt->mac;
        }
        off += 8u * opt->len;
    }
    rte_ether_addr ll_mac{};
    const rte_ether_addr* ll = nullptr;
    if (ll_bytes != nullptr) {
        std::memcpy(ll_mac.addr_bytes, ll_bytes, RTE_ETHER_ADDR_LEN);
        ll = &ll_mac;
    }
    const PortInfo& port = ctx_.tables->ports[in_port];
    static constexpr uint8_t kUnspecified[16] = {};
    const bool src_unspecified = std::memcmp(ip->src_addr, kUnspecified, 16) == 0;

    // RFC 4861 7.1.1: a DAD solicitation carries no source link-layer option;
    // 7.1.2: an advertisement to a multicast group is never "solicited".
    const bool solicited_flag = (body->flags_reserved[0] & 0x40) != 0;
    if ((type == kNdNs && src_unspecified && ll != nullptr) ||
        (type == kNdNa && ip->dst_addr[0] == 0xff && solicited_flag)) {
        ctx_.counters.drop(DropReason::nd_malformed);
        rte_pktmbuf_free(m);
        return;
    }
    if (type == kNdNa) {
        if (ll != nullptr) {
            learn(neighbor_key6(in_port, body->target), *ll, false);
        }
        rte_pktmbuf_free(m);
        return;
    }
    // Neighbor solicitation.
    if (!port_owns6(port, body->target)) {
        rte_pktmbuf_free(m);
        return;
    }
    if (!src_unspecified && ll != nullptr) {
        learn(neighbor_key6(in_port, ip->src_addr), *ll, true);
    }
    // Answer in place: NA with the router flag, solicited unless DAD, override.
    const rte_ether_addr reply_mac = ll != nullptr ? *ll : eth->src_addr;
    uint8_t target[16];
    std::memcpy(target, body->target, 16);
    if (src_unspecified) {
        static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        std::memcpy(ip->dst_addr, kAllNodes, 16);
    } else {
        std::memcpy(ip->dst_addr, ip->src_addr, 16);
    }
    std::memcpy(ip->src_addr, target, 16);
    ip->hop_limits = kNdHopLimit;
    const uint16_t na_len = kNsLen + sizeof(NdLlOption);
    ip->payload_len = rte_cpu_to_be_16(na_len);
    icmp[0] = kNdNa;
    icmp[1] = 0;
    icmp[2] = icmp[3] = 0;
    std::memset(body->flags_reserved, 0, sizeof body->flags_reserved);
    body->flags_reserved[0] = static_cast<uint8_t>(0x80 | (src_unspecified ? 0 : 0x40) | 0x20);
    auto* opt = reinterpret_cast<NdLlOption*>(icmp + kNsLen);
    opt->type = kOptTargetLl;
    opt->len = 1;
    std::memcpy(opt->mac, port.mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    const uint16_t total = static_cast<uint16_t>(kEthHdrLen + sizeof(rte_ipv6_hdr) + na_len);
    if (rte_pktmbuf_pkt_len(m) > total) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - total));
    } else if (rte_pktmbuf_pkt_len(m) < total && rte_pktmbuf_append(m, total - rte_pktmbuf_pkt_len(m)) == nullptr) {
        ctx_.counters.drop(DropReason::mbuf_alloc_failed);
        rte_pktmbuf_free(m);
        return;
    }
    const uint16_t check = icmp6_checksum(ip, icmp);
    std::memcpy(icmp + 2, &check, sizeof check);
    if (src_unspecified) {
        const rte_ether_addr all_nodes{{0x33, 0x33, 0, 0, 0, 1}};
        eth->dst_addr = all_nodes;
    } else {
        eth->dst_addr = reply_mac;
    }
    eth->src_addr = port.mac;
    send_on_port(ctx_, in_port, m);
}

void SlowPath::handle_resolve(rte_mbuf* m, uint64_t now_tsc) noexcept {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const Fib& fib = ctx_.tables->fib();
    NeighborKey key;
    uint32_t nh_index = Fib::kNoRoute;
    if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        const uint32_t dst = rte_be_to_cpu_32(rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, kEthHdrLen)->dst_addr);
        nh_index = fib.lookup4(dst);
        if (nh_index != Fib::kNoRoute) {
            const NextHop& nh = fib.next_hop(nh_index);
            key = neighbor_key4(nh.port, nh.kind == NextHopKind::via ? nh.gw4_host : dst);
        }
    } else {
        const uint8_t* dst = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, kEthHdrLen)->dst_addr;
        nh_index = fib.lookup6(dst);
        if (nh_index != Fib::kNoRoute) {
            const NextHop& nh = fib.next_hop(nh_index);
            key = neighbor_key6(nh.port, nh.kind == NextHopKind::via ? nh.gw6.data() : dst);
        }
    }
    if (nh_index == Fib::kNoRoute) {
        ctx_.counters.drop(DropReason::no_route);
        rte_pktmbuf_free(m);
        return;
    }
    NeighborEntry* e = ctx_.tables->neighbors->find_or_create(key);
    if (e == nullptr) {
        ctx_.counters.drop(DropReason::neighbor_table_full);
        rte_pktmbuf_free(m);
        return;
    }
    rte_ether_addr mac;
    if (e->resolved(&mac)) {
        output_local(ctx_, m);  // resolved since the worker looked
        return;
    }
    if (e->held_count == kNeighborHoldMax) {
        // Like Linux's unres_qlen: the oldest waiting packet makes room.
        ctx_.counters.drop(DropReason::neighbor_queue_full);
        rte_pktmbuf_free(e->held[0]);
        std::memmove(&e->held[0], &e->held[1], (kNeighborHoldMax - 1) * sizeof(rte_mbuf*));
        --e->held_count;
    }
    e->held[e->held_count++] = m;
    if (e->probes == 0 || now_tsc - e->last_probe_tsc >= probe_interval_tsc_) {
        if (e->probes < kMaxProbes) {
            probe(*e, now_tsc);
        }
    }
}

void SlowPath::probe(NeighborEntry& e, uint64_t now_tsc) noexcept {
    e.last_probe_tsc = now_tsc;
    ++e.probes;
    const PortInfo& port = ctx_.tables->ports[e.key.port];
    rte_mempool* pool = nullptr;
    // Probes come from the pool of a packet waiting on this entry, if any.
    if (e.held_count > 0) {
        pool = e.held[0]->pool;
    }
    if (pool == nullptr) {
        return;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        ctx_.counters.drop(DropReason::mbuf_alloc_failed);
        return;
    }
    if (e.key.family == 4) {
        if (!port.has_v4) {
            rte_pktmbuf_free(m);
            return;
        }
        auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, kEthHdrLen + sizeof(rte_arp_hdr)));
        if (eth == nullptr) {
            rte_pktmbuf_free(m);
            return;
        }
        uint32_t target_be = 0;
        std::memcpy(&target_be, e.key.addr.data(), 4);
        std::memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
        eth->src_addr = port.mac;
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
        auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
        arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
        arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
        arp->arp_hlen = RTE_ETHER_ADDR_LEN;
        arp->arp_plen = 4;
        arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
        arp->arp_data.arp_sha = port.mac;
        arp->arp_data.arp_sip = rte_cpu_to_be_32(arp_source_for(port, rte_be_to_cpu_32(target_be)));
        std::memset(&arp->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
        arp->arp_data.arp_tip = target_be;
    } else {
        if (!port.has_v6) {
            rte_pktmbuf_free(m);
            return;
        }
        const uint16_t icmp_len = kNsLen + sizeof(NdLlOption);
        auto* eth =
            reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, kEthHdrLen + sizeof(rte_ipv6_hdr) + icmp_len));
        if (eth == nullptr) {
            rte_pktmbuf_free(m);
            return;
        }
        const uint8_t* t = e.key.addr.data();
        // Solicited-node multicast group (RFC 4291 2.7.1) and its MAC (RFC 2464 7).
        const rte_ether_addr dst_mac{{0x33, 0x33, 0xff, t[13], t[14], t[15]}};
        eth->dst_addr = dst_mac;
        eth->src_addr = port.mac;
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
        auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
        ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
        ip->payload_len = rte_cpu_to_be_16(icmp_len);
        ip->proto = IPPROTO_ICMPV6;
        ip->hop_limits = kNdHopLimit;
        std::memcpy(ip->src_addr, port.icmp_src6.data(), 16);
        const uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]};
        std::memcpy(ip->dst_addr, group, 16);
        auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
        std::memset(icmp, 0, icmp_len);
        icmp[0] = kNdNs;
        std::memcpy(icmp + 8, t, 16);
        auto* opt = reinterpret_cast<NdLlOption*>(icmp + kNsLen);
        opt->type = kOptSourceLl;
        opt->len = 1;
        std::memcpy(opt->mac, port.mac.addr_bytes, RTE_ETHER_ADDR_LEN);
        const uint16_t check = icmp6_checksum(ip, icmp);
        std::memcpy(icmp + 2, &check, sizeof check);
    }
    send_on_port(ctx_, e.key.port, m);
}

void SlowPath::tick(uint64_t now_tsc) noexcept {
    // Retransmit probes once a second; after kMaxProbes unanswered, give up on
    // what waits (the next packet starts a new round).
    auto& table = *ctx_.tables->neighbors;
    table.for_each([&](NeighborEntry& e) {
        if (e.held_count == 0 || now_tsc - e.last_probe_tsc < probe_interval_tsc_) {
            return;
        }
        if (e.probes >= kMaxProbes) {
            ctx_.counters.drop(DropReason::neighbor_unresolved, e.held_count);
            rte_pktmbuf_free_bulk(e.held.data(), e.held_count);
            e.held_count = 0;
            e.probes = 0;
            return;
        }
        probe(e, now_tsc);
    });
}

void SlowPath::release_held() noexcept {
    auto& table = *ctx_.tables->neighbors;
    table.for_each([&](NeighborEntry& e) {
        if (e.held_count != 0) {
            ctx_.counters.drop(DropReason::neighbor_unresolved, e.held_count);
            rte_pktmbuf_free_bulk(e.held.data(), e.held_count);
            e.held_count = 0;
        }
    });
}

}  // namespace gw::dp
