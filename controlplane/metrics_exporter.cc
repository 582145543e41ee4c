#include "controlplane/metrics_exporter.h"

#include <charconv>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>

#include <CivetServer.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "common/log.h"
#include "common/net.h"

namespace gw::cp {

// Serves the latest published snapshot. Collect() runs on civetweb's threads,
// publish() on the control thread; the mutex guards only the pointer, so a
// scrape holds its own reference while rendering and never blocks publish()
// for longer than a copy of a shared_ptr.
class SnapshotCollectable final : public prometheus::Collectable {
public:
    explicit SnapshotCollectable(std::string gateway_version) : version_(std::move(gateway_version)) {}

    std::vector<prometheus::MetricFamily> Collect() const override;

    void publish(telemetry::SnapshotPtr snapshot) {
        {
            std::lock_guard lock(mutex_);
            latest_.swap(snapshot);
        }
        // `snapshot` now holds the previous one; it is released outside the lock.
    }

private:
    const std::string version_;
    mutable std::mutex mutex_;
    telemetry::SnapshotPtr latest_;
};

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

[[nodiscard]] double seconds(uint64_t ns) {
    return static_cast<double>(ns) / 1e9;
}

[[nodiscard]] MetricFamily family(std::string_view name, std::string_view help, MetricType type) {
    return MetricFamily{.name = std::string(name), .help = std::string(help), .type = type, .metric = {}};
}

void add_sample(MetricFamily& f, Labels labels, double value) {
    ClientMetric& m = f.metric.emplace_back();
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
        m.counter.value = value;
    } else {
        m.gauge.value = value;
    }
}

[[nodiscard]] MetricFamily single(std::string_view name, std::string_view help, MetricType type, double value) {
    MetricFamily f = family(name, help, type);
    add_sample(f, {}, value);
    return f;
}

// One family with a sample per object: labels(o) and value(o).
template <typename Stats, typename LabelFn, typename ValueFn>
[[nodiscard]] MetricFamily per_object(std::string_view name, std::string_view help, MetricType type,
                                      const std::vector<Stats>& objects, LabelFn labels, ValueFn value) {
    MetricFamily f = family(name, help, type);
    f.metric.reserve(objects.size());
    for (const Stats& o : objects) {
        add_sample(f, labels(o), static_cast<double>(value(o)));
    }
    return f;
}

// A monotonic uint64_t field of a telemetry struct, exported as a counter.
template <typename Stats>
struct CounterField {
    std::string_view name;
    std::string_view help;
    uint64_t Stats::*field;
};

template <typename Stats, size_t N, typename LabelFn>
void add_counters(std::vector<MetricFamily>& out, const CounterField<Stats> (&fields)[N],
                  const std::vector<Stats>& objects, LabelFn labels) {
    for (const CounterField<Stats>& c : fields) {
        out.push_back(per_object(c.name, c.help, MetricType::Counter, objects, labels,
                                 [&c](const Stats& o) { return o.*(c.field); }));
    }
}

using telemetry::LatencySummary;
using telemetry::LcoreStats;
using telemetry::PortStats;
using telemetry::QueueStats;
using telemetry::SaStats;
using telemetry::XdpVerdict;

constexpr CounterField<PortStats> kPortCounters[] = {
    {"gateway_port_rx_packets_total", "Packets received by the port (NIC statistics: ipackets).", &PortStats::ipackets},
    {"gateway_port_tx_packets_total", "Packets sent by the port (NIC statistics: opackets).", &PortStats::opackets},
    {"gateway_port_rx_bytes_total", "Bytes received by the port (NIC statistics: ibytes).", &PortStats::ibytes},
    {"gateway_port_tx_bytes_total", "Bytes sent by the port (NIC statistics: obytes).", &PortStats::obytes},
    {"gateway_port_rx_missed_total",
     "Packets the NIC dropped for want of an rx descriptor: the data plane fell behind (imissed).",
     &PortStats::imissed},
    {"gateway_port_rx_errors_total", "Erroneous packets received (NIC statistics: ierrors).", &PortStats::ierrors},
    {"gateway_port_tx_errors_total", "Packets the port failed to send (NIC statistics: oerrors).", &PortStats::oerrors},
    {"gateway_port_rx_nombuf_total", "Receive failures because the mempool was empty (rx_nombuf).",
     &PortStats::rx_nombuf},
};

