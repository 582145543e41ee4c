#pragma once
// gatewayd's own commands on DPDK's telemetry socket, beside the library's
// (/ethdev/stats, /mempool/info ...), so that `dpdk-telemetry.py -f <prefix>`
// shows the gateway's view too:
//
//   /gateway/summary   packets, drops, mbufs, gateway latency percentiles (window)
//   /gateway/drops     drops by reason, summed over lcores (non-zero reasons)
//   /gateway/lcore     per lcore: packets, load, latency; parameter: the lcore id
//   /gateway/sa        per SA: packets, bytes, replay and auth drops; parameter: the SA name
//
// Callbacks run on DPDK's telemetry thread: they read the latest published
// snapshot (immutable, swapped under a mutex), never data-plane memory.
// Also sets up rte_pdump so that dpdk-dumpcap can capture on the ports.

#include "controlplane/telemetry.h"

namespace gw::dpdk_telemetry {

// Registers the commands; call once after rte_eal_init.
void register_commands();
// Makes `snapshot` what the commands answer from (nullptr: nothing yet).
void publish(telemetry::SnapshotPtr snapshot);
// rte_pdump_init for a primary process that shares its memory (not with
// --in-memory / --no-shconf, where no secondary can attach). Logs the outcome.
void enable_pdump();
// Undoes enable_pdump (before rte_eal_cleanup).
void disable_pdump();

}  // namespace gw::dpdk_telemetry
