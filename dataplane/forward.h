#pragma once
// The forwarding stage: classify, validate, route, rewrite and queue a burst.
//
// Contract: every packet handed in is consumed exactly once: queued on a tx
// buffer, handed to the control thread (punt ring), or freed and counted under
// a drop reason. Never allocates except an mbuf for an ICMP error, never logs,
// never blocks.

#include <cstdint>

#include "dataplane/icmp.h"
#include "dataplane/lcore_context.h"

struct rte_mbuf;

namespace gw::dp {

// Processes `n` packets received on port index `in_port`.
void forward_burst(LcoreContext& ctx, uint16_t in_port, rte_mbuf** pkts, uint16_t n) noexcept;

// Routes and queues a packet the gateway originated (ICMP, ARP-held packets
// re-sent by the control thread): L3 header complete, L2 header space present.
void output_local(LcoreContext& ctx, rte_mbuf* m) noexcept;

// Queues `m` (L2 header complete) for transmission on port index `port`.
void send_on_port(LcoreContext& ctx, uint16_t port, rte_mbuf* m) noexcept;

// Sends the ICMP error `kind` about `m` (received on port index `in_port`)
// when the lcore's rate limit allows. The caller still owns `m`.
void send_icmp_error(LcoreContext& ctx, rte_mbuf* m, uint16_t in_port, IcmpError kind, uint32_t mtu) noexcept;

// Frees what was dropped and hands punted packets to the control thread;
// forward_burst calls it at the end of each burst, other callers after
// output_local.
void release_pending(LcoreContext& ctx) noexcept;

// Transmits every non-empty tx buffer; unsent packets are freed as tx-full.
void flush_tx(LcoreContext& ctx) noexcept;

// Transmits one port's tx buffer.
void flush_tx_port(LcoreContext& ctx, uint16_t port) noexcept;

}  // namespace gw::dp
