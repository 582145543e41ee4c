// SPDX-License-Identifier: BSD-3-Clause
/* xdp_gateway: the gateway's XDP program on a kernel-driven port.
 *
 * Verdicts, in order (first match wins):
 *   malformed header                      -> XDP_DROP  (drop-malformed)
 *   source in blocklist (LPM, v4/v6)      -> XDP_DROP  (drop-blocked, per-rule counter)
 *   source over its token bucket          -> XDP_DROP  (drop-ratelimit)
 *   management traffic (ARP, ND, ICMP
 *     echo, configured TCP/UDP dst ports) -> XDP_PASS  (pass-mgmt)
 *   destination in a bypass prefix        -> MACs rewritten, TTL-1, XDP_REDIRECT via
 *                                            tx_ports (redirect-bypass, per-rule counter);
 *                                            TTL <= 1 -> XDP_PASS (pass-ttl)
 *   everything else                       -> XDP_REDIRECT to xsks_map[rx queue]
 *                                            (redirect-xsk), or XDP_PASS when no
 *                                            socket is bound (pass-no-socket)
 *
 * Parsing follows xdp-tools' parsing_helpers.h: one cursor, and every header
 * is bounds-checked against data_end before it is read. No state is written
 * except counters and rate-limit buckets. The map names are ABI: DPDK's
 * net_af_xdp looks up "xsks_map" by name, and the manager pins the others
 * under /sys/fs/bpf/gatewayd/<ifname>/<map name>. */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_gateway.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF 0x2000
/* ICMP types (linux/icmp.h pulls in libc's socket headers, unusable with -target bpf). */
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
#define IP_OFFSET 0x1FFF

/* Runtime configuration (rate limit, management classes): one entry. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct gw_xdp_config);
} config SEC(".maps");

/* IPv4 source blocklist: longest prefix wins, value names the rule. */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, GW_XDP_MAX_BLOCK_V4);
    __uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
    __type(key, struct gw_xdp_lpm_v4);
    __type(value, struct gw_xdp_block_rule);
} block_v4 SEC(".maps");

/* IPv6 source blocklist. */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, GW_XDP_MAX_BLOCK_V6);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct gw_xdp_lpm_v6);
    __type(value, struct gw_xdp_block_rule);
} block_v6 SEC(".maps");

/* Token bucket per source (v4 address, v6 /64). LRU: a flood of spoofed
 * sources evicts the stalest buckets instead of failing inserts. Shared
 * between CPUs without a lock: RSS keeps one source on one queue, and a race
 * at worst admits a packet twice. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, GW_XDP_MAX_RATE_SOURCES);
    __type(key, struct gw_xdp_addr);
    __type(value, struct gw_xdp_rate_state);
} rate_state SEC(".maps");

/* Management destination ports: index = port (host order), value =
 * GW_XDP_PORT_TCP | GW_XDP_PORT_UDP. An array: one lookup, no hashing. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u32);
} mgmt_ports SEC(".maps");

/* The host's own addresses (IPv4-mapped for v4): management ports and ICMP
 * echo pass only to these. Empty: any destination. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, GW_XDP_MAX_LOCAL_ADDRS);
    __type(key, struct gw_xdp_addr);
    __type(value, __u32);
} local_addrs SEC(".maps");

/* IPv4 bypass: destination prefix -> egress and MACs (fast forward). */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, GW_XDP_MAX_BYPASS);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct gw_xdp_lpm_v4);
    __type(value, struct gw_xdp_bypass_rule);
} bypass_v4 SEC(".maps");

/* IPv6 bypass. */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, GW_XDP_MAX_BYPASS);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct gw_xdp_lpm_v6);
    __type(value, struct gw_xdp_bypass_rule);
} bypass_v6 SEC(".maps");

/* Egress interfaces of bypass rules, keyed by ifindex. */
struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
    __uint(max_entries, GW_XDP_MAX_EGRESS);
    __type(key, __u32);
    __type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

/* AF_XDP sockets by rx queue, filled by DPDK's net_af_xdp (name is ABI). */
struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, GW_XDP_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} xsks_map SEC(".maps");

/* Per-verdict counters (enum gw_xdp_stat), per CPU: no atomics per packet. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, GW_XDP_STAT_MAX);
    __type(key, __u32);
    __type(value, struct gw_xdp_counter);
} verdict_stats SEC(".maps");

/* Per-rule counters (blocklist and bypass rule ids), per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, GW_XDP_MAX_RULES);
    __type(key, __u32);
    __type(value, struct gw_xdp_counter);
} rule_stats SEC(".maps");

struct cursor {
    void* pos;
    void* end;
};

/* What the parser learned; addresses point into the packet. */
struct pkt {
    __u64 len;
    struct ethhdr* eth;
    struct iphdr* ip4;
    struct ipv6hdr* ip6;
    __u8 l4_proto;
    __u8 has_ports; /* first fragment or unfragmented, L4 header present */
    __u8 vlan_tags;
    __u8 icmp_type;
    __u16 dst_port; /* host order, valid when has_ports */
};