constexpr CounterField<QueueStats> kQueueCounters[] = {
    {"gateway_queue_rx_packets_total", "Packets received on the rx queue by its worker.", &QueueStats::rx_packets},
    {"gateway_queue_rx_bytes_total", "Bytes received on the rx queue by its worker.", &QueueStats::rx_bytes},
    {"gateway_queue_polls_total", "rx bursts the worker issued on the queue.", &QueueStats::polls},
    {"gateway_queue_empty_polls_total", "rx bursts on the queue that returned no packet.", &QueueStats::empty_polls},
};

constexpr CounterField<LcoreStats> kLcoreCounters[] = {
    {"gateway_lcore_rx_packets_total", "Packets the lcore received, over all its rx queues.", &LcoreStats::rx_packets},
    {"gateway_lcore_rx_bytes_total", "Bytes the lcore received, over all its rx queues.", &LcoreStats::rx_bytes},
    {"gateway_lcore_tx_packets_total",
     "Packets the lcore's tx bursts handed to the NIC (accepted by rte_eth_tx_burst).", &LcoreStats::tx_packets},
    {"gateway_lcore_tx_bytes_total", "Bytes the lcore's tx bursts handed to the NIC.", &LcoreStats::tx_bytes},
    {"gateway_lcore_polls_total", "Polling rounds of the lcore.", &LcoreStats::polls},
    {"gateway_lcore_empty_polls_total", "Polling rounds of the lcore that received no packet.",
     &LcoreStats::empty_polls},
    {"gateway_lcore_busy_cycles_total",
     "TSC cycles spent in rounds that received packets; load = rate(busy) / rate(gateway_lcore_cycles_total).",
     &LcoreStats::busy_cycles},
    {"gateway_lcore_cycles_total", "TSC cycles spent in all polling rounds (busy and empty).",
     &LcoreStats::total_cycles},
    {"gateway_lcore_punted_packets_total", "Packets handed to the control thread's slow path (ARP, ND, local).",
     &LcoreStats::punted},
    {"gateway_lcore_icmp_sent_total", "ICMP/ICMPv6 errors and echo replies the lcore generated.",
     &LcoreStats::icmp_sent},
    {"gateway_lcore_icmp_rate_limited_total", "ICMP errors not sent because of the rate limit.",
     &LcoreStats::icmp_rate_limited},
    {"gateway_lcore_fragments_made_total", "IPv4 fragments the lcore created to fit an egress MTU.",
     &LcoreStats::fragments_made},
};

constexpr CounterField<SaStats> kSaCounters[] = {
    {"gateway_ipsec_sa_packets_total", "Packets the SA encrypted (out) or decrypted and accepted (in).",
     &SaStats::packets},
    {"gateway_ipsec_sa_bytes_total", "Bytes the SA encrypted (out) or decrypted and accepted (in).", &SaStats::bytes},
    {"gateway_ipsec_sa_replay_drops_total", "Inbound packets the SA's anti-replay window rejected.",
     &SaStats::replay_drops},
    {"gateway_ipsec_sa_auth_drops_total", "Inbound packets whose ICV check failed on the SA.", &SaStats::auth_drops},
};

constexpr CounterField<XdpVerdict> kXdpCounters[] = {
    {"gateway_xdp_packets_total", "Packets the XDP program gave the verdict on the interface.", &XdpVerdict::packets},
    {"gateway_xdp_bytes_total", "Bytes of the packets the XDP program gave the verdict on the interface.",
     &XdpVerdict::bytes},
};

// Window quantiles as a Prometheus summary: quantile 0 is the minimum, 1 the maximum.
constexpr std::pair<double, uint64_t LatencySummary::*> kWindowQuantiles[] = {
    {0.0, &LatencySummary::min_ns},  {0.5, &LatencySummary::p50_ns},    {0.9, &LatencySummary::p90_ns},
    {0.99, &LatencySummary::p99_ns}, {0.999, &LatencySummary::p999_ns}, {1.0, &LatencySummary::max_ns},
};

[[nodiscard]] Labels port_labels(const PortStats& p) {
    return {{"port", p.name}};
}
[[nodiscard]] Labels queue_labels(const QueueStats& q) {
    return {{"port", q.port}, {"queue", std::to_string(q.queue)}, {"lcore", std::to_string(q.lcore)}};
}
[[nodiscard]] Labels lcore_labels(const LcoreStats& l) {
    return {{"lcore", std::to_string(l.lcore)}, {"role", l.role}};
}
[[nodiscard]] std::string spi_label(uint32_t spi) {
    return fmt::format("0x{:08x}", spi);
}
[[nodiscard]] Labels sa_labels(const SaStats& sa) {
    return {{"sa", sa.name}, {"spi", spi_label(sa.spi)}, {"direction", sa.direction}};
}
[[nodiscard]] Labels xdp_labels(const XdpVerdict& x) {
    return {{"iface", x.iface}, {"verdict", x.verdict}};
}

