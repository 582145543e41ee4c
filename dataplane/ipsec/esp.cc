#include "dataplane/ipsec/esp.h"

#include <algorithm>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

namespace gw::dp::ipsec {
namespace {

constexpr uint16_t kEthLen = sizeof(rte_ether_hdr);
constexpr uint8_t kNextIpv4 = 4;
constexpr uint8_t kNextIpv6 = 41;
constexpr uint8_t kNextNone = 59;
constexpr uint8_t kOuterTtl = 64;
constexpr uint16_t kMaxOps = 2 * kMaxBurstDp;

struct Scratch {
    GcmOp ops[kMaxOps];
    uint8_t iv[kMaxOps][12];
    uint8_t aad[kMaxOps][12];
    uint8_t tag[kMaxOps][kEspIcvLen];
    uint64_t seq[kMaxOps];
    uint16_t index[kMaxOps];  // op -> packet slot
};

// Distinct SAs of a batch, with a running value per SA.
struct SaGroups {
    Sa* sa[kMaxOps];
    uint64_t value[kMaxOps];
    uint32_t count[kMaxOps];
    uint16_t n = 0;

    uint16_t slot(Sa* s) noexcept {
        for (uint16_t i = 0; i < n; ++i) {
            if (sa[i] == s) {
                return i;
            }
        }
        sa[n] = s;
        value[n] = 0;
        count[n] = 0;
        return n++;
    }
};

void put_be32(uint8_t* p, uint32_t v) noexcept {
    const uint32_t be = rte_cpu_to_be_32(v);
    std::memcpy(p, &be, 4);
}

uint32_t get_be32(const uint8_t* p) noexcept {
    uint32_t be;
    std::memcpy(&be, p, 4);
    return rte_be_to_cpu_32(be);
}

// RFC 4106 5: AAD is SPI || seq (32-bit) or SPI || seq high || seq low (ESN).
uint8_t fill_aad(uint8_t* aad, uint32_t spi, uint64_t seq, bool esn) noexcept {
    put_be32(aad, spi);
    if (esn) {
        put_be32(aad + 4, static_cast<uint32_t>(seq >> 32));
        put_be32(aad + 8, static_cast<uint32_t>(seq));
        return 12;
    }
    put_be32(aad + 4, static_cast<uint32_t>(seq));
    return 8;
}

}  // namespace

uint16_t esp_encrypt(LcoreContext& ctx, rte_mbuf** out) noexcept {
    static thread_local Scratch s;
    SaGroups groups;
    const uint16_t n = ctx.esp_out_count;
    ctx.esp_out_count = 0;

    // Reserve sequence numbers once per SA.
    uint16_t group_of[kMaxOps];
    for (uint16_t i = 0; i < n; ++i) {
        group_of[i] = groups.slot(ctx.esp_out_sa[i]);
        ++groups.count[group_of[i]];
    }
    // The hard packet limit holds inside a burst too: only what it still
    // admits gets a sequence number.
    uint32_t admitted[kMaxOps];
    for (uint16_t g = 0; g < groups.n; ++g) {
        Sa& sa = *groups.sa[g];
        admitted[g] = sa.dead.load(std::memory_order_relaxed) ? 0 : sa.admit(groups.count[g]);
        groups.value[g] = admitted[g] == 0 ? 0 : sa.reserve_seq(admitted[g]);
    }

    uint16_t n_ops = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = ctx.esp_out[i];
        const uint16_t g = group_of[i];
        Sa& sa = *groups.sa[g];
        if (groups.value[g] == 0 || admitted[g] == 0) [[unlikely]] {
            drop_packet(ctx, m, DropReason::ipsec_sa_expired);
            continue;
        }
        --admitted[g];
        const uint64_t seq = groups.value[g]++;
        const auto* inner_eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        const bool inner_v4 = inner_eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4);
        const uint32_t inner_len = rte_pktmbuf_pkt_len(m) - kEthLen;
        const uint32_t pad = (4 - ((inner_len + kEspTrailerLen) & 3)) & 3;
        const uint32_t trailer = pad + kEspTrailerLen + kEspIcvLen;
        const uint32_t outer_ip_len = sa.outer_v6 ? sizeof(rte_ipv6_hdr) : sizeof(rte_ipv4_hdr);
        const uint32_t head = outer_ip_len + kEspHeaderLen + kEspIvLen;  // replaces nothing: eth stays in front
        if (!rte_pktmbuf_is_contiguous(m) || rte_pktmbuf_tailroom(m) < trailer || rte_pktmbuf_headroom(m) < head)
            [[unlikely]] {
            drop_packet(ctx, m, DropReason::esp_no_room);
            continue;
        }
        auto* tail = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(trailer)));
        for (uint32_t p = 0; p < pad; ++p) {
            tail[p] = static_cast<uint8_t>(p + 1);  // RFC 4303 2.4: 1, 2, 3, ...
        }
        tail[pad] = static_cast<uint8_t>(pad);
        tail[pad + 1] = inner_v4 ? kNextIpv4 : kNextIpv6;

        auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(head)));
        uint8_t* l3 = reinterpret_cast<uint8_t*>(eth + 1);
        const uint32_t outer_len = head + inner_len + trailer;
        const uint8_t* inner = l3 + head;
        if (sa.outer_v6) {
            eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
            auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
            // Copy the inner traffic class (DSCP/ECN, RFC 4301 5.1.2.1).
            const uint32_t tc =
                inner_v4 ? reinterpret_cast<const rte_ipv4_hdr*>(inner)->type_of_service
                         : (rte_be_to_cpu_32(reinterpret_cast<const rte_ipv6_hdr*>(inner)->vtc_flow) >> 20) & 0xff;
            ip->vtc_flow = rte_cpu_to_be_32((6u << 28) | (tc << 20));
            ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(outer_len - sizeof(rte_ipv6_hdr)));
            ip->proto = kProtoEsp;
            ip->hop_limits = kOuterTtl;
            std::memcpy(ip->src_addr, sa.local6.data(), 16);
            std::memcpy(ip->dst_addr, sa.remote6.data(), 16);
        } else {
            eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
            auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
            ip->version_ihl = RTE_IPV4_VHL_DEF;
            ip->type_of_service =
                inner_v4 ? reinterpret_cast<const rte_ipv4_hdr*>(inner)->type_of_service
                         : static_cast<uint8_t>(
                               rte_be_to_cpu_32(reinterpret_cast<const rte_ipv6_hdr*>(inner)->vtc_flow) >> 20);
            ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(outer_len));
            ip->packet_id = rte_cpu_to_be_16(ctx.outer_ip_id++);
            ip->fragment_offset = 0;
            ip->time_to_live = kOuterTtl;
            ip->next_proto_id = kProtoEsp;
            ip->src_addr = rte_cpu_to_be_32(sa.local4_host);
            ip->dst_addr = rte_cpu_to_be_32(sa.remote4_host);
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
        }
        uint8_t* esp = l3 + outer_ip_len;
        put_be32(esp, sa.spi);
        put_be32(esp + 4, static_cast<uint32_t>(seq));
        const uint64_t iv_be = rte_cpu_to_be_64(seq);  // unique per SA: the full sequence number
        std::memcpy(esp + kEspHeaderLen, &iv_be, kEspIvLen);

        GcmOp& op = s.ops[n_ops];
        std::memcpy(s.iv[n_ops], sa.salt.data(), 4);
        std::memcpy(s.iv[n_ops] + 4, &iv_be, 8);
        op.key = &sa.key;
        op.iv = s.iv[n_ops];
        op.aad = s.aad[n_ops];
        op.aad_len = fill_aad(s.aad[n_ops], sa.spi, seq, sa.esn);
        op.data = esp + kEspHeaderLen + kEspIvLen;
        op.len = inner_len + pad + kEspTrailerLen;
        op.tag = op.data + op.len;
        s.index[n_ops] = i;
        ++n_ops;
    }
    ctx.crypto->encrypt(std::span(s.ops, n_ops));

    uint16_t n_out = 0;
    for (uint16_t o = 0; o < n_ops; ++o) {
        rte_mbuf* m = ctx.esp_out[s.index[o]];
        if (!s.ops[o].ok) [[unlikely]] {
            drop_packet(ctx, m, DropReason::esp_crypto_failed);
            continue;
        }
        ctx.esp_out_sa[s.index[o]]->account(1, s.ops[o].len);
        out[n_out++] = m;
    }
    return n_out;
}