static __always_inline void count(void* map, __u32 idx, __u64 bytes) {
    struct gw_xdp_counter* c = bpf_map_lookup_elem(map, &idx);

    if (c) {
        c->packets++;
        c->bytes += bytes;
    }
}

static __always_inline int verdict(__u32 stat, __u64 bytes, int action) {
    count(&verdict_stats, stat, bytes);
    return action;
}

/* Returns the inner ethertype (network order) after at most two VLAN tags, or
 * 0 when a header is truncated. */
static __always_inline __u16 parse_eth(struct cursor* c, struct pkt* p) {
    struct ethhdr* eth = c->pos;
    __u16 proto;
    int i;

    if ((void*)(eth + 1) > c->end)
        return 0;
    p->eth = eth;
    c->pos = eth + 1;
    proto = eth->h_proto;
#pragma unroll
    for (i = 0; i < GW_XDP_MAX_VLAN_TAGS; i++) {
        /* struct vlan_hdr: TCI, encapsulated proto */
        __be16* vlan = c->pos;

        if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
            break;
        if ((void*)(vlan + 2) > c->end)
            return 0;
        proto = vlan[1];
        c->pos = vlan + 2;
        p->vlan_tags++;
    }
    if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
        return 0; /* a third tag: not something a gateway port accepts */
    return proto;
}

/* L4: the destination port or the ICMP type. Returns -1 when truncated. */
static __always_inline int parse_l4(struct cursor* c, struct pkt* p) {
    if (p->l4_proto == IPPROTO_TCP || p->l4_proto == IPPROTO_UDP) {
        __be16* ports = c->pos; /* source, destination: first 4 bytes of both */

        if ((void*)(ports + 2) > c->end)
            return -1;
        p->dst_port = bpf_ntohs(ports[1]);
        p->has_ports = 1;
    } else if (p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6) {
        __u8* type = c->pos;

        if ((void*)(type + 1) > c->end)
            return -1;
        p->icmp_type = *type;
        p->has_ports = 1; /* "has L4 header" */
    }
    return 0;
}

static __always_inline int parse_ip4(struct cursor* c, struct pkt* p) {
    struct iphdr* ip = c->pos;
    __u32 hlen;

    if ((void*)(ip + 1) > c->end)
        return -1;
    if (ip->version != 4 || ip->ihl < 5)
        return -1;
    hlen = ip->ihl * 4;
    if (c->pos + hlen > c->end) /* options truncated */
        return -1;
    p->ip4 = ip;
    p->l4_proto = ip->protocol;
    c->pos += hlen;
    if (ip->frag_off & bpf_htons(IP_OFFSET))
        return 0; /* non-first fragment: no L4 header */
    return parse_l4(c, p);
}

static __always_inline int parse_ip6(struct cursor* c, struct pkt* p) {
    struct ipv6hdr* ip6 = c->pos;
    __u8 next;
    int i;

    if ((void*)(ip6 + 1) > c->end)
        return -1;
    if (ip6->version != 6)
        return -1;
    p->ip6 = ip6;
    c->pos = ip6 + 1;
    next = ip6->nexthdr;
#pragma unroll
    for (i = 0; i < GW_XDP_MAX_EXT_HDRS; i++) {
        /* Generic extension header: next header, length. */
        __u8* hdr = c->pos;

        switch (next) {
            case IPPROTO_HOPOPTS:
            case IPPROTO_ROUTING:
            case IPPROTO_DSTOPTS:
                if ((void*)(hdr + 8) > c->end)
                    return -1;
                next = hdr[0];
                c->pos += ((__u32)hdr[1] + 1) * 8;
                break;
            case IPPROTO_AH:
                if ((void*)(hdr + 8) > c->end)
                    return -1;
                next = hdr[0];
                c->pos += ((__u32)hdr[1] + 2) * 4;
                break;
            case IPPROTO_FRAGMENT: {
                __be16* off;

                if ((void*)(hdr + 8) > c->end)
                    return -1;
                off = (__be16*)(hdr + 2);
                next = hdr[0];
                c->pos += 8;
                if (*off & bpf_htons(0xFFF8)) { /* offset != 0: non-first fragment */
                    p->l4_proto = next;
                    return 0;
                }
                break;
            }
            default:
                p->l4_proto = next;
                return parse_l4(c, p);
        }
    }
    return -1; /* more extension headers than we walk */
}

