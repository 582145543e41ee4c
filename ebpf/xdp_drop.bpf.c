// SPDX-License-Identifier: BSD-3-Clause
/* xdp_drop: the minimal XDP program (drop without touching the packet). The
 * benchmark's ceiling: scripts/bench-xdp.sh reports xdp_gateway's rates as a
 * ratio to this one's, measured in the same run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md* ctx) {
    (void)ctx;
    return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
