#pragma once
// rte_eal_init's arguments from gwgen's options: the lcores (main, tx, rx), a private
// file prefix, memory (--in-memory on hugepages, or --no-huge), the PCI allow-list of
// the ports that are PCI addresses (or --no-pci when none is), then whatever came
// after "--" on the command line (an lcore list there replaces gwgen's). Virtual devices are not listed: ports are
// probed (hot-plugged) from their devargs after EAL starts, as gatewayd does.

#include <string>
#include <vector>

#include "pktgen/gwgen/spec.h"

namespace gw::gen {

[[nodiscard]] std::vector<std::string> build_eal_args(const Options& o);

}  // namespace gw::gen