static __always_inline void v4_mapped(struct gw_xdp_addr* a, __be32 addr) {
    __builtin_memset(a, 0, sizeof(*a));
    a->addr[10] = 0xff;
    a->addr[11] = 0xff;
    __builtin_memcpy(&a->addr[12], &addr, 4);
}

/* Token bucket for `src`. Returns 1 when the packet is within the rate. */
static __always_inline int rate_admit(const struct gw_xdp_config* cfg, const struct gw_xdp_addr* src) {
    const __u64 full = cfg->rate_burst * GW_XDP_NSEC_PER_TOKEN;
    __u64 now = bpf_ktime_get_ns();
    struct gw_xdp_rate_state* st = bpf_map_lookup_elem(&rate_state, src);
    __u64 tokens, elapsed;

    if (!st) {
        struct gw_xdp_rate_state init = {
            .tokens = full > GW_XDP_NSEC_PER_TOKEN ? full - GW_XDP_NSEC_PER_TOKEN : 0,
            .last_ns = now,
        };

        if (full < GW_XDP_NSEC_PER_TOKEN)
            return 0;
        bpf_map_update_elem(&rate_state, src, &init, BPF_ANY);
        return 1;
    }
    elapsed = now > st->last_ns ? now - st->last_ns : 0;
    tokens = st->tokens;
    if (elapsed >= cfg->rate_fill_ns)
        tokens = full;
    else
        tokens += elapsed * cfg->rate_pps; /* < burst * 1e9: no overflow */
    if (tokens > full)
        tokens = full;
    st->last_ns = now;
    if (tokens < GW_XDP_NSEC_PER_TOKEN) {
        st->tokens = tokens;
        return 0;
    }
    st->tokens = tokens - GW_XDP_NSEC_PER_TOKEN;
    return 1;
}

static __always_inline int is_local(const struct gw_xdp_config* cfg, const struct gw_xdp_addr* dst) {
    return cfg->n_local_addrs == 0 || bpf_map_lookup_elem(&local_addrs, dst) != NULL;
}

static __always_inline int is_mgmt(const struct gw_xdp_config* cfg, const struct pkt* p,
                                   const struct gw_xdp_addr* dst) {
    __u32 port, *bits;

    if (!p->has_ports)
        return 0;
    if (p->l4_proto == IPPROTO_ICMP) {
        return (cfg->mgmt_flags & GW_XDP_MGMT_ICMP) && (p->icmp_type == ICMP_ECHO || p->icmp_type == ICMP_ECHOREPLY) &&
               is_local(cfg, dst);
    }
    if (p->l4_proto == IPPROTO_ICMPV6) {
        if (p->icmp_type >= 133 && p->icmp_type <= 137) /* RS, RA, NS, NA, redirect */
            return (cfg->mgmt_flags & GW_XDP_MGMT_ND) != 0;
        return (cfg->mgmt_flags & GW_XDP_MGMT_ICMP) &&
               (p->icmp_type == ICMPV6_ECHO_REQUEST || p->icmp_type == ICMPV6_ECHO_REPLY) && is_local(cfg, dst);
    }
    port = p->dst_port;
    bits = bpf_map_lookup_elem(&mgmt_ports, &port);
    if (!bits || !*bits)
        return 0;
    if (p->l4_proto == IPPROTO_TCP && !(*bits & GW_XDP_PORT_TCP))
        return 0;
    if (p->l4_proto == IPPROTO_UDP && !(*bits & GW_XDP_PORT_UDP))
        return 0;
    return is_local(cfg, dst);
}

/* RFC 1624 incremental update for a TTL decrement (the TTL is the high byte
 * of its 16-bit word), as the kernel's ip_decrease_ttl does. */
static __always_inline void ip4_decrease_ttl(struct iphdr* ip) {
    __u32 check = ip->check;

    check += bpf_htons(0x0100);
    ip->check = (__u16)(check + (check >= 0xFFFF));
    ip->ttl--;
}