// Since-start distribution as a histogram with `le` in seconds; the +Inf
// bucket is explicit so the family is complete without the serializer's help.
void add_histogram(MetricFamily& f, Labels labels, const telemetry::LatencyBuckets& b) {
    ClientMetric& m = f.metric.emplace_back();
    m.label = std::move(labels);
    m.histogram.sample_count = b.count;
    m.histogram.sample_sum = seconds(b.sum_ns);
    m.histogram.bucket.reserve(b.cumulative.size() + 1);
    for (size_t i = 0; i < b.cumulative.size(); ++i) {
        m.histogram.bucket.push_back(
            {.cumulative_count = b.cumulative[i], .upper_bound = seconds(telemetry::kLatencyBucketBoundsNs[i])});
    }
    m.histogram.bucket.push_back({.cumulative_count = b.count, .upper_bound = std::numeric_limits<double>::infinity()});
}

// Sliding-window quantiles, with the since-start count and sum as any
// Prometheus summary has them (rate(_sum) / rate(_count) is the mean). An
// empty window has no quantiles: NaN, as client libraries report it.
void add_window_summary(MetricFamily& f, Labels labels, const telemetry::Latency& l) {
    ClientMetric& m = f.metric.emplace_back();
    m.label = std::move(labels);
    m.summary.sample_count = l.since_start.count;
    m.summary.sample_sum = seconds(l.since_start.sum_ns);
    for (const auto& [q, field] : kWindowQuantiles) {
        const double v = l.window.count == 0 ? std::numeric_limits<double>::quiet_NaN() : seconds(l.window.*field);
        m.summary.quantile.push_back({.quantile = q, .value = v});
    }
}

constexpr std::string_view kBuildInfoName = "gateway_build_info";
constexpr std::string_view kBuildInfoHelp = "Always 1; the label carries the gateway's version.";
constexpr std::string_view kUpName = "gateway_up";
constexpr std::string_view kUpHelp =
    "1 once the data plane publishes telemetry snapshots; 0 before the first one and while stopping.";

[[nodiscard]] MetricFamily build_info(std::string_view version) {
    MetricFamily f = family(kBuildInfoName, kBuildInfoHelp, MetricType::Gauge);
    add_sample(f, {{"version", std::string(version)}}, 1);
    return f;
}

// What a scrape serves before the first snapshot.
[[nodiscard]] std::vector<MetricFamily> idle_families(std::string_view version) {
    std::vector<MetricFamily> out;
    out.push_back(build_info(version));
    out.push_back(single(kUpName, kUpHelp, MetricType::Gauge, 0));
    return out;
}

void add_gateway_families(std::vector<MetricFamily>& out, const telemetry::Snapshot& s, std::string_view version) {
    out.push_back(build_info(version));
    out.push_back(single(kUpName, kUpHelp, MetricType::Gauge, 1));
    out.push_back(single("gateway_start_time_seconds", "Unix time the data plane started.", MetricType::Gauge,
                         seconds(s.started_ns)));
    out.push_back(single("gateway_snapshot_time_seconds",
                         "Unix time of the telemetry snapshot this scrape renders (about one a second).",
                         MetricType::Gauge, seconds(s.taken_ns)));
    out.push_back(single("gateway_counters_cleared_time_seconds",
                         "Unix time of the last `clear counters` (counters restart from 0 then); 0 if never.",
                         MetricType::Gauge, seconds(s.cleared_at_ns)));
    out.push_back(single("gateway_tsc_frequency_hertz",
                         "TSC frequency: *_cycles_total divided by it gives seconds of CPU time.", MetricType::Gauge,
                         static_cast<double>(s.tsc_hz)));
    out.push_back(single("gateway_latency_telemetry_enabled",
                         "1 when packet latency is measured; 0 when off (latency metrics stay empty).",
                         MetricType::Gauge, s.latency_enabled ? 1 : 0));
    out.push_back(single("gateway_latency_window_length_seconds",
                         "Length of the sliding window behind the *_latency_window_seconds quantiles.",
                         MetricType::Gauge, static_cast<double>(s.window_s)));
    out.push_back(single("gateway_mbufs_in_use", "Packet buffers (mbufs) taken from the gateway's mempools.",
                         MetricType::Gauge, static_cast<double>(s.mbufs_in_use)));
    out.push_back(single("gateway_mbufs_capacity", "Packet buffers (mbufs) the gateway's mempools hold in all.",
                         MetricType::Gauge, static_cast<double>(s.mbufs_total)));
}

