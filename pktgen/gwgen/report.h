#pragma once
// Renders results for people (terminal tables and per-interval lines) and machines
// (JSON with everything, the time series included: pktgen/plot-gwgen.sh reads it).

#include <string>

#include <nlohmann/json.hpp>

#include "pktgen/gwgen/results.h"
#include "pktgen/gwgen/spec.h"

namespace gw::gen {

// Keys in the order written, so a person reading the file sees name and rate first.
using Json = nlohmann::ordered_json;

// "12.35 kpps", "1.50 Mpps"; "950 ns", "12.3 us", "1.20 ms".
[[nodiscard]] std::string format_pps(double pps);
[[nodiscard]] std::string format_bps(double bps);
[[nodiscard]] std::string format_ns(double ns);

// One line per interval: time, tx and rx rates, latency percentiles of all streams.
[[nodiscard]] std::string format_interval(const Interval& iv);
// A table per stream and totals, then the receive side's and generator's own counters.
[[nodiscard]] std::string format_run(const RunResult& r);
[[nodiscard]] std::string format_rfc2544(const Rfc2544Result& r);

[[nodiscard]] Json to_json(const LatencySummary& l);
[[nodiscard]] Json to_json(const StreamResult& s);
[[nodiscard]] Json to_json(const RunResult& r);
[[nodiscard]] Json to_json(const Rfc2544Result& r);
[[nodiscard]] Json to_json(const StreamSpec& s);
[[nodiscard]] Json to_json(const PortInfo& p);
[[nodiscard]] Json to_json(const MempoolReport& m);

}  // namespace gw::gen