static __always_inline int bypass(struct pkt* p, const struct gw_xdp_bypass_rule* r) {
    if (p->ip4) {
        if (p->ip4->ttl <= 1)
            return verdict(GW_XDP_STAT_PASS_TTL, p->len, XDP_PASS);
        ip4_decrease_ttl(p->ip4);
    } else if (p->ip6) {
        if (p->ip6->hop_limit <= 1)
            return verdict(GW_XDP_STAT_PASS_TTL, p->len, XDP_PASS);
        p->ip6->hop_limit--;
    }
    __builtin_memcpy(p->eth->h_dest, r->dst_mac, ETH_ALEN);
    __builtin_memcpy(p->eth->h_source, r->src_mac, ETH_ALEN);
    count(&rule_stats, r->rule_id, p->len);
    if (bpf_redirect_map(&tx_ports, r->egress_ifindex, XDP_PASS) == XDP_REDIRECT)
        return verdict(GW_XDP_STAT_REDIRECT_BYPASS, p->len, XDP_REDIRECT);
    return verdict(GW_XDP_STAT_PASS_NO_EGRESS, p->len, XDP_PASS);
}

SEC("xdp")
int xdp_gateway(struct xdp_md* ctx) {
    struct cursor c = {
        .pos = (void*)(long)ctx->data,
        .end = (void*)(long)ctx->data_end,
    };
    struct pkt p = {.len = ctx->data_end - ctx->data};
    struct gw_xdp_addr src_key, dst_key;
    const struct gw_xdp_block_rule* blocked = NULL;
    const struct gw_xdp_bypass_rule* fwd = NULL;
    struct gw_xdp_config* cfg;
    __u32 zero = 0;
    __u16 proto;
    int ret;

    cfg = bpf_map_lookup_elem(&config, &zero);
    if (!cfg) /* cannot happen for an array; keeps the verifier happy */
        return XDP_PASS;

    proto = parse_eth(&c, &p);
    if (proto == 0)
        return verdict(GW_XDP_STAT_DROP_MALFORMED, p.len, XDP_DROP);

    if (proto == bpf_htons(ETH_P_ARP)) {
        if (cfg->mgmt_flags & GW_XDP_MGMT_ARP)
            return verdict(GW_XDP_STAT_PASS_MGMT, p.len, XDP_PASS);
        goto to_dataplane;
    }

    if (proto == bpf_htons(ETH_P_IP)) {
        struct gw_xdp_lpm_v4 key = {.prefixlen = 32};

        if (parse_ip4(&c, &p) < 0)
            return verdict(GW_XDP_STAT_DROP_MALFORMED, p.len, XDP_DROP);
        __builtin_memcpy(key.addr, &p.ip4->saddr, 4);
        blocked = bpf_map_lookup_elem(&block_v4, &key);
        v4_mapped(&src_key, p.ip4->saddr);
        v4_mapped(&dst_key, p.ip4->daddr);
    } else if (proto == bpf_htons(ETH_P_IPV6)) {
        struct gw_xdp_lpm_v6 key = {.prefixlen = 128};

        if (parse_ip6(&c, &p) < 0)
            return verdict(GW_XDP_STAT_DROP_MALFORMED, p.len, XDP_DROP);
        __builtin_memcpy(key.addr, &p.ip6->saddr, 16);
        blocked = bpf_map_lookup_elem(&block_v6, &key);
        __builtin_memcpy(src_key.addr, &p.ip6->saddr, 16);
        __builtin_memset(&src_key.addr[8], 0, 8); /* bucket per /64 */
        __builtin_memcpy(dst_key.addr, &p.ip6->daddr, 16);
    } else {
        goto to_dataplane; /* other ethertypes: the data plane decides */
    }

    if (blocked) {
        count(&rule_stats, blocked->rule_id, p.len);
        return verdict(GW_XDP_STAT_DROP_BLOCKED, p.len, XDP_DROP);
    }
    if (cfg->rate_pps && !rate_admit(cfg, &src_key))
        return verdict(GW_XDP_STAT_DROP_RATELIMIT, p.len, XDP_DROP);
    if (is_mgmt(cfg, &p, &dst_key))
        return verdict(GW_XDP_STAT_PASS_MGMT, p.len, XDP_PASS);

    if (p.vlan_tags == 0) { /* bypass forwards untagged frames only */
        if (p.ip4) {
            struct gw_xdp_lpm_v4 key = {.prefixlen = 32};

            __builtin_memcpy(key.addr, &p.ip4->daddr, 4);
            fwd = bpf_map_lookup_elem(&bypass_v4, &key);
        } else if (p.ip6) {
            struct gw_xdp_lpm_v6 key = {.prefixlen = 128};

            __builtin_memcpy(key.addr, &p.ip6->daddr, 16);
            fwd = bpf_map_lookup_elem(&bypass_v6, &key);
        }
        if (fwd)
            return bypass(&p, fwd);
    }

to_dataplane:
    ret = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
    if (ret == XDP_REDIRECT)
        return verdict(GW_XDP_STAT_REDIRECT_XSK, p.len, XDP_REDIRECT);
    return verdict(GW_XDP_STAT_PASS_NO_SOCKET, p.len, ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
