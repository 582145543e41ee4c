/* Shared by the XDP program (xdp_gateway.bpf.c, clang -target bpf) and the
 * user-space manager (xdp_manager.cc, g++). Plain C with fixed-width types
 * only: every struct here is a map key or value, so its layout is ABI between
 * the two sides and with the maps pinned in bpffs by an earlier gatewayd. The
 * C++ side static_asserts every size; change a struct and the pinned maps of a
 * running appliance stop matching (libbpf refuses to reuse them, and the
 * manager says which pin to remove).
 *
 * Byte order: addresses and ports in keys are network order (as on the wire),
 * counters and configuration are host order. */
#ifndef GW_XDP_GATEWAY_H
#define GW_XDP_GATEWAY_H

#include <linux/types.h>

#define GW_XDP_PROG_NAME "xdp_gateway" /* kernel prog name: identifies our program on an interface */

#define GW_XDP_MAX_RULES 4096     /* rule ids 0..4095: blocklist and bypass entries share one id space */
#define GW_XDP_MAX_BLOCK_V4 16384 /* LPM entries per family */
#define GW_XDP_MAX_BLOCK_V6 16384
#define GW_XDP_MAX_BYPASS 1024        /* bypass prefixes per family */
#define GW_XDP_MAX_RATE_SOURCES 65536 /* LRU: least recently seen sources are forgotten first */
#define GW_XDP_MAX_LOCAL_ADDRS 64
#define GW_XDP_MAX_QUEUES 64                /* xsks_map size: rx queues per interface (config kMaxRxQueues) */
#define GW_XDP_MAX_EGRESS 64                /* devmap entries (egress interfaces for bypass) */
#define GW_XDP_MAX_EXT_HDRS 8               /* IPv6 extension headers walked before giving up (dropped as malformed) */
#define GW_XDP_MAX_VLAN_TAGS 2              /* 802.1ad outer + 802.1Q inner */
#define GW_XDP_NSEC_PER_TOKEN 1000000000ULL /* token bucket fixed point: one packet = 1e9 units */

/* Per-verdict counters: index into the verdict_stats per-CPU array. Every packet
 * the program sees is counted in exactly one of these (rx is the sum). The
 * manager's table of labels (xdp_manager.cc) has one entry per value. */
enum gw_xdp_stat {
    GW_XDP_STAT_DROP_MALFORMED = 0, /* truncated/invalid L2/L3/L4 header or too many IPv6 ext headers */
    GW_XDP_STAT_DROP_BLOCKED,       /* source in the v4/v6 blocklist */
    GW_XDP_STAT_DROP_RATELIMIT,     /* source over its token bucket */
    GW_XDP_STAT_PASS_MGMT,          /* management traffic to the kernel (ARP/ND/ICMP echo/ports) */
    GW_XDP_STAT_PASS_TTL,           /* bypass flow whose TTL/hop limit would expire: kernel answers */
    GW_XDP_STAT_PASS_NO_SOCKET,     /* no AF_XDP socket on this rx queue: kernel stack gets it */
    GW_XDP_STAT_PASS_NO_EGRESS,     /* bypass egress not in the devmap: kernel stack gets it */
    GW_XDP_STAT_REDIRECT_XSK,       /* to the data plane's AF_XDP socket */
    GW_XDP_STAT_REDIRECT_BYPASS,    /* forwarded by XDP to the bypass egress interface */
    GW_XDP_STAT_MAX
};

/* Management classes passed to the kernel (gw_xdp_config.mgmt_flags). */
#define GW_XDP_MGMT_ARP (1u << 0)  /* every ARP frame */
#define GW_XDP_MGMT_ND (1u << 1)   /* ICMPv6 router/neighbor solicitation/advertisement, redirect */
#define GW_XDP_MGMT_ICMP (1u << 2) /* ICMP / ICMPv6 echo request and reply to a local address */

/* mgmt_ports value bits, indexed by destination port (host order). */
#define GW_XDP_PORT_TCP (1u << 0)
#define GW_XDP_PORT_UDP (1u << 1)

struct gw_xdp_counter {
    __u64 packets;
    __u64 bytes;
};

/* config map, single entry. Written whole by the manager; the program reads
 * each field once per packet. */
struct gw_xdp_config {
    __u64 rate_pps;      /* tokens per second per source; 0 disables the rate limit */
    __u64 rate_burst;    /* bucket depth in packets */
    __u64 rate_fill_ns;  /* time to refill an empty bucket: burst * 1e9 / pps (no division in BPF) */
    __u32 mgmt_flags;    /* GW_XDP_MGMT_* */
    __u32 n_local_addrs; /* 0: management ports match any destination address */
};

struct gw_xdp_lpm_v4 {
    __u32 prefixlen; /* LPM trie key header */
    __u8 addr[4];    /* network order */
};

struct gw_xdp_lpm_v6 {
    __u32 prefixlen;
    __u8 addr[16];
};

/* Rate-limit and local-address key: IPv4 addresses are stored as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d); IPv6 sources are rate limited per /64
 * (the low 64 bits are zero in rate_state keys), since one host usually owns
 * a whole /64 and could otherwise walk around its bucket. */
struct gw_xdp_addr {
    __u8 addr[16];
};

struct gw_xdp_rate_state {
    __u64 tokens;  /* in 1e-9 packets (GW_XDP_NSEC_PER_TOKEN per packet) */
    __u64 last_ns; /* bpf_ktime_get_ns() at the last refill */
};

/* blocklist value: the rule id (index into rule_stats). */
struct gw_xdp_block_rule {
    __u32 rule_id;
};

/* bypass value: where and how to forward without user space. */
struct gw_xdp_bypass_rule {
    __u32 egress_ifindex; /* key of tx_ports (DEVMAP_HASH keyed by ifindex) */
    __u32 rule_id;        /* index into rule_stats */
    __u8 dst_mac[6];      /* next hop */
    __u8 src_mac[6];      /* egress interface's MAC */
};

#endif /* GW_XDP_GATEWAY_H */