uint16_t esp_decrypt(LcoreContext& ctx, rte_mbuf** out, Sa** out_sa) noexcept {
    static thread_local Scratch s;
    const IpsecState* state = ctx.ipsec;
    const uint16_t n = ctx.esp_in_count;
    ctx.esp_in_count = 0;

    struct Pending {
        rte_mbuf* m;
        Sa* sa;
        uint8_t* esp;
        uint32_t payload_len;  // ciphertext: inner + padding + trailer
        uint64_t seq;
        bool ok;
    };
    Pending p[kMaxBurstDp];
    uint16_t np = 0;
    SaGroups groups;
    uint16_t group_of[kMaxBurstDp];

    // Parse and look the SA up.
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = ctx.esp_in[i];
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        uint8_t* l3 = rte_pktmbuf_mtod_offset(m, uint8_t*, kEthLen);
        uint32_t ip_len = 0;
        bool dst_ok = false;
        Sa* sa = nullptr;
        const uint32_t l3_len = rte_pktmbuf_pkt_len(m) - kEthLen;
        if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
            const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(l3);
            ip_len = (ip->version_ihl & 0x0f) * 4u;
            if (l3_len >= ip_len + kEspHeaderLen && rte_pktmbuf_is_contiguous(m)) {
                sa = state != nullptr ? state->lookup_in(get_be32(l3 + ip_len)) : nullptr;
                dst_ok = sa != nullptr && !sa->outer_v6 && rte_be_to_cpu_32(ip->dst_addr) == sa->local4_host;
            }
        } else {
            const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(l3);
            ip_len = sizeof(rte_ipv6_hdr);
            if (l3_len >= ip_len + kEspHeaderLen && rte_pktmbuf_is_contiguous(m)) {
                sa = state != nullptr ? state->lookup_in(get_be32(l3 + ip_len)) : nullptr;
                dst_ok = sa != nullptr && sa->outer_v6 && std::memcmp(ip->dst_addr, sa->local6.data(), 16) == 0;
            }
        }
        const uint32_t esp_len = l3_len - ip_len;
        if (l3_len < ip_len + kEspHeaderLen + kEspIvLen + kEspTrailerLen + kEspIcvLen || !rte_pktmbuf_is_contiguous(m))
            [[unlikely]] {
            drop_packet(ctx, m, DropReason::esp_truncated);
            continue;
        }
        if (!dst_ok) [[unlikely]] {
            drop_packet(ctx, m, DropReason::esp_unknown_spi);
            continue;
        }
        if (sa->dead.load(std::memory_order_relaxed)) [[unlikely]] {
            drop_packet(ctx, m, DropReason::ipsec_sa_expired);
            continue;
        }
        uint8_t* esp = l3 + ip_len;
        p[np] = Pending{.m = m,
                        .sa = sa,
                        .esp = esp,
                        .payload_len = esp_len - kEspHeaderLen - kEspIvLen - kEspIcvLen,
                        .seq = get_be32(esp + 4),
                        .ok = true};
        group_of[np] = groups.slot(sa);
        ++np;
    }

    // Anti-replay check before spending cycles on crypto (RFC 4303 3.4.3).
    for (uint16_t g = 0; g < groups.n; ++g) {
        Sa& sa = *groups.sa[g];
        rte_spinlock_lock(&sa.replay_lock);
        // Every packet of the burst is placed against the window as the burst
        // found it: a number seen earlier in the same burst is not yet
        // authenticated and must not move the ESN guess (RFC 4303 A2.2).
        for (uint16_t i = 0; i < np; ++i) {
            if (group_of[i] != g) {
                continue;
            }
            const auto low = static_cast<uint32_t>(p[i].seq);
            p[i].seq = sa.esn ? sa.replay.esn_infer(low) : low;
            const auto v = sa.replay.check(p[i].seq);
            if (v != ReplayWindow::Verdict::ok) {
                p[i].ok = false;
                sa.replay_drops.fetch_add(1, std::memory_order_relaxed);
                drop_packet(ctx, p[i].m,
                            v == ReplayWindow::Verdict::replayed ? DropReason::esp_replay : DropReason::esp_too_old);
            }
        }
        rte_spinlock_unlock(&sa.replay_lock);
    }

    uint16_t n_ops = 0;
    for (uint16_t i = 0; i < np; ++i) {
        if (!p[i].ok) {
            continue;
        }
        Sa& sa = *p[i].sa;
        GcmOp& op = s.ops[n_ops];
        std::memcpy(s.iv[n_ops], sa.salt.data(), 4);
        std::memcpy(s.iv[n_ops] + 4, p[i].esp + kEspHeaderLen, kEspIvLen);
        op.key = &sa.key;
        op.iv = s.iv[n_ops];
        op.aad = s.aad[n_ops];
        op.aad_len = fill_aad(s.aad[n_ops], sa.spi, p[i].seq, sa.esn);
        op.data = p[i].esp + kEspHeaderLen + kEspIvLen;
        op.len = p[i].payload_len;
        op.tag = s.tag[n_ops];
        s.index[n_ops] = i;
        ++n_ops;
    }
    ctx.crypto->decrypt(std::span(s.ops, n_ops));
    for (uint16_t o = 0; o < n_ops; ++o) {
        Pending& pk = p[s.index[o]];
        const uint8_t* icv = s.ops[o].data + s.ops[o].len;
        if (!s.ops[o].ok || !tag_equal(s.ops[o].tag, icv, kEspIcvLen)) [[unlikely]] {
            pk.ok = false;
            pk.sa->auth_drops.fetch_add(1, std::memory_order_relaxed);
            drop_packet(ctx, pk.m, s.ops[o].ok ? DropReason::esp_auth_failed : DropReason::esp_crypto_failed);
        }
    }

    // Authenticated: move the window (re-checking: another lcore may have
    // accepted the same number meanwhile).
    for (uint16_t g = 0; g < groups.n; ++g) {
        Sa& sa = *groups.sa[g];
        rte_spinlock_lock(&sa.replay_lock);
        for (uint16_t i = 0; i < np; ++i) {
            if (group_of[i] != g || !p[i].ok) {
                continue;
            }
            if (const auto v = sa.replay.check(p[i].seq); v != ReplayWindow::Verdict::ok) {
                p[i].ok = false;
                sa.replay_drops.fetch_add(1, std::memory_order_relaxed);
                drop_packet(ctx, p[i].m,
                            v == ReplayWindow::Verdict::replayed ? DropReason::esp_replay : DropReason::esp_too_old);
                continue;
            }
            sa.replay.update(p[i].seq);
        }
        rte_spinlock_unlock(&sa.replay_lock);
    }

    uint16_t n_out = 0;
    for (uint16_t i = 0; i < np; ++i) {
        if (!p[i].ok) {
            continue;
        }
        rte_mbuf* m = p[i].m;
        const uint8_t* payload = p[i].esp + kEspHeaderLen + kEspIvLen;
        const uint8_t pad_len = payload[p[i].payload_len - 2];
        const uint8_t next = payload[p[i].payload_len - 1];
        bool pad_ok = pad_len + kEspTrailerLen <= p[i].payload_len;
        for (uint32_t k = 0; pad_ok && k < pad_len; ++k) {
            pad_ok = payload[p[i].payload_len - 2 - pad_len + k] == k + 1;
        }
        if (!pad_ok) [[unlikely]] {
            drop_packet(ctx, m, DropReason::esp_bad_padding);
            continue;
        }
        if (next != kNextIpv4 && next != kNextIpv6) [[unlikely]] {
            drop_packet(ctx, m, next == kNextNone ? DropReason::esp_dummy : DropReason::esp_bad_next_header);
            continue;
        }
        const uint32_t inner_len = p[i].payload_len - kEspTrailerLen - pad_len;
        p[i].sa->account(1, inner_len);
        // Keep an Ethernet header's room just before the inner packet.
        const auto inner_off = static_cast<uint16_t>(payload - rte_pktmbuf_mtod(m, uint8_t*));
        rte_pktmbuf_adj(m, static_cast<uint16_t>(inner_off - kEthLen));
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - kEthLen - inner_len));
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        eth->ether_type = next == kNextIpv4 ? RTE_BE16(RTE_ETHER_TYPE_IPV4) : RTE_BE16(RTE_ETHER_TYPE_IPV6);
        // The NIC's checksum verdicts were about the outer packet.
        m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
        out[n_out] = m;
        out_sa[n_out] = p[i].sa;
        ++n_out;
    }
    return n_out;
}

}  // namespace gw::dp::ipsec