void add_port_families(std::vector<MetricFamily>& out, const std::vector<PortStats>& ports) {
    out.push_back(per_object(
        "gateway_port_info", "Always 1; labels carry the port's driver (or PCI address) and MAC address.",
        MetricType::Gauge, ports,
        [](const PortStats& p) {
            return Labels{{"port", p.name}, {"driver", p.driver}, {"mac", p.mac}};
        },
        [](const PortStats&) { return 1; }));
    out.push_back(per_object("gateway_port_link_up", "1 when the port's link is up.", MetricType::Gauge, ports,
                             port_labels, [](const PortStats& p) { return p.link_up ? 1 : 0; }));
    out.push_back(per_object("gateway_port_link_speed_bytes",
                             "Negotiated link speed in bytes per second (multiply by 8 for bit/s); 0 if unknown.",
                             MetricType::Gauge, ports, port_labels,
                             [](const PortStats& p) { return uint64_t{p.link_speed_mbps} * 125'000; }));
    out.push_back(per_object("gateway_port_mtu_bytes", "The port's MTU (IP packet size, without Ethernet header).",
                             MetricType::Gauge, ports, port_labels, [](const PortStats& p) { return p.mtu; }));
    out.push_back(per_object("gateway_port_rx_queues", "rx queues configured on the port.", MetricType::Gauge, ports,
                             port_labels, [](const PortStats& p) { return p.rx_queues; }));
    out.push_back(per_object("gateway_port_tx_queues", "tx queues configured on the port.", MetricType::Gauge, ports,
                             port_labels, [](const PortStats& p) { return p.tx_queues; }));
    add_counters(out, kPortCounters, ports, port_labels);
}

void add_queue_families(std::vector<MetricFamily>& out, const std::vector<QueueStats>& queues) {
    add_counters(out, kQueueCounters, queues, queue_labels);
    MetricFamily hist = family("gateway_queue_latency_seconds",
                               "Residence time (rx burst to tx burst) of packets received on the queue, since start.",
                               MetricType::Histogram);
    MetricFamily window = family("gateway_queue_latency_window_seconds",
                                 "Residence time quantiles of packets received on the queue over the sliding window "
                                 "(0 = min, 1 = max); count and sum since start.",
                                 MetricType::Summary);
    for (const QueueStats& q : queues) {
        add_histogram(hist, queue_labels(q), q.latency.buckets);
        add_window_summary(window, queue_labels(q), q.latency);
    }
    out.push_back(std::move(hist));
    out.push_back(std::move(window));
}

void add_lcore_families(std::vector<MetricFamily>& out, const std::vector<LcoreStats>& lcores) {
    add_counters(out, kLcoreCounters, lcores, lcore_labels);
    MetricFamily hist =
        family("gateway_lcore_latency_seconds",
               "Residence time of packets received by the lcore (all its queues), since start.", MetricType::Histogram);
    MetricFamily window = family("gateway_lcore_latency_window_seconds",
                                 "Residence time quantiles of packets received by the lcore over the sliding window "
                                 "(0 = min, 1 = max); count and sum since start.",
                                 MetricType::Summary);
    MetricFamily drops =
        family("gateway_drops_total",
               "Packets the data plane dropped, by lcore and reason (every reason, zero or not).", MetricType::Counter);
    MetricFamily calls = family("gateway_stage_calls_total",
                                "Times the processing stage ran on the lcore (counted while latency telemetry is on).",
                                MetricType::Counter);
    MetricFamily packets =
        family("gateway_stage_packets_total",
               "Packets the processing stage handled on the lcore (counted while latency telemetry is on).",
               MetricType::Counter);
    MetricFamily cycles =
        family("gateway_stage_cycles_total",
               "TSC cycles the processing stage spent on the lcore (counted while latency telemetry is on).",
               MetricType::Counter);
    for (const LcoreStats& l : lcores) {
        add_histogram(hist, lcore_labels(l), l.latency.buckets);
        add_window_summary(window, lcore_labels(l), l.latency);
        const std::string lcore = std::to_string(l.lcore);
        for (const telemetry::DropCount& d : l.drops) {
            add_sample(drops, {{"lcore", lcore}, {"reason", d.reason}}, static_cast<double>(d.packets));
        }
        for (const telemetry::StageStats& st : l.stages) {
            const Labels labels{{"lcore", lcore}, {"stage", st.name}};
            add_sample(calls, labels, static_cast<double>(st.calls));
            add_sample(packets, labels, static_cast<double>(st.packets));
            add_sample(cycles, labels, static_cast<double>(st.cycles));
        }
    }
    out.push_back(std::move(hist));
    out.push_back(std::move(window));
    out.push_back(std::move(drops));
    out.push_back(std::move(calls));
    out.push_back(std::move(packets));
    out.push_back(std::move(cycles));
}

void add_gateway_latency_families(std::vector<MetricFamily>& out, const telemetry::Latency& latency) {
    MetricFamily hist = family("gateway_latency_seconds",
                               "Residence time (rx burst to tx burst) of every packet the gateway received, since "
                               "start.",
                               MetricType::Histogram);
    add_histogram(hist, {}, latency.buckets);
    out.push_back(std::move(hist));
    MetricFamily window = family("gateway_latency_window_seconds",
                                 "Residence time quantiles of every packet over the sliding window (0 = min, 1 = max); "
                                 "count and sum since start.",
                                 MetricType::Summary);
    add_window_summary(window, {}, latency);
    out.push_back(std::move(window));
}

void add_ipsec_families(std::vector<MetricFamily>& out, const std::vector<SaStats>& sas) {
    out.push_back(per_object(
        "gateway_ipsec_sa_info", "Always 1; labels carry the SA's cipher, tunnel endpoints and ESN setting.",
        MetricType::Gauge, sas,
        [](const SaStats& sa) {
            Labels labels = sa_labels(sa);
            labels.push_back({"cipher", sa.cipher});
            labels.push_back({"local", sa.local});
            labels.push_back({"remote", sa.remote});
            labels.push_back({"esn", sa.esn ? "true" : "false"});
            return labels;
        },
        [](const SaStats&) { return 1; }));
    add_counters(out, kSaCounters, sas, sa_labels);
    out.push_back(per_object("gateway_ipsec_sa_sequence",
                             "ESP sequence number: the last one used (out) or the highest accepted (in).",
                             MetricType::Gauge, sas, sa_labels, [](const SaStats& sa) { return sa.seq; }));
}

}  // namespace

std::vector<MetricFamily> to_metric_families(const telemetry::Snapshot& s, std::string_view gateway_version) {
    std::vector<MetricFamily> out;
    out.reserve(80);
    add_gateway_families(out, s, gateway_version);
    add_port_families(out, s.ports);
    add_queue_families(out, s.queues);
    add_lcore_families(out, s.lcores);
    add_gateway_latency_families(out, s.latency);
    add_ipsec_families(out, s.sas);
    add_counters(out, kXdpCounters, s.xdp, xdp_labels);
    return out;
}

std::vector<MetricFamily> SnapshotCollectable::Collect() const {
    telemetry::SnapshotPtr snapshot;
    {
        std::lock_guard lock(mutex_);
        snapshot = latest_;
    }
    return snapshot ? to_metric_families(*snapshot, version_) : idle_families(version_);
}

namespace {

struct ListenAddress {
    std::string civet;  // civetweb's listening_ports syntax: "a.b.c.d:port" or "[x::y]:port"
    bool ipv6 = false;
};

[[nodiscard]] Result<ListenAddress> parse_listen(std::string_view listen) {
    const auto bad = [listen](std::string_view why) {
        return make_error("metrics exporter: bad listen address '{}': {} (expected ADDRESS:PORT, e.g. 127.0.0.1:9469)",
                          listen, why);
    };
    std::string_view host;
    std::string_view port;
    bool ipv6 = false;
    if (listen.starts_with('[')) {
        const size_t close = listen.find(']');
        if (close == std::string_view::npos || listen.substr(close).size() < 2 || listen[close + 1] != ':') {
            return bad("no ']:PORT' after the IPv6 address");
        }
        host = listen.substr(1, close - 1);
        port = listen.substr(close + 2);
        ipv6 = true;
    } else {
        const size_t colon = listen.rfind(':');
        if (colon == std::string_view::npos) {
            return bad("no port");
        }
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
    }
    std::string canonical;
    if (ipv6) {
        const auto ip = net::parse_ip6(host);
        if (!ip) {
            return bad(fmt::format("'{}' is not an IPv6 address", host));
        }
        canonical = "[" + net::to_string(*ip) + "]";
    } else {
        const auto ip = net::parse_ip4(host);
        if (!ip) {
            return bad(host.find(':') != std::string_view::npos
                           ? "an IPv6 address goes in brackets: [::1]:9469"
                           : fmt::format("'{}' is not a numeric IPv4 address", host));
        }
        canonical = net::to_string(*ip);
    }
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number > 65535) {
        return bad(fmt::format("port '{}' is not a number from 0 to 65535", port));
    }
    return ListenAddress{.civet = fmt::format("{}:{}", canonical, number), .ipv6 = ipv6};
}

// civetweb reports through this callback only. While start() constructs the
// server, its messages (why a bind failed) are collected for the error; later
// ones (from its threads) go to the log.
thread_local std::vector<std::string>* t_start_messages = nullptr;

int on_civetweb_log(const mg_connection* /*conn*/, const char* message) noexcept {
    try {
        if (t_start_messages != nullptr) {
            t_start_messages->emplace_back(message);
        } else {
            log::warn("metrics exporter: {}", message);
        }
    } catch (...) {  // a C library's callback: nothing may escape
    }
    return 1;  // handled: civetweb writes nothing itself
}

}  // namespace

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(const std::string& listen,
                                                                std::string gateway_version) {
    auto address = parse_listen(listen);
    if (!address) {
        return std::unexpected(address.error());
    }
    constexpr unsigned kCivetwebFeatureIpv6 = 8;  // mg_check_feature(): "IPv6" bit
    if (address->ipv6 && mg_check_feature(kCivetwebFeatureIpv6) == 0) {
        return make_error(
            "metrics exporter: cannot listen on '{}': the civetweb library under prometheus-cpp was built "
            "without IPv6 support (as Debian 12's is); use an IPv4 address such as 127.0.0.1",
            listen);
    }

    auto collectable = std::make_shared<SnapshotCollectable>(std::move(gateway_version));
    CivetCallbacks callbacks;  // copied by the server
    callbacks.log_message = on_civetweb_log;
    std::vector<std::string> messages;
    std::unique_ptr<prometheus::Exposer> exposer;
    t_start_messages = &messages;
    try {
        // Two threads: Prometheus and an operator's curl; a stuck client is cut off after 10 s.
        exposer = std::make_unique<prometheus::Exposer>(
            std::vector<std::string>{"listening_ports", address->civet, "num_threads", "2", "request_timeout_ms",
                                     "10000"},
            &callbacks);
    } catch (const std::exception& e) {
        t_start_messages = nullptr;
        // civetweb's own line ("cannot bind to 127.0.0.1:9469: 98 (Address already in use)")
        // says more than the CivetException ("null context ...").
        return make_error("metrics exporter: cannot listen on '{}': {}", listen,
                          messages.empty() ? std::string(e.what()) : messages.front());
    }
    t_start_messages = nullptr;

    exposer->RegisterCollectable(collectable, "/metrics");
    const std::vector<int> ports = exposer->GetListeningPorts();
    if (ports.size() != 1 || ports[0] <= 0 || ports[0] > std::numeric_limits<uint16_t>::max()) {
        return make_error("metrics exporter: listening on '{}' but the server reports no single bound port", listen);
    }
    const auto port = static_cast<uint16_t>(ports[0]);
    log::info("metrics exporter: serving Prometheus metrics on http://{}:{}/metrics",
              address->civet.substr(0, address->civet.rfind(':')), port);
    return std::unique_ptr<MetricsExporter>(new MetricsExporter(std::move(collectable), std::move(exposer), port));
}

MetricsExporter::MetricsExporter(std::shared_ptr<SnapshotCollectable> collectable,
                                 std::unique_ptr<prometheus::Exposer> exposer, uint16_t port)
    : collectable_(std::move(collectable)), exposer_(std::move(exposer)), port_(port) {}

MetricsExporter::~MetricsExporter() = default;

void MetricsExporter::publish(telemetry::SnapshotPtr snapshot) {
    collectable_->publish(std::move(snapshot));
}

}  // namespace gw::cp
