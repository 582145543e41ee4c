#pragma once
// Final and on-demand counter reports: a table for people, JSON for scripts.

#include <string>

#include "dataplane/dataplane.h"

namespace gw {

struct Report {
    std::vector<dp::LcoreStats> lcores;
    std::vector<dp::PortStats> ports;
    uint64_t mbufs_in_use = 0;
    uint64_t mbufs_retained_by_drivers = 0;
    uint64_t mbufs_leaked = 0;
};

[[nodiscard]] Report collect_report(const dp::Dataplane& dataplane);
[[nodiscard]] std::string format_report_text(const Report& report);
[[nodiscard]] std::string format_report_json(const Report& report);

}  // namespace gw
