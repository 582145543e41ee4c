#pragma once
// Prometheus exposition of the gateway's telemetry (docs/metrics.md lists every
// metric). The control thread publishes a telemetry::Snapshot about once a
// second; a scrape of http://LISTEN/metrics renders the latest published one.
// Scrapes run on the exposer's own HTTP threads (civetweb, under prometheus-cpp)
// and read only that immutable snapshot: a slow scraper never touches
// data-plane memory, and the control thread's cost is one pointer swap.
//
// The data plane's counters are already monotonic totals, so nothing is
// mirrored into prometheus::Counter objects: a custom Collectable builds the
// metric families from the snapshot at scrape time (to_metric_families).
//
// Side effect of starting: civetweb ignores SIGPIPE process-wide.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "common/error.h"
#include "controlplane/telemetry.h"

namespace prometheus {
class Exposer;
}

namespace gw::cp {

class SnapshotCollectable;  // the prometheus::Collectable behind /metrics

class MetricsExporter {
public:
    // Serves /metrics on `listen`, "ADDRESS:PORT" with a numeric address:
    // "127.0.0.1:9469", "0.0.0.0:9469", "[::1]:9469" (IPv6 only where civetweb
    // was built with it; Debian 12's is not, and the error says so). Port 0
    // binds an ephemeral port (tests; see port()). Until the first publish a
    // scrape returns gateway_build_info and gateway_up 0 only.
    // @return the running exporter, or an error naming the address and the
    //         cause (malformed address, address in use, not a local address).
    [[nodiscard]] static Result<std::unique_ptr<MetricsExporter>> start(const std::string& listen,
                                                                        std::string gateway_version);
    // Stops the HTTP server; scrapes in progress finish first.
    ~MetricsExporter();

    MetricsExporter(const MetricsExporter&) = delete;
    MetricsExporter& operator=(const MetricsExporter&) = delete;

    // Makes `snapshot` the one scrapes render. Thread-safe; a scrape sees the
    // previous snapshot or this one, whole, never a mix. nullptr returns to the
    // not-yet-published state (gateway_up 0), e.g. while the data plane stops.
    void publish(telemetry::SnapshotPtr snapshot);

    // The bound TCP port (the ephemeral one when started with port 0).
    [[nodiscard]] uint16_t port() const noexcept { return port_; }

private:
    MetricsExporter(std::shared_ptr<SnapshotCollectable> collectable, std::unique_ptr<prometheus::Exposer> exposer,
                    uint16_t port);

    // shared_ptr because prometheus::Exposer holds Collectables by weak_ptr.
    std::shared_ptr<SnapshotCollectable> collectable_;
    // Declared after collectable_ so it is destroyed first: the server stops
    // before what it serves goes away.
    std::unique_ptr<prometheus::Exposer> exposer_;
    uint16_t port_ = 0;
};

// The metric families of one snapshot, in a stable order, with every family
// present even when it has no series (no SAs, no XDP): what a scrape serves
// once a snapshot is published. Pure; exposed for tests and documentation.
[[nodiscard]] std::vector<prometheus::MetricFamily> to_metric_families(const telemetry::Snapshot& s,
                                                                       std::string_view gateway_version);

}  // namespace gw::cp
