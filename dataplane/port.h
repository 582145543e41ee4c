#pragma once
// Port bring-up from the config: devargs -> ethdev, queues, RSS, MTU, MAC,
// promiscuous mode, start and stop. Control plane only.

#include <cstdint>
#include <string>
#include <string_view>

#include <rte_ether.h>

#include "common/error.h"
#include "controlplane/config.h"

struct rte_mempool;

namespace gw::dp {

// Finds the ethdev for `devargs`, probing it as a hot-plugged device when EAL
// has not already (vdevs). PCI devices must be on EAL's allow-list.
[[nodiscard]] Result<uint16_t> probe_port(std::string_view devargs);

// The name ethdev knows a device by: the devargs up to the first comma, with
// a short PCI address ("3b:00.0") widened to its domain form.
[[nodiscard]] std::string device_name(std::string_view devargs);

[[nodiscard]] bool is_pci_address(std::string_view name) noexcept;

struct PortQueues {
    uint16_t rx = 1;
    uint16_t tx = 1;  // what the port granted; may be less than asked (shared queues)
};

// Configures rx/tx queues (RSS when rx > 1), descriptors, MTU, MAC and
// promiscuous mode, and starts the port. `tx_wanted` is one queue per
// transmitting lcore; a port that offers fewer gets as many as it has.
// On an error after the device accepted its configuration (queue setup, MAC,
// start), the port is closed: no queue is left holding `pool`, which the
// caller may free at once, and the port id is no longer valid.
[[nodiscard]] Result<PortQueues> configure_port(uint16_t port_id, const cp::PortConfig& config, uint16_t tx_wanted,
                                                rte_mempool* pool);

[[nodiscard]] rte_ether_addr port_mac(uint16_t port_id);

// Stops and closes the port; errors are only logged (shutdown path).
void stop_port(uint16_t port_id, std::string_view name);

}  // namespace gw::dp
