#include "pktgen/gwgen/eal_args.h"

#include <algorithm>
#include <set>

#include "dataplane/port.h"

namespace gw::gen {

std::vector<std::string> build_eal_args(const Options& o) {
    std::vector<std::string> args{"gwgen"};
    // An lcore list after "--" (-l, --lcores: say to pin two lcores on one CPU with
    // --lcores 0@0,1@0) replaces the one made from --tx-lcores and --rx-lcore.
    const bool own_lcores = std::any_of(o.eal_extra.begin(), o.eal_extra.end(), [](const std::string& a) {
        return a == "-l" || a.starts_with("-l") || a.starts_with("--lcores") || a == "-c";
    });
    if (!own_lcores) {
        std::set<unsigned> lcores{o.main_lcore, o.rx_lcore};
        lcores.insert(o.tx_lcores.begin(), o.tx_lcores.end());
        std::string list;
        for (unsigned l : lcores) {
            list += (list.empty() ? "" : ",") + std::to_string(l);
        }
        args.insert(args.end(), {"-l", list});
    }
    args.insert(args.end(), {"--main-lcore", std::to_string(o.main_lcore)});
    args.push_back("--file-prefix=" + o.file_prefix);
    // The telemetry socket would outlive rte_eal_cleanup and keep the runtime directory.
    args.push_back("--no-telemetry");
    if (o.no_huge) {
        // EAL refuses --in-memory with --no-huge; --no-shconf leaves nothing on disk either.
        args.insert(args.end(),
                    {"--no-huge", "--no-shconf", "-m", std::to_string(o.memory_mb != 0 ? o.memory_mb : 512)});
    } else {
        args.push_back("--in-memory");
        if (o.memory_mb != 0) {
            args.insert(args.end(), {"-m", std::to_string(o.memory_mb)});
        }
    }
    bool any_pci = false;
    for (const auto& devargs : o.ports) {
        const std::string name = dp::device_name(devargs);
        if (dp::is_pci_address(name)) {
            const auto comma = devargs.find(',');
            args.insert(args.end(), {"-a", comma == std::string::npos ? name : name + devargs.substr(comma)});
            any_pci = true;
        }
    }
    if (!any_pci) {
        args.push_back("--no-pci");
    }
    args.push_back(o.log_level == "debug" ? "--log-level=info" : "--log-level=error");
    args.insert(args.end(), o.eal_extra.begin(), o.eal_extra.end());
    return args;
}

}  // namespace gw::gen
