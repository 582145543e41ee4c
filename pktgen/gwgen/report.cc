#include "pktgen/gwgen/report.h"

#include <fmt/format.h>

#include "pktgen/gwgen/pacing.h"

namespace gw::gen {

LatencyCdf latency_cdf(const dp::LatencyHistogram& h) {
    LatencyCdf cdf;
    if (h.count() == 0) {
        return cdf;
    }
    for (int p = 0; p < 99; ++p) {
        cdf.emplace_back(p, h.percentile(p));
    }
    for (double p : {99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0}) {
        cdf.emplace_back(p, h.percentile(p));
    }
    return cdf;
}

namespace {

std::string si(double v, const char* unit) {
    if (v >= 1e9) {
        return fmt::format("{:.2f} G{}", v / 1e9, unit);
    }
    if (v >= 1e6) {
        return fmt::format("{:.2f} M{}", v / 1e6, unit);
    }
    if (v >= 1e3) {
        return fmt::format("{:.2f} k{}", v / 1e3, unit);
    }
    return fmt::format("{:.0f} {}", v, unit);
}

double per_s(uint64_t n, double dt) {
    return dt > 0 ? static_cast<double>(n) / dt : 0;
}

Json interval_stream_json(const IntervalStream& s, double dt) {
    return {{"tx_packets", s.tx_packets},
            {"rx_packets", s.rx_packets},
            {"rx_bytes", s.rx_bytes},
            {"tx_pps", per_s(s.tx_packets, dt)},
            {"rx_pps", per_s(s.rx_packets, dt)},
            {"rx_bps", dt > 0 ? static_cast<double>(s.rx_bytes + s.rx_packets * kWireOverhead) * 8 / dt : 0},
            {"latency_ns", to_json(s.latency)}};
}

}  // namespace

std::string format_pps(double pps) {
    return si(pps, "pps");
}
std::string format_bps(double bps) {
    return si(bps, "b/s");
}
std::string format_ns(double ns) {
    if (ns >= 1e6) {
        return fmt::format("{:.2f} ms", ns / 1e6);
    }
    if (ns >= 1e4) {
        return fmt::format("{:.1f} us", ns / 1e3);
    }
    if (ns >= 1e3) {
        return fmt::format("{:.2f} us", ns / 1e3);
    }
    return fmt::format("{:.0f} ns", ns);
}

std::string format_interval(const Interval& iv) {
    const auto& t = iv.total;
    std::string line = fmt::format("[{:7.2f} s] tx {:>12}  rx {:>12}", iv.t_s, format_pps(per_s(t.tx_packets, iv.dt_s)),
                                   format_pps(per_s(t.rx_packets, iv.dt_s)));
    if (t.latency.count != 0) {
        line += fmt::format("  latency p50 {}  p99 {}  max {}", format_ns(static_cast<double>(t.latency.p50_ns)),
                            format_ns(static_cast<double>(t.latency.p99_ns)),
                            format_ns(static_cast<double>(t.latency.max_ns)));
    }
    return line + "\n";
}

std::string format_run(const RunResult& r) {
    std::string out = fmt::format("{}: {} stream{}, {:.2f} s at {:.1f}% load{}\n", r.label, r.streams.size(),
                                  r.streams.size() == 1 ? "" : "s", r.duration_s, r.load * 100,
                                  r.interrupted ? " (interrupted)" : "");
    out += fmt::format("{:<12} {:>12} {:>12} {:>12} {:>18} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "stream",
                       "target", "tx", "rx", "lost (ratio)", "dup", "reord", "p50", "p90", "p99", "p99.9", "max");
    auto row = [&](const StreamResult& s) {
        const auto& l = s.latency;
        const auto ns = [](uint64_t v) { return format_ns(static_cast<double>(v)); };
        out += fmt::format("{:<12} {:>12} {:>12} {:>12} {:>18} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}\n", s.name,
                           format_pps(s.target_pps), format_pps(s.tx_pps), format_pps(s.rx_pps),
                           fmt::format("{} ({:.3f}%)", s.lost, s.loss_ratio * 100), s.duplicates, s.reordered,
                           l.count ? ns(l.p50_ns) : "-", l.count ? ns(l.p90_ns) : "-", l.count ? ns(l.p99_ns) : "-",
                           l.count ? ns(l.p999_ns) : "-", l.count ? ns(l.max_ns) : "-");
    };
    for (const auto& s : r.streams) {
        row(s);
    }
    if (r.streams.size() > 1) {
        row(r.total);
    }
    const auto& t = r.total;
    out +=
        fmt::format("tx: {} packets ({}), refused by the port {}, no mbuf {}, schedule slips {}, max lag {:.1f} us\n",
                    t.tx_packets, format_bps(t.tx_bps), t.tx_refused, t.tx_nombuf, t.tx_slips, t.tx_max_lag_us);
    out += fmt::format(
        "rx: {} packets ({}), unique {}, too late to check {}, foreign {}, stale {}, unknown stream {}, "
        "after stop {}\n",
        r.rx_total, format_bps(t.rx_bps), t.rx_unique, t.too_late, r.foreign, r.stale, r.unknown_stream,
        r.rx_after_stop);
    return out;
}

std::string format_rfc2544(const Rfc2544Result& r) {
    std::string out =
        fmt::format("RFC 2544 throughput: loss threshold {}%, trials of {:.1f} s\n", r.loss_threshold_pct, r.trial_s);
    out += fmt::format("{:>6} {:>14} {:>12} {:>8}\n", "load", "offered", "frame loss", "verdict");
    for (const auto& v : r.verdicts) {
        out += fmt::format("{:>5.1f}% {:>14} {:>11.4f}% {:>8}\n", v.load * 100, format_pps(v.offered_pps),
                           v.frame_loss_ratio * 100, v.generator_limited ? "gen-lim" : (v.pass ? "pass" : "fail"));
    }
    if (r.found) {
        out += fmt::format("throughput: {:.1f}% load = {} ({})\n", r.load * 100, format_pps(r.pps), format_bps(r.bps));
    } else {
        out += "throughput: no load passed\n";
    }
    if (!r.latency_trials.empty()) {
        out += fmt::format("{:>6} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "load", "rx", "p50", "p90", "p99", "p99.9",
                           "max");
        for (const auto& t : r.latency_trials) {
            const auto& l = t.total.latency;
            const auto ns = [](uint64_t v) { return format_ns(static_cast<double>(v)); };
            out += fmt::format("{:>5.1f}% {:>12} {:>9} {:>9} {:>9} {:>9} {:>9}\n", t.load * 100,
                               format_pps(t.total.rx_pps), ns(l.p50_ns), ns(l.p90_ns), ns(l.p99_ns), ns(l.p999_ns),
                               ns(l.max_ns));
        }
    }
    if (r.interrupted) {
        out += "(interrupted)\n";
    }
    return out;
}

Json to_json(const LatencySummary& l) {
    return {{"count", l.count}, {"min", l.min_ns}, {"mean", l.mean_ns},  {"p50", l.p50_ns},
            {"p90", l.p90_ns},  {"p99", l.p99_ns}, {"p99_9", l.p999_ns}, {"max", l.max_ns}};
}

Json to_json(const StreamResult& s) {
    Json cdf = Json::array();
    for (const auto& [p, ns] : s.cdf) {
        cdf.push_back({p, ns});
    }
    return {{"name", s.name},
            {"index", s.index},
            {"rate", s.rate},
            {"size", s.size},
            {"target_pps", s.target_pps},
            {"target_bps", s.target_bps},
            {"tx",
             {{"offered", s.offered},
              {"packets", s.tx_packets},
              {"bytes", s.tx_bytes},
              {"refused", s.tx_refused},
              {"nombuf", s.tx_nombuf},
              {"slips", s.tx_slips},
              {"max_lag_us", s.tx_max_lag_us},
              {"seconds", s.tx_s},
              {"pps", s.tx_pps},
              {"bps", s.tx_bps}}},
            {"rx",
             {{"packets", s.rx_packets},
              {"bytes", s.rx_bytes},
              {"unique", s.rx_unique},
              {"duplicates", s.duplicates},
              {"reordered", s.reordered},
              {"too_late", s.too_late},
              {"pps", s.rx_pps},
              {"bps", s.rx_bps}}},
            {"lost", s.lost},
            {"loss_ratio", s.loss_ratio},
            {"frame_loss_ratio", s.frame_loss_ratio},
            {"latency_ns", to_json(s.latency)},
            {"latency_cdf", cdf}};
}

Json to_json(const RunResult& r) {
    Json streams = Json::array();
    for (const auto& s : r.streams) {
        streams.push_back(to_json(s));
    }
    Json series = Json::array();
    for (const auto& iv : r.series) {
        Json per = Json::array();
        for (const auto& s : iv.streams) {
            per.push_back(interval_stream_json(s, iv.dt_s));
        }
        series.push_back(
            {{"t_s", iv.t_s}, {"dt_s", iv.dt_s}, {"streams", per}, {"total", interval_stream_json(iv.total, iv.dt_s)}});
    }
    return {{"label", r.label},
            {"load", r.load},
            {"duration_s", r.duration_s},
            {"elapsed_s", r.elapsed_s},
            {"interrupted", r.interrupted},
            {"streams", streams},
            {"total", to_json(r.total)},
            {"series", series},
            {"rx",
             {{"packets", r.rx_total},
              {"foreign", r.foreign},
              {"stale", r.stale},
              {"unknown_stream", r.unknown_stream},
              {"after_stop", r.rx_after_stop}}}};
}

Json to_json(const Rfc2544Result& r) {
    Json verdicts = Json::array();
    for (const auto& v : r.verdicts) {
        verdicts.push_back({{"load", v.load},
                            {"offered_pps", v.offered_pps},
                            {"frame_loss_ratio", v.frame_loss_ratio},
                            {"generator_limited", v.generator_limited},
                            {"pass", v.pass}});
    }
    Json trials = Json::array();
    for (const auto& t : r.trials) {
        trials.push_back(to_json(t));
    }
    Json latency = Json::array();
    for (const auto& t : r.latency_trials) {
        latency.push_back(to_json(t));
    }
    return {{"loss_threshold_pct", r.loss_threshold_pct},
            {"trial_s", r.trial_s},
            {"found", r.found},
            {"load", r.load},
            {"pps", r.pps},
            {"bps", r.bps},
            {"interrupted", r.interrupted},
            {"verdicts", verdicts},
            {"trials", trials},
            {"latency_trials", latency}};
}

Json to_json(const StreamSpec& s) {
    auto range = [](const AddrRange& a) { return Json{{"first", net::to_string(a.first)}, {"count", a.count}}; };
    auto ports = [](const PortRange& p) { return Json{{"first", p.first}, {"count", p.count}}; };
    Json j{{"name", s.name},
           {"rate", to_string(s.rate)},
           {"size", to_string(s.size)},
           {"mean_size", s.size.mean_size()},
           {"count", s.count},
           {"start_s", s.start_s},
           {"stop_s", s.stop_s},
           {"ip", s.is_v6() ? 6 : 4},
           {"src", range(s.src)},
           {"dst", range(s.dst)},
           {"sport", ports(s.sport)},
           {"dport", ports(s.dport)},
           {"flows", s.flow_count()},
           {"payload", to_string(s.payload)},
           {"port", s.port},
           {"lane", s.lane}};
    if (s.src_mac) {
        j["smac"] = net::to_string(*s.src_mac);
    }
    if (s.dst_mac) {
        j["dmac"] = net::to_string(*s.dst_mac);
    }
    return j;
}

Json to_json(const PortInfo& p) {
    return {{"devargs", p.devargs},     {"driver", p.driver},       {"port_id", p.port_id},    {"mac", p.mac},
            {"link_mbps", p.link_mbps}, {"rx_queues", p.rx_queues}, {"tx_queues", p.tx_queues}};
}

Json to_json(const MempoolReport& m) {
    return {{"size", m.size}, {"available", m.available}, {"in_use", m.in_use()}};
}

}  // namespace gw::gen
