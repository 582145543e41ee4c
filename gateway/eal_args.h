#pragma once
// Builds rte_eal_init's argument vector from the startup config: lcores,
// main lcore, memory mode, and the device list (PCI allow-list, or --no-pci
// when every port is a virtual device, so EAL never grabs a NIC it was not
// given).

#include <string>
#include <vector>

#include "controlplane/config.h"

namespace gw {

[[nodiscard]] std::vector<std::string> build_eal_args(const cp::Config& config, bool verbose);

}  // namespace gw
