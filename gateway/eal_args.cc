#include "gateway/eal_args.h"

#include <algorithm>
#include <set>

#include "dataplane/port.h"

namespace gw {

std::vector<std::string> build_eal_args(const cp::Config& config, bool verbose) {
    std::vector<std::string> args{"gatewayd"};
    std::set<unsigned> lcores{config.eal.main_lcore};
    for (const auto& w : config.workers) {
        lcores.insert(w.lcore);
    }
    std::string list;
    for (unsigned l : lcores) {
        list += (list.empty() ? "" : ",") + std::to_string(l);
    }
    args.insert(args.end(), {"-l", list, "--main-lcore", std::to_string(config.eal.main_lcore)});
    args.push_back("--file-prefix=" + config.eal.file_prefix);
    if (config.eal.no_huge) {
        // EAL refuses --in-memory with --no-huge (legacy memory); --no-shconf
        // gives the same promise: nothing left on disk.
        args.insert(args.end(), {"--no-huge", "--no-shconf"});
    } else if (config.eal.in_memory) {
        args.push_back("--in-memory");
    }
    if (config.eal.memory_mb != 0) {
        args.insert(args.end(), {"-m", std::to_string(config.eal.memory_mb)});
    }
    bool any_pci = false;
    for (const auto& p : config.ports) {
        const std::string name = dp::device_name(p.devargs);
        if (dp::is_pci_address(name)) {
            // Device arguments after the address travel with the allow-list entry.
            const auto comma = p.devargs.find(',');
            args.insert(args.end(), {"-a", comma == std::string::npos ? name : name + p.devargs.substr(comma)});
            any_pci = true;
        }
    }
    if (!any_pci) {
        args.push_back("--no-pci");
    }
    args.push_back(verbose ? "--log-level=info" : "--log-level=warning");
    args.insert(args.end(), config.eal.extra_args.begin(), config.eal.extra_args.end());
    return args;
}

}  // namespace gw
