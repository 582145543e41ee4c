#include "gateway/report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace gw {

Report collect_report(const dp::Dataplane& dataplane) {
    return Report{.lcores = dataplane.lcore_stats(),
                  .ports = dataplane.port_stats(),
                  .mbufs_in_use = dataplane.mbufs_in_use(),
                  .mbufs_retained_by_drivers = dataplane.mbufs_retained_by_drivers(),
                  .mbufs_leaked = dataplane.mbufs_leaked()};
}

std::string format_report_text(const Report& r) {
    std::string out;
    out += fmt::format("{:<8} {:>7} {:>14} {:>14} {:>12} {:>10} {:>10}\n", "port", "", "rx-packets", "tx-packets",
                       "rx-missed", "rx-errors", "tx-errors");
    for (const auto& p : r.ports) {
        out += fmt::format("{:<8} {:>7} {:>14} {:>14} {:>12} {:>10} {:>10}\n", p.name, "", p.ipackets, p.opackets,
                           p.imissed, p.ierrors, p.oerrors);
    }
    out += fmt::format("\n{:<8} {:>7} {:>14} {:>14} {:>12} {:>10} {:>10}\n", "lcore", "role", "rx-packets",
                       "tx-packets", "drops", "punted", "icmp-sent");
    dp::LcoreCounters total;
    for (const auto& l : r.lcores) {
        const auto& c = l.counters;
        out += fmt::format("{:<8} {:>7} {:>14} {:>14} {:>12} {:>10} {:>10}\n", l.lcore,
                           l.is_control ? "control" : "worker", c.rx_packets, c.tx_packets, c.total_drops(), c.punted,
                           c.icmp_sent);
        total += c;
    }
    out += "\ndrop reason                  packets  description\n";
    bool any = false;
    for (std::size_t i = 0; i < dp::kNumDropReasons; ++i) {
        if (total.drops[i] != 0) {
            const auto& info = dp::kDropReasonInfo[i];
            out += fmt::format("{:<26} {:>10}  {}\n", info.label, total.drops[i], info.description);
            any = true;
        }
    }
    if (!any) {
        out += "(none)\n";
    }
    out += fmt::format("\nmbufs in use: {} (held by drivers by design: {}), leaked: {}\n", r.mbufs_in_use,
                       r.mbufs_retained_by_drivers, r.mbufs_leaked);
    return out;
}

std::string format_report_json(const Report& r) {
    using nlohmann::json;
    auto drops_json = [](const dp::LcoreCounters& c) {
        json d = json::object();
        for (std::size_t i = 0; i < dp::kNumDropReasons; ++i) {
            if (c.drops[i] != 0) {
                d[std::string(dp::kDropReasonInfo[i].label)] = c.drops[i];
            }
        }
        return d;
    };
    json j;
    dp::LcoreCounters total;
    j["lcores"] = json::array();
    for (const auto& l : r.lcores) {
        const auto& c = l.counters;
        j["lcores"].push_back({{"lcore", l.lcore},
                               {"role", l.is_control ? "control" : "worker"},
                               {"rx", c.rx_packets},
                               {"tx", c.tx_packets},
                               {"rx_bytes", c.rx_bytes},
                               {"tx_bytes", c.tx_bytes},
                               {"polls", c.polls},
                               {"empty_polls", c.empty_polls},
                               {"punted", c.punted},
                               {"icmp_sent", c.icmp_sent},
                               {"icmp_rate_limited", c.icmp_rate_limited},
                               {"drops", drops_json(c)}});
        total += c;
    }
    j["drops"] = drops_json(total);
    j["ports"] = json::array();
    for (const auto& p : r.ports) {
        j["ports"].push_back({{"name", p.name},
                              {"ipackets", p.ipackets},
                              {"opackets", p.opackets},
                              {"ibytes", p.ibytes},
                              {"obytes", p.obytes},
                              {"imissed", p.imissed},
                              {"ierrors", p.ierrors},
                              {"oerrors", p.oerrors},
                              {"rx_nombuf", p.rx_nombuf}});
    }
    j["mbufs_in_use"] = r.mbufs_in_use;
    j["mbufs_retained_by_drivers"] = r.mbufs_retained_by_drivers;
    j["mbufs_leaked"] = r.mbufs_leaked;
    return j.dump(2) + "\n";
}

}  // namespace gw
