// Prometheus exposition (controlplane/metrics_exporter.h): the families of a
// hand-built snapshot (names, types, labels, values, histogram buckets in
// seconds, every drop reason), a live exposer scraped over a plain TCP socket
// (idle state, publish, newer values, no torn snapshots, address errors),
// `promtool check metrics` on what it serves, and the Grafana dashboard's
// PromQL against the families the exporter produces.

#include "controlplane/metrics_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dataplane/drop_reasons.h"

namespace gw::cp {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::string_view kVersion = "1.2.3-test";

std::vector<std::string> all_drop_reasons() {
    return {
#define GW_X(id, label, doc) label,
        GW_DROP_REASONS(GW_X)
#undef GW_X
    };
}

telemetry::Latency make_latency(uint64_t scale) {
    telemetry::Latency l;
    l.window = {.count = 10 * scale,
                .sum_ns = 30'000 * scale,
                .min_ns = 1'500,
                .max_ns = 9'000,
                .p50_ns = 2'500,
                .p90_ns = 4'000,
                .p99_ns = 8'000,
                .p999_ns = 8'500};
    l.since_start = {.count = 100 * scale, .sum_ns = 250'000 * scale, .min_ns = 900, .max_ns = 1'200'000};
    // 100 samples: 10 <= 1 us, 60 <= 2 us, 90 <= 5 us, 99 <= 10 us, the last one at 1.2 ms.
    const std::array<uint64_t, 16> cumulative = {10, 60, 90, 99, 99, 99, 99, 99, 99, 99, 100, 100, 100, 100, 100, 100};
    for (size_t i = 0; i < cumulative.size(); ++i) {
        l.buckets.cumulative[i] = cumulative[i] * scale;
    }
    l.buckets.count = 100 * scale;
    l.buckets.sum_ns = 250'000 * scale;
    return l;
}

// A gateway with two ports, two workers and the control lcore, two SAs and
// two XDP verdicts. `n` scales every counter, so a newer snapshot differs and
// a torn one would show mixed values.
telemetry::SnapshotPtr make_snapshot(uint64_t n = 1) {
    auto s = std::make_shared<telemetry::Snapshot>();
    s->taken_ns = 1'700'000'000'000'000'000 + n * 1'000'000'000;
    s->started_ns = 1'700'000'000'000'000'000;
    s->cleared_at_ns = 0;
    s->tsc_hz = 2'400'000'000;
    s->window_s = 10;
    s->latency_enabled = true;
    s->mbufs_in_use = 512 * n;
    s->mbufs_total = 16'384;
    s->ports = {
        {.name = "lan0",
         .driver = "net_ring",
         .mac = "02:00:00:00:00:01",
         .mtu = 1500,
         .link_up = true,
         .link_speed_mbps = 10'000,
         .rx_queues = 1,
         .tx_queues = 2,
         .ipackets = 1000 * n,
         .opackets = 900 * n,
         .ibytes = 64'000 * n,
         .obytes = 57'600 * n,
         .imissed = 3 * n,
         .ierrors = 2 * n,
         .oerrors = 1 * n,
         .rx_nombuf = 4 * n},
        {.name = "wan0", .driver = "0000:3b:00.0", .mac = "02:00:00:00:00:02", .mtu = 9000, .ipackets = 7 * n},
    };
    s->queues = {
        {.port = "lan0",
         .queue = 0,
         .lcore = 2,
         .rx_packets = 1000 * n,
         .rx_bytes = 64'000 * n,
         .polls = 5000 * n,
         .empty_polls = 4000 * n,
         .latency = make_latency(n)},
        {.port = "wan0", .queue = 0, .lcore = 3, .rx_packets = 7 * n, .rx_bytes = 448 * n, .polls = 10 * n},
    };
    for (unsigned lcore : {2U, 3U, 0U}) {
        telemetry::LcoreStats l{.lcore = lcore,
                                .role = lcore == 0 ? "control" : "worker",
                                .rx_packets = 1000 * n,
                                .rx_bytes = 64'000 * n,
                                .tx_packets = 900 * n,
                                .tx_bytes = 57'600 * n,
                                .polls = 5000 * n,
                                .empty_polls = 4000 * n,
                                .busy_cycles = 1'000'000 * n,
                                .total_cycles = 4'000'000 * n,
                                .punted = 5 * n,
                                .icmp_sent = 6 * n,
                                .icmp_rate_limited = 7 * n,
                                .fragments_made = 8 * n};
        for (const std::string& reason : all_drop_reasons()) {
            l.drops.push_back({.reason = reason, .packets = reason == "no-route" ? 11 * n : 0});
        }
        l.stages = {{.name = "rx", .calls = 5000 * n, .packets = 1000 * n, .cycles = 200'000 * n},
                    {.name = "forward", .calls = 1000 * n, .packets = 1000 * n, .cycles = 300'000 * n},
                    {.name = "tx", .calls = 1000 * n, .packets = 900 * n, .cycles = 100'000 * n}};
        if (lcore == 2) {
            l.latency = make_latency(n);
        }
        s->lcores.push_back(std::move(l));
    }
    s->latency = make_latency(n);
    s->sas = {
        {.name = "to-site-b",
         .spi = 0x1001,
         .direction = "out",
         .cipher = "aes-gcm-256",
         .local = "192.0.2.1",
         .remote = "198.51.100.1",
         .esn = true,
         .packets = 500 * n,
         .bytes = 80'000 * n,
         .seq = 500 * n},
        {.name = "from-site-b",
         .spi = 0xabcdef01,
         .direction = "in",
         .cipher = "aes-gcm-256",
         .local = "192.0.2.1",
         .remote = "198.51.100.1",
         .packets = 400 * n,
         .bytes = 64'000 * n,
         .replay_drops = 2 * n,
         .auth_drops = 1 * n,
         .seq = 401 * n},
    };
    s->xdp = {{.iface = "eth1", .verdict = "pass-mgmt", .packets = 100 * n, .bytes = 6'400 * n},
              {.iface = "eth1", .verdict = "drop-blocked", .packets = 9 * n, .bytes = 576 * n}};
    return s;
}

const MetricFamily* find_family(const std::vector<MetricFamily>& families, std::string_view name) {
    for (const MetricFamily& f : families) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

// The family `name`, or a test failure; `type` must match.
const MetricFamily& must_family(const std::vector<MetricFamily>& families, std::string_view name, MetricType type) {
    static const MetricFamily kEmpty;
    const MetricFamily* f = find_family(families, name);
    if (f == nullptr) {
        ADD_FAILURE() << "no family " << name;
        return kEmpty;
    }
    EXPECT_EQ(f->type, type) << name;
    return *f;
}

using LabelMap = std::map<std::string, std::string>;

LabelMap label_map(const ClientMetric& m) {
    LabelMap out;
    for (const auto& l : m.label) {
        out[l.name] = l.value;
    }
    return out;
}

// The sample of `f` with exactly these labels, or a test failure.
const ClientMetric& must_metric(const MetricFamily& f, const LabelMap& labels) {
    static const ClientMetric kEmpty;
    const ClientMetric* found = nullptr;
    for (const ClientMetric& m : f.metric) {
        if (label_map(m) == labels) {
            EXPECT_EQ(found, nullptr) << f.name << ": two samples with the same labels";
            found = &m;
        }
    }
    if (found == nullptr) {
        std::string want;
        for (const auto& [k, v] : labels) {
            want += k + "=" + v + " ";
        }
        ADD_FAILURE() << f.name << ": no sample with labels " << want;
        return kEmpty;
    }
    return *found;
}

TEST(MetricFamilies, NamingFollowsPrometheusConventions) {
    const auto families = to_metric_families(*make_snapshot(), kVersion);
    std::set<std::string> names;
    for (const MetricFamily& f : families) {
        SCOPED_TRACE(f.name);
        EXPECT_TRUE(names.insert(f.name).second) << "duplicate family";
        EXPECT_TRUE(f.name.starts_with("gateway_"));
        EXPECT_TRUE(std::regex_match(f.name, std::regex("[a-z_]+")));
        EXPECT_FALSE(f.help.empty());
        EXPECT_EQ(f.type == MetricType::Counter, f.name.ends_with("_total"));
        EXPECT_NE(f.type, MetricType::Untyped);
        for (const ClientMetric& m : f.metric) {
            for (const auto& l : m.label) {
                EXPECT_TRUE(std::regex_match(l.name, std::regex("[a-z_]+"))) << l.name;
                EXPECT_NE(l.name, "le");
                EXPECT_NE(l.name, "quantile");
            }
        }
    }
}

TEST(MetricFamilies, EveryFamilyPresentWithoutObjects) {
    // Dashboards and alerts see the same families on a gateway with no SA or XDP.
    const auto full = to_metric_families(*make_snapshot(), kVersion);
    const auto empty = to_metric_families(telemetry::Snapshot{}, kVersion);
    ASSERT_EQ(full.size(), empty.size());
    for (size_t i = 0; i < full.size(); ++i) {
        EXPECT_EQ(full[i].name, empty[i].name);
        EXPECT_EQ(full[i].type, empty[i].type);
    }
    EXPECT_TRUE(must_family(empty, "gateway_ipsec_sa_packets_total", MetricType::Counter).metric.empty());
    EXPECT_EQ(must_family(empty, "gateway_up", MetricType::Gauge).metric.at(0).gauge.value, 1);
}

TEST(MetricFamilies, GatewayGauges) {
    const auto families = to_metric_families(*make_snapshot(2), kVersion);
    const auto gauge = [&](std::string_view name) {
        const MetricFamily& f = must_family(families, name, MetricType::Gauge);
        EXPECT_EQ(f.metric.size(), 1U) << name;
        return f.metric.empty() ? -1.0 : f.metric[0].gauge.value;
    };
    EXPECT_EQ(gauge("gateway_build_info"), 1);
    EXPECT_EQ((label_map(must_family(families, "gateway_build_info", MetricType::Gauge).metric.at(0))),
              (LabelMap{{"version", std::string(kVersion)}}));
    EXPECT_EQ(gauge("gateway_up"), 1);
    EXPECT_DOUBLE_EQ(gauge("gateway_start_time_seconds"), 1.7e9);
    EXPECT_DOUBLE_EQ(gauge("gateway_snapshot_time_seconds"), 1.7e9 + 2);
    EXPECT_EQ(gauge("gateway_counters_cleared_time_seconds"), 0);
    EXPECT_EQ(gauge("gateway_tsc_frequency_hertz"), 2.4e9);
    EXPECT_EQ(gauge("gateway_latency_telemetry_enabled"), 1);
    EXPECT_EQ(gauge("gateway_latency_window_length_seconds"), 10);
    EXPECT_EQ(gauge("gateway_mbufs_in_use"), 1024);
    EXPECT_EQ(gauge("gateway_mbufs_capacity"), 16'384);
}

TEST(MetricFamilies, PortsQueuesLcoresStages) {
    const auto families = to_metric_families(*make_snapshot(), kVersion);
    const auto value = [&](std::string_view name, MetricType type, const LabelMap& labels) {
        const ClientMetric& m = must_metric(must_family(families, name, type), labels);
        return type == MetricType::Counter ? m.counter.value : m.gauge.value;
    };
    const LabelMap lan{{"port", "lan0"}};
    EXPECT_EQ(value("gateway_port_rx_packets_total", MetricType::Counter, lan), 1000);
    EXPECT_EQ(value("gateway_port_tx_packets_total", MetricType::Counter, lan), 900);
    EXPECT_EQ(value("gateway_port_rx_bytes_total", MetricType::Counter, lan), 64'000);
    EXPECT_EQ(value("gateway_port_tx_bytes_total", MetricType::Counter, lan), 57'600);
    EXPECT_EQ(value("gateway_port_rx_missed_total", MetricType::Counter, lan), 3);
    EXPECT_EQ(value("gateway_port_rx_errors_total", MetricType::Counter, lan), 2);
    EXPECT_EQ(value("gateway_port_tx_errors_total", MetricType::Counter, lan), 1);
    EXPECT_EQ(value("gateway_port_rx_nombuf_total", MetricType::Counter, lan), 4);
    EXPECT_EQ(value("gateway_port_rx_packets_total", MetricType::Counter, {{"port", "wan0"}}), 7);
    EXPECT_EQ(value("gateway_port_link_up", MetricType::Gauge, lan), 1);
    EXPECT_EQ(value("gateway_port_link_up", MetricType::Gauge, {{"port", "wan0"}}), 0);
    EXPECT_EQ(value("gateway_port_link_speed_bytes", MetricType::Gauge, lan), 1.25e9);
    EXPECT_EQ(value("gateway_port_mtu_bytes", MetricType::Gauge, lan), 1500);
    EXPECT_EQ(value("gateway_port_rx_queues", MetricType::Gauge, lan), 1);
    EXPECT_EQ(value("gateway_port_tx_queues", MetricType::Gauge, lan), 2);
    EXPECT_EQ(value("gateway_port_info", MetricType::Gauge,
                    {{"port", "wan0"}, {"driver", "0000:3b:00.0"}, {"mac", "02:00:00:00:00:02"}}),
              1);

    const LabelMap q0{{"port", "lan0"}, {"queue", "0"}, {"lcore", "2"}};
    EXPECT_EQ(value("gateway_queue_rx_packets_total", MetricType::Counter, q0), 1000);
    EXPECT_EQ(value("gateway_queue_rx_bytes_total", MetricType::Counter, q0), 64'000);
    EXPECT_EQ(value("gateway_queue_polls_total", MetricType::Counter, q0), 5000);
    EXPECT_EQ(value("gateway_queue_empty_polls_total", MetricType::Counter, q0), 4000);

    const LabelMap w2{{"lcore", "2"}, {"role", "worker"}};
    EXPECT_EQ(value("gateway_lcore_rx_packets_total", MetricType::Counter, w2), 1000);
    EXPECT_EQ(value("gateway_lcore_rx_bytes_total", MetricType::Counter, w2), 64'000);
    EXPECT_EQ(value("gateway_lcore_tx_packets_total", MetricType::Counter, w2), 900);
    EXPECT_EQ(value("gateway_lcore_tx_bytes_total", MetricType::Counter, w2), 57'600);
    EXPECT_EQ(value("gateway_lcore_polls_total", MetricType::Counter, w2), 5000);
    EXPECT_EQ(value("gateway_lcore_empty_polls_total", MetricType::Counter, w2), 4000);
    EXPECT_EQ(value("gateway_lcore_busy_cycles_total", MetricType::Counter, w2), 1'000'000);
    EXPECT_EQ(value("gateway_lcore_cycles_total", MetricType::Counter, w2), 4'000'000);
    EXPECT_EQ(value("gateway_lcore_punted_packets_total", MetricType::Counter, w2), 5);
    EXPECT_EQ(value("gateway_lcore_icmp_sent_total", MetricType::Counter, w2), 6);
    EXPECT_EQ(value("gateway_lcore_icmp_rate_limited_total", MetricType::Counter, w2), 7);
    EXPECT_EQ(value("gateway_lcore_fragments_made_total", MetricType::Counter, w2), 8);
    EXPECT_EQ(value("gateway_lcore_cycles_total", MetricType::Counter, {{"lcore", "0"}, {"role", "control"}}),
              4'000'000);

    const LabelMap fwd{{"lcore", "3"}, {"stage", "forward"}};
    EXPECT_EQ(value("gateway_stage_calls_total", MetricType::Counter, fwd), 1000);
    EXPECT_EQ(value("gateway_stage_packets_total", MetricType::Counter, fwd), 1000);
    EXPECT_EQ(value("gateway_stage_cycles_total", MetricType::Counter, fwd), 300'000);
    EXPECT_EQ(must_family(families, "gateway_stage_cycles_total", MetricType::Counter).metric.size(), 9U);
}

TEST(MetricFamilies, EveryDropReasonOnEveryLcore) {
    const auto families = to_metric_families(*make_snapshot(), kVersion);
    const MetricFamily& drops = must_family(families, "gateway_drops_total", MetricType::Counter);
    const auto reasons = all_drop_reasons();
    ASSERT_GT(reasons.size(), 30U);
    EXPECT_EQ(drops.metric.size(), 3 * reasons.size());
    for (const char* lcore : {"2", "3", "0"}) {
        for (const std::string& reason : reasons) {
            EXPECT_EQ(must_metric(drops, {{"lcore", lcore}, {"reason", reason}}).counter.value,
                      reason == "no-route" ? 11 : 0)
                << lcore << " " << reason;
        }
    }
}

TEST(MetricFamilies, LatencyHistogramInSeconds) {
    const auto families = to_metric_families(*make_snapshot(), kVersion);
    const auto check = [](const ClientMetric& m) {
        const auto& h = m.histogram;
        EXPECT_EQ(h.sample_count, 100U);
        EXPECT_DOUBLE_EQ(h.sample_sum, 250e-6);
        ASSERT_EQ(h.bucket.size(), telemetry::kLatencyBucketBoundsNs.size() + 1);
        const std::array<uint64_t, 16> cumulative = {10, 60, 90,  99,  99,  99,  99,  99,
                                                     99, 99, 100, 100, 100, 100, 100, 100};
        for (size_t i = 0; i < telemetry::kLatencyBucketBoundsNs.size(); ++i) {
            // The nearest double to the decimal bound, so `le` prints as 1e-06, 2e-06, ...
            EXPECT_EQ(h.bucket[i].upper_bound, static_cast<double>(telemetry::kLatencyBucketBoundsNs[i]) / 1e9);
            EXPECT_EQ(h.bucket[i].cumulative_count, cumulative[i]);
        }
        EXPECT_EQ(h.bucket[0].upper_bound, 1e-6);
        EXPECT_EQ(h.bucket[15].upper_bound, 1.0);
        EXPECT_TRUE(std::isinf(h.bucket.back().upper_bound));
        EXPECT_EQ(h.bucket.back().cumulative_count, 100U);
    };
    const MetricFamily& gateway = must_family(families, "gateway_latency_seconds", MetricType::Histogram);
    ASSERT_EQ(gateway.metric.size(), 1U);
    EXPECT_TRUE(gateway.metric[0].label.empty());
    check(gateway.metric[0]);
    check(must_metric(must_family(families, "gateway_queue_latency_seconds", MetricType::Histogram),
                      {{"port", "lan0"}, {"queue", "0"}, {"lcore", "2"}}));
    check(must_metric(must_family(families, "gateway_lcore_latency_seconds", MetricType::Histogram),
                      {{"lcore", "2"}, {"role", "worker"}}));
    // An lcore that measured nothing: every bucket 0, +Inf 0.
    const ClientMetric& idle =
        must_metric(must_family(families, "gateway_lcore_latency_seconds", MetricType::Histogram),
                    {{"lcore", "3"}, {"role", "worker"}});
    EXPECT_EQ(idle.histogram.bucket.size(), 17U);
    EXPECT_EQ(idle.histogram.bucket.back().cumulative_count, 0U);
}

TEST(MetricFamilies, LatencyWindowSummary) {
    const auto families = to_metric_families(*make_snapshot(), kVersion);
    const MetricFamily& f = must_family(families, "gateway_latency_window_seconds", MetricType::Summary);
    ASSERT_EQ(f.metric.size(), 1U);
    const auto& s = f.metric[0].summary;
    EXPECT_EQ(s.sample_count, 100U);  // since start, as a Prometheus summary counts
    EXPECT_DOUBLE_EQ(s.sample_sum, 250e-6);
    const std::vector<std::pair<double, double>> want = {{0.0, 1.5e-6}, {0.5, 2.5e-6},   {0.9, 4e-6},
                                                         {0.99, 8e-6},  {0.999, 8.5e-6}, {1.0, 9e-6}};
    ASSERT_EQ(s.quantile.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(s.quantile[i].quantile, want[i].first);
        EXPECT_DOUBLE_EQ(s.quantile[i].value, want[i].second);
    }
    // An empty window has no quantiles.
    const ClientMetric& idle =
        must_metric(must_family(families, "gateway_queue_latency_window_seconds", MetricType::Summary),
                    {{"port", "wan0"}, {"queue", "0"}, {"lcore", "3"}});
    ASSERT_EQ(idle.summary.quantile.size(), want.size());
    EXPECT_TRUE(std::isnan(idle.summary.quantile[2].value));
    must_metric(must_family(families, "gateway_lcore_latency_window_seconds", MetricType::Summary),
                {{"lcore", "0"}, {"role", "control"}});
}

TEST(MetricFamilies, IpsecAndXdp) {
    const auto families = to_metric_families(*make_snapshot(), kVersion);
    const LabelMap in{{"sa", "from-site-b"}, {"spi", "0xabcdef01"}, {"direction", "in"}};
    const LabelMap out{{"sa", "to-site-b"}, {"spi", "0x00001001"}, {"direction", "out"}};
    const auto counter = [&](std::string_view name, const LabelMap& labels) {
        return must_metric(must_family(families, name, MetricType::Counter), labels).counter.value;
    };
    EXPECT_EQ(counter("gateway_ipsec_sa_packets_total", out), 500);
    EXPECT_EQ(counter("gateway_ipsec_sa_bytes_total", out), 80'000);
    EXPECT_EQ(counter("gateway_ipsec_sa_packets_total", in), 400);
    EXPECT_EQ(counter("gateway_ipsec_sa_replay_drops_total", in), 2);
    EXPECT_EQ(counter("gateway_ipsec_sa_auth_drops_total", in), 1);
    EXPECT_EQ(must_metric(must_family(families, "gateway_ipsec_sa_sequence", MetricType::Gauge), in).gauge.value, 401);
    LabelMap info = out;
    info.insert({{"cipher", "aes-gcm-256"}, {"local", "192.0.2.1"}, {"remote", "198.51.100.1"}, {"esn", "true"}});
    EXPECT_EQ(must_metric(must_family(families, "gateway_ipsec_sa_info", MetricType::Gauge), info).gauge.value, 1);

    EXPECT_EQ(counter("gateway_xdp_packets_total", {{"iface", "eth1"}, {"verdict", "drop-blocked"}}), 9);
    EXPECT_EQ(counter("gateway_xdp_bytes_total", {{"iface", "eth1"}, {"verdict", "pass-mgmt"}}), 6'400);
}

// ---------------------------------------------------------------------------
// A live exposer, scraped over TCP.

struct HttpResponse {
    int status = 0;
    std::string headers;
    std::string body;
};

// GET http://127.0.0.1:port/path over HTTP/1.0 (the server closes after the reply).
HttpResponse http_get(uint16_t port, std::string_view path) {
    HttpResponse r;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ADD_FAILURE() << "socket: " << std::strerror(errno);
        return r;
    }
    const timeval timeout{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ADD_FAILURE() << "connect to 127.0.0.1:" << port << ": " << std::strerror(errno);
        close(fd);
        return r;
    }
    const std::string request = "GET " + std::string(path) + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        ADD_FAILURE() << "send: " << std::strerror(errno);
        close(fd);
        return r;
    }
    std::string raw;
    char buf[16384];
    for (;;) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            ADD_FAILURE() << "recv: " << std::strerror(errno);
            break;
        }
        if (n == 0) {
            break;
        }
        raw.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    const size_t end = raw.find("\r\n\r\n");
    if (!raw.starts_with("HTTP/1.") || raw.size() < 12 || end == std::string::npos) {
        ADD_FAILURE() << "not an HTTP response: " << raw.substr(0, 200);
        return r;
    }
    r.status = std::stoi(raw.substr(9, 3));
    r.headers = raw.substr(0, end);
    r.body = raw.substr(end + 4);
    return r;
}

std::string scrape(const MetricsExporter& exporter) {
    const HttpResponse r = http_get(exporter.port(), "/metrics");
    EXPECT_EQ(r.status, 200) << r.headers;
    EXPECT_NE(r.headers.find("Content-Type: text/plain"), std::string::npos) << r.headers;
    return r.body;
}

// Exposition text -> {series as written: value as written}.
std::map<std::string, std::string> samples(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line.starts_with('#')) {
            continue;
        }
        const size_t space = line.rfind(' ');
        if (space == std::string::npos) {
            ADD_FAILURE() << "malformed line: " << line;
            continue;
        }
        out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

std::string value_of(const std::map<std::string, std::string>& s, const std::string& series) {
    const auto it = s.find(series);
    return it == s.end() ? "<absent>" : it->second;
}

std::unique_ptr<MetricsExporter> must_start(const std::string& listen = "127.0.0.1:0") {
    auto exporter = MetricsExporter::start(listen, std::string(kVersion));
    if (!exporter) {
        ADD_FAILURE() << exporter.error().message;
        return nullptr;
    }
    EXPECT_NE((*exporter)->port(), 0);
    return std::move(*exporter);
}

TEST(MetricsExporter, ServesIdleStateBeforeTheFirstPublish) {
    auto exporter = must_start();
    ASSERT_TRUE(exporter);
    const auto s = samples(scrape(*exporter));
    EXPECT_EQ(value_of(s, "gateway_build_info{version=\"1.2.3-test\"}"), "1");
    EXPECT_EQ(value_of(s, "gateway_up"), "0");
    for (const auto& [series, value] : s) {
        EXPECT_TRUE(series.starts_with("gateway_build_info") || series.starts_with("gateway_up") ||
                    series.starts_with("exposer_"))  // prometheus-cpp's own metrics about scrapes
            << series;
    }
    EXPECT_EQ(http_get(exporter->port(), "/other").status, 404);
}

TEST(MetricsExporter, ScrapeSeesTheLatestSnapshot) {
    auto exporter = must_start();
    ASSERT_TRUE(exporter);
    exporter->publish(make_snapshot(1));
    auto s = samples(scrape(*exporter));
    EXPECT_EQ(value_of(s, "gateway_up"), "1");
    EXPECT_EQ(value_of(s, "gateway_port_rx_packets_total{port=\"lan0\"}"), "1000");
    EXPECT_EQ(value_of(s, "gateway_drops_total{lcore=\"2\",reason=\"no-route\"}"), "11");
    EXPECT_EQ(value_of(s, "gateway_drops_total{lcore=\"2\",reason=\"ttl-exceeded\"}"), "0");
    EXPECT_EQ(value_of(s, "gateway_latency_seconds_bucket{le=\"1e-06\"}"), "10");
    EXPECT_EQ(value_of(s, "gateway_latency_seconds_bucket{le=\"5e-05\"}"), "99");
    EXPECT_EQ(value_of(s, "gateway_latency_seconds_bucket{le=\"+Inf\"}"), "100");
    EXPECT_EQ(value_of(s, "gateway_latency_seconds_count"), "100");
    EXPECT_EQ(value_of(s, "gateway_latency_seconds_sum"), "0.00025");
    EXPECT_EQ(value_of(s, "gateway_latency_window_seconds{quantile=\"0.99\"}"), "8e-06");
    EXPECT_EQ(
        value_of(s, "gateway_ipsec_sa_replay_drops_total{sa=\"from-site-b\",spi=\"0xabcdef01\",direction=\"in\"}"),
        "2");

    exporter->publish(make_snapshot(3));
    s = samples(scrape(*exporter));
    EXPECT_EQ(value_of(s, "gateway_port_rx_packets_total{port=\"lan0\"}"), "3000");
    EXPECT_EQ(value_of(s, "gateway_drops_total{lcore=\"2\",reason=\"no-route\"}"), "33");
    EXPECT_EQ(value_of(s, "gateway_latency_seconds_bucket{le=\"+Inf\"}"), "300");
    EXPECT_EQ(value_of(s, "gateway_mbufs_in_use"), "1536");

    exporter->publish(nullptr);
    s = samples(scrape(*exporter));
    EXPECT_EQ(value_of(s, "gateway_up"), "0");
    EXPECT_EQ(value_of(s, "gateway_port_rx_packets_total{port=\"lan0\"}"), "<absent>");
}

TEST(MetricsExporter, ScrapesNeverSeeATornSnapshot) {
    auto exporter = must_start();
    ASSERT_TRUE(exporter);
    exporter->publish(make_snapshot(1));
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        for (uint64_t n = 2; !stop.load(); ++n) {
            exporter->publish(make_snapshot(n));
        }
    });
    for (int i = 0; i < 50; ++i) {
        const auto s = samples(scrape(*exporter));
        // Every family of one scrape comes from the same snapshot n.
        const double n = std::stod(value_of(s, "gateway_port_rx_packets_total{port=\"lan0\"}")) / 1000;
        EXPECT_EQ(std::stod(value_of(s, "gateway_lcore_cycles_total{lcore=\"0\",role=\"control\"}")), n * 4'000'000);
        EXPECT_EQ(std::stod(value_of(s, "gateway_xdp_packets_total{iface=\"eth1\",verdict=\"pass-mgmt\"}")), n * 100);
        EXPECT_EQ(std::stod(value_of(s, "gateway_latency_seconds_count")), n * 100);
    }
    stop = true;
    publisher.join();
}

TEST(MetricsExporter, SecondExporterOnTheSamePortFails) {
    auto first = must_start();
    ASSERT_TRUE(first);
    const std::string listen = "127.0.0.1:" + std::to_string(first->port());
    auto second = MetricsExporter::start(listen, std::string(kVersion));
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("cannot listen on '" + listen + "'"), std::string::npos)
        << second.error().message;
    EXPECT_NE(second.error().message.find("Address already in use"), std::string::npos) << second.error().message;
    // The first one still serves.
    EXPECT_EQ(http_get(first->port(), "/metrics").status, 200);
}

TEST(MetricsExporter, BadListenAddresses) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"localhost:9469", "'localhost' is not a numeric IPv4 address"},
        {"127.0.0.1", "no port"},
        {"9469", "no port"},
        {"127.0.0.1:", "port '' is not a number"},
        {"127.0.0.1:70000", "port '70000' is not a number from 0 to 65535"},
        {"127.0.0.1:94x", "port '94x'"},
        {"::1:9469", "an IPv6 address goes in brackets"},
        {"[::1]9469", "no ']:PORT'"},
        {"[::1:9469", "no ']:PORT'"},
        {"[nope]:9469", "'nope' is not an IPv6 address"},
        {"256.0.0.1:9469", "'256.0.0.1' is not a numeric IPv4 address"},
    };
    for (const auto& [listen, why] : cases) {
        auto exporter = MetricsExporter::start(listen, std::string(kVersion));
        ASSERT_FALSE(exporter) << listen;
        EXPECT_NE(exporter.error().message.find("bad listen address '" + listen + "'"), std::string::npos)
            << exporter.error().message;
        EXPECT_NE(exporter.error().message.find(why), std::string::npos) << exporter.error().message;
    }
    auto not_local = MetricsExporter::start("192.0.2.77:9469", std::string(kVersion));
    ASSERT_FALSE(not_local);
    EXPECT_NE(not_local.error().message.find("Cannot assign requested address"), std::string::npos)
        << not_local.error().message;
}

TEST(MetricsExporter, Ipv6ListenServesOrSaysWhyNot) {
    auto exporter = MetricsExporter::start("[::1]:0", std::string(kVersion));
    if (exporter) {
        EXPECT_NE((*exporter)->port(), 0);
    } else {
        EXPECT_NE(exporter.error().message.find("without IPv6 support"), std::string::npos) << exporter.error().message;
    }
}

// ---------------------------------------------------------------------------
// promtool: Prometheus' own parser and linter on what a scrape serves.

std::string promtool_path() {
    const char* env = std::getenv("PROMTOOL");
    return env != nullptr ? env : "/usr/bin/promtool";
}

// `promtool ARGS FILE` where FILE holds `text`; {exit status, output}.
std::pair<int, std::string> run_promtool(const std::string& args, const std::string& text) {
    char path[] = "/tmp/gw-promtool-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
        ADD_FAILURE() << "mkstemp: " << std::strerror(errno);
        return {-1, ""};
    }
    const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    EXPECT_TRUE(written);
    const std::string command = "'" + promtool_path() + "' " + args + " " + path + " 2>&1";
    FILE* p = popen(command.c_str(), "r");
    std::string output;
    int status = -1;
    if (p != nullptr) {
        char buf[4096];
        for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) {
            output.append(buf, n);
        }
        const int raw = pclose(p);
        status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    }
    std::filesystem::remove(path);
    return {status, output};
}

// Exposition text through Prometheus' parser and linter.
std::pair<int, std::string> promtool_check(const std::string& text) {
    return run_promtool("check metrics <", text);
}

void require_promtool() {
    ASSERT_EQ(access(promtool_path().c_str(), X_OK), 0)
        << promtool_path() << " not found: run scripts/install-deps.sh (it installs Debian's `prometheus` "
        << "package, which ships promtool, without leaving a Prometheus server running)";
}

TEST(Promtool, AcceptsWhatTheExporterServes) {
    require_promtool();
    if (HasFatalFailure()) {
        return;
    }
    auto exporter = must_start();
    ASSERT_TRUE(exporter);
    const std::string idle = scrape(*exporter);
    auto [idle_status, idle_output] = promtool_check(idle);
    EXPECT_EQ(idle_status, 0) << idle_output << "\n--- scraped:\n" << idle;

    exporter->publish(make_snapshot(5));
    const std::string full = scrape(*exporter);
    auto [status, output] = promtool_check(full);
    EXPECT_EQ(status, 0) << output << "\n--- scraped:\n" << full;
    EXPECT_EQ(output, "");

    // And an empty gateway (no ports, SAs, XDP): families without series.
    exporter->publish(std::make_shared<const telemetry::Snapshot>());
    const std::string empty = scrape(*exporter);
    auto [empty_status, empty_output] = promtool_check(empty);
    EXPECT_EQ(empty_status, 0) << empty_output << "\n--- scraped:\n" << empty;

    // The check is not vacuous: promtool rejects a counter without _total.
    auto [bad_status, bad_output] = promtool_check("# HELP gateway_x x\n# TYPE gateway_x counter\ngateway_x 1\n");
    EXPECT_NE(bad_status, 0) << bad_output;
}

// ---------------------------------------------------------------------------
// The Grafana dashboard queries only metrics the exporter produces.

std::filesystem::path dashboard_path() {
    const char* env = std::getenv("GW_GRAFANA_DASHBOARD");
    return env != nullptr ? env : "";
}

// Every string under a key named `key`, anywhere in `j`.
void collect_strings(const nlohmann::json& j, std::string_view key, std::vector<std::string>& out) {
    if (j.is_object()) {
        for (const auto& [k, v] : j.items()) {
            if (k == key && v.is_string()) {
                out.push_back(v.get<std::string>());
            } else {
                collect_strings(v, key, out);
            }
        }
    } else if (j.is_array()) {
        for (const auto& v : j) {
            collect_strings(v, key, out);
        }
    }
}

TEST(GrafanaDashboard, ParsesAndQueriesOnlyExportedMetrics) {
    const auto path = dashboard_path();
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot read the dashboard at GW_GRAFANA_DASHBOARD='" << path.string()
                    << "' (meson test sets it to configs/grafana/gateway-dashboard.json)";
    nlohmann::json dashboard;
    try {
        dashboard = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        FAIL() << path << ": " << e.what();
    }

    // Importable: the datasource is an input, and every panel uses it.
    ASSERT_TRUE(dashboard.contains("__inputs"));
    bool has_input = false;
    for (const auto& input : dashboard["__inputs"]) {
        has_input |= input.value("name", "") == "DS_PROMETHEUS" && input.value("pluginId", "") == "prometheus";
    }
    EXPECT_TRUE(has_input);
    std::vector<std::string> uids;
    collect_strings(dashboard["panels"], "uid", uids);
    for (const std::string& uid : uids) {
        EXPECT_EQ(uid, "${DS_PROMETHEUS}");
    }
    std::set<std::string> variables;
    for (const auto& v : dashboard.at("templating").at("list")) {
        variables.insert(v.value("name", ""));
    }
    EXPECT_TRUE(variables.contains("port"));
    EXPECT_TRUE(variables.contains("lcore"));

    // Names the exporter produces, with the series suffixes their types add.
    std::map<std::string, MetricType> exported;
    for (const MetricFamily& f : to_metric_families(*make_snapshot(), kVersion)) {
        exported[f.name] = f.type;
    }
    const auto known = [&](const std::string& token) {
        if (exported.contains(token)) {
            return true;
        }
        for (const auto& [suffix, types] : std::vector<std::pair<std::string, std::set<MetricType>>>{
                 {"_bucket", {MetricType::Histogram}},
                 {"_count", {MetricType::Histogram, MetricType::Summary}},
                 {"_sum", {MetricType::Histogram, MetricType::Summary}}}) {
            if (token.ends_with(suffix)) {
                const auto it = exported.find(token.substr(0, token.size() - suffix.size()));
                if (it != exported.end() && types.contains(it->second)) {
                    return true;
                }
            }
        }
        return false;
    };

    std::vector<std::string> queries;
    collect_strings(dashboard["panels"], "expr", queries);
    const size_t panel_queries = queries.size();
    EXPECT_GE(panel_queries, 15U);
    collect_strings(dashboard["templating"], "query", queries);
    collect_strings(dashboard["templating"], "definition", queries);
    EXPECT_GT(queries.size(), panel_queries);
    std::set<std::string> used;
    const std::regex token("gateway_[a-z0-9_]+");
    for (const std::string& q : queries) {
        size_t tokens = 0;
        for (auto it = std::sregex_iterator(q.begin(), q.end(), token); it != std::sregex_iterator(); ++it) {
            EXPECT_TRUE(known(it->str())) << "not exported: " << it->str() << " in: " << q;
            used.insert(it->str());
            ++tokens;
        }
        EXPECT_GT(tokens, 0U) << "query names no gateway metric: " << q;
    }
    // What the brief asks the dashboard to show.
    for (const char* name :
         {"gateway_port_rx_packets_total", "gateway_port_tx_bytes_total", "gateway_drops_total",
          "gateway_latency_window_seconds", "gateway_latency_seconds_bucket", "gateway_lcore_busy_cycles_total",
          "gateway_lcore_cycles_total", "gateway_stage_cycles_total", "gateway_ipsec_sa_packets_total",
          "gateway_ipsec_sa_replay_drops_total", "gateway_ipsec_sa_auth_drops_total", "gateway_xdp_packets_total",
          "gateway_mbufs_in_use"}) {
        EXPECT_TRUE(used.contains(name)) << "dashboard does not show " << name;
    }

    // Every panel query is valid PromQL: promtool parses each as a recording
    // rule, with Grafana's variables replaced by what they expand to.
    require_promtool();
    if (HasFatalFailure()) {
        return;
    }
    std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
    for (size_t i = 0; i < panel_queries; ++i) {
        std::string expr = queries[i];
        for (const auto& [variable, value] : std::vector<std::pair<std::string, std::string>>{
                 {"$__rate_interval", "1m"}, {"$instance", ".*"}, {"$port", ".*"}, {"$lcore", ".*"}}) {
            for (size_t at; (at = expr.find(variable)) != std::string::npos;) {
                expr.replace(at, variable.size(), value);
            }
        }
        EXPECT_EQ(expr.find('$'), std::string::npos) << "unknown Grafana variable in: " << queries[i];
        // A JSON string is a YAML double-quoted scalar.
        rules += "      - record: dashboard:query_" + std::to_string(i) +
                 "\n        expr: " + nlohmann::json(expr).dump() + "\n";
    }
    auto [status, output] = run_promtool("check rules", rules);
    EXPECT_EQ(status, 0) << output << "\n--- rules:\n" << rules;
}

}  // namespace
}  // namespace gw::cp
