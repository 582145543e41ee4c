// What the data plane measures and what the control thread changes while it
// runs, on the ring-port fixture: residence-time samples per rx queue through
// the LatencyRecorder protocol (worker.cc, forward.cc's flush_tx_port), stage
// cycles, per-queue counters, Dataplane::snapshot() and clear_counters(); and
// the runtime changes apply_routes, apply_ipsec and set_rx_placement
// (runtime.cc).
//
// A packet's residence time is recorded when a worker transmits it inside a
// poll round (LatencyRecorder: begin, record, end). The fixture's poll_worker()
// flushes after the round, where nothing is recorded, so the latency tests step
// workers with Worker::poll_once alone and run with `dataplane drain-us 0`:
// every round starts by flushing what the previous round buffered, so a packet
// received in round k leaves, and is recorded, at the start of round k + 1.

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "controlplane/config.h"
#include "controlplane/telemetry.h"
#include "tests/dataplane/dataplane_fixture.h"
#include "tests/dataplane/ipsec/ipsec_fixture.h"

namespace gw::test {
namespace {

using dp::DropReason;
using dp::Stage;

constexpr std::string_view kDrainEveryRound = "dataplane drain-us 0\n";
// No sample may claim more than this: the tests run in milliseconds.
constexpr uint64_t kSaneMaxNs = 500'000'000;

uint64_t realtime_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

uint64_t steady_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

// H -> S (lan -> wan, static neighbor), IPv4 identification `id`.
Bytes h_to_s(uint16_t id = 0, std::size_t payload = 32) {
    return ether(
        kLanMac, kHostMac, kEtherIp4,
        ipv4_udp({.src = kHost, .dst = kServer, .id = id}, 40000, 53, pattern(payload, static_cast<uint8_t>(id))));
}
// A host behind R -> H (wan -> lan).
Bytes r_to_h(uint16_t id = 0) {
    return ether(kWanMac, kRouterMac, kEtherIp4,
                 ipv4_udp({.src = ip4("198.51.100.7"), .dst = kHost, .id = id}, 53, 40000, pattern(48)));
}
// D -> a host behind R (dmz -> wan).
Bytes d_to_r(uint16_t id = 0) {
    return ether(kDmzMac, kDmzHostMac, kEtherIp4,
                 ipv4_udp({.src = kDmzHost, .dst = ip4("198.51.100.1"), .id = id}, 53, 40000, pattern(64)));
}
// H -> `dst` with TTL `ttl`.
Bytes h_to(uint32_t dst, uint8_t ttl = 64) {
    return ether(kLanMac, kHostMac, kEtherIp4,
                 ipv4_udp({.src = kHost, .dst = dst, .ttl = ttl}, 40000, 53, pattern(32)));
}

std::vector<Bytes> repeat(std::size_t n, Bytes (*make)(uint16_t)) {
    std::vector<Bytes> v;
    for (std::size_t i = 0; i < n; ++i) {
        v.push_back(make(static_cast<uint16_t>(i)));
    }
    return v;
}
std::vector<Bytes> h_to_s_burst(std::size_t n) {
    return repeat(n, [](uint16_t id) { return h_to_s(id); });
}

uint64_t total_size(const std::vector<Bytes>& frames) {
    uint64_t n = 0;
    for (const auto& f : frames) {
        n += f.size();
    }
    return n;
}

// `l` summarizes `n` samples: ordered percentiles, sane bounds; all zero when n == 0.
void expect_summary(const telemetry::LatencySummary& l, uint64_t n) {
    EXPECT_EQ(l.count, n);
    if (n == 0) {
        EXPECT_EQ(l.sum_ns, 0u);
        EXPECT_EQ(l.min_ns, 0u);
        EXPECT_EQ(l.max_ns, 0u);
        EXPECT_EQ(l.p50_ns, 0u);
        EXPECT_EQ(l.p999_ns, 0u);
        return;
    }
    EXPECT_GT(l.min_ns, 0u) << "residence is never zero";
    EXPECT_LE(l.min_ns, l.p50_ns);
    EXPECT_LE(l.p50_ns, l.p90_ns);
    EXPECT_LE(l.p90_ns, l.p99_ns);
    EXPECT_LE(l.p99_ns, l.p999_ns);
    EXPECT_LE(l.p999_ns, l.max_ns);
    EXPECT_LT(l.max_ns, kSaneMaxNs);
    EXPECT_GE(l.sum_ns, l.min_ns * n);
    EXPECT_LE(l.sum_ns, l.max_ns * n);
}

void expect_latency(const telemetry::Latency& l, uint64_t since_start, uint64_t window) {
    {
        SCOPED_TRACE("since start");
        expect_summary(l.since_start, since_start);
    }
    {
        SCOPED_TRACE("window");
        expect_summary(l.window, window);
    }
    EXPECT_EQ(l.buckets.count, since_start);
    EXPECT_EQ(l.buckets.sum_ns, l.since_start.sum_ns);
    EXPECT_TRUE(std::ranges::is_sorted(l.buckets.cumulative)) << "cumulative counts never decrease";
    EXPECT_EQ(l.buckets.cumulative.back(), since_start) << "every sample is under the 1 s bound";
}

const telemetry::QueueStats& queue_of(const telemetry::Snapshot& s, std::string_view port) {
    for (const auto& q : s.queues) {
        if (q.port == port) {
            return q;
        }
    }
    ADD_FAILURE() << "no queue of port '" << port << "' in the snapshot";
    static const telemetry::QueueStats kNone{};
    return kNone;
}

const telemetry::LcoreStats& lcore_of(const telemetry::Snapshot& s, unsigned lcore, std::string_view role) {
    for (const auto& l : s.lcores) {
        if (l.lcore == lcore && l.role == role) {
            return l;
        }
    }
    ADD_FAILURE() << "no " << role << " lcore " << lcore << " in the snapshot";
    static const telemetry::LcoreStats kNone{};
    return kNone;
}

const dp::StageCounters& stage(const dp::LcoreCounters& c, Stage s) {
    return c.stages[static_cast<std::size_t>(s)];
}

// One round of worker `w`: flushes what the last round buffered, then polls.
uint16_t round_of(dp::Dataplane& d, std::size_t w = 0) {
    return d.workers()[w]->poll_once(rte_rdtsc());
}

// Takes every queue's samples: the first call flips the recorders' buffers,
// each worker moves to the new one at its next round, the second call collects.
void collect_all(dp::Dataplane& d) {
    unsigned first = d.collect_latency();
    if (first == kNumPorts) {
        // A flip was already pending (clear_counters starts one): that interval
        // is done now; this call starts the next.
        first = d.collect_latency();
    }
    EXPECT_EQ(first, 0u) << "no worker went round since the flip";
    for (std::size_t w = 0; w < d.workers().size(); ++w) {
        EXPECT_EQ(round_of(d, w), 0) << "collection wants idle queues";
    }
    EXPECT_EQ(d.collect_latency(), kNumPorts) << "every worker acknowledged the flip";
}

// Steps workers with poll_once only (see the file comment).
class TelemetryTest : public DataplaneTest {
protected:
    [[nodiscard]] TopologyOptions options() const override { return {.extra = std::string(kDrainEveryRound)}; }

    [[nodiscard]] dp::Worker& worker(std::size_t w = 0) { return *dataplane().workers()[w]; }
    uint16_t round(std::size_t w = 0) { return round_of(dataplane(), w); }
    // `frames` on `port` in one burst: a round that receives them all, then
    // one that transmits what they became.
    void pass(uint16_t port, const std::vector<Bytes>& frames) {
        for (const auto& f : frames) {
            inject(port, f);
        }
        EXPECT_EQ(round(), frames.size());
        EXPECT_EQ(round(), 0);
    }
    void collect() { collect_all(dataplane()); }
    [[nodiscard]] telemetry::Snapshot snap() { return dataplane().snapshot(); }
};

// ---- Latency ---------------------------------------------------------------------

TEST_F(TelemetryTest, ForwardedPacketsRecordTheirResidenceTime) {
    constexpr std::size_t kN = 10;
    const uint64_t t0 = steady_ns();
    pass(kLan, h_to_s_burst(kN));
    const uint64_t elapsed_ns = steady_ns() - t0;
    EXPECT_EQ(sent(kWan).size(), kN);
    EXPECT_EQ(snap().latency.since_start.count, 0u) << "samples wait in the worker's buffer until collected";

    collect();
    const auto s = snap();
    EXPECT_TRUE(s.latency_enabled);
    expect_latency(s.latency, kN, kN);
    EXPECT_LE(s.latency.since_start.max_ns, elapsed_ns + elapsed_ns / 50 + 1000)
        << "no packet stayed longer than it took to pass it through";
    ASSERT_EQ(s.queues.size(), kNumPorts);
    expect_latency(queue_of(s, "lan").latency, kN, kN);
    expect_latency(queue_of(s, "wan").latency, 0, 0);
    expect_latency(queue_of(s, "dmz").latency, 0, 0);
    ASSERT_EQ(s.lcores.size(), 2u);
    const auto& w = lcore_of(s, 1, "worker");
    expect_latency(w.latency, kN, kN);
    EXPECT_EQ(w.latency.since_start.sum_ns, s.latency.since_start.sum_ns);
    expect_latency(lcore_of(s, 0, "control").latency, 0, 0);
    EXPECT_EQ(w.tx_packets, kN);
    expect_no_drops(worker_counters());
}

TEST_F(TelemetryTest, SamplesGoToTheQueueThePacketArrivedOn) {
    const auto from_lan = h_to_s_burst(2);
    const auto from_wan = repeat(3, r_to_h);
    const auto from_dmz = repeat(4, d_to_r);
    using Input = std::pair<uint16_t, const std::vector<Bytes>*>;
    for (const auto& [port, frames] : std::vector<Input>{{kLan, &from_lan}, {kWan, &from_wan}, {kDmz, &from_dmz}}) {
        for (const auto& f : *frames) {
            inject(port, f);
        }
    }
    EXPECT_EQ(round(), 9);
    EXPECT_EQ(round(), 0);
    EXPECT_EQ(sent(kWan).size(), 6u);
    EXPECT_EQ(sent(kLan).size(), 3u);
    collect();
    const auto s = snap();
    expect_latency(queue_of(s, "lan").latency, 2, 2);
    expect_latency(queue_of(s, "wan").latency, 3, 3);
    expect_latency(queue_of(s, "dmz").latency, 4, 4);
    expect_latency(s.latency, 9, 9);
    expect_latency(lcore_of(s, 1, "worker").latency, 9, 9);
}

TEST_F(TelemetryTest, DroppedPacketsRecordNothing) {
    Bytes bad_checksum = h_to_s();
    bad_checksum[kEthLen + 10] ^= 0x01;
    pass(kLan, {
                   h_to(ip4("203.0.113.1")),  // blackhole: no ICMP
                   ether(mac("02:00:00:00:99:99"), kHostMac, kEtherIp4,
                         ipv4_udp({.src = kHost, .dst = kServer}, 40000, 53, pattern(32))),  // another host's MAC
                   bad_checksum,
                   h_to(ip4("224.0.0.9")),  // multicast destination
               });
    expect_nothing_sent("every packet dropped");
    EXPECT_EQ(worker_counters().total_drops(), 4u) << drops_to_string(worker_counters());
    collect();
    expect_latency(snap().latency, 0, 0);
}

TEST_F(TelemetryTest, PacketsTheTxQueueRefusesRecordNothing) {
    std::vector<rte_mbuf*> filler;
    while (rte_ring_free_count(tx_ring(kWan, kWorkerSlot)) != 0) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool());
        ASSERT_NE(m, nullptr);
        ASSERT_EQ(rte_ring_enqueue(tx_ring(kWan, kWorkerSlot), m), 0);
        filler.push_back(m);
    }
    pass(kLan, h_to_s_burst(3));
    expect_only_drops(worker_counters(), DropReason::tx_full, 3);
    EXPECT_EQ(sent(kWan).size(), filler.size()) << "only the placeholders";
    collect();
    expect_latency(snap().latency, 0, 0);

    pass(kLan, h_to_s_burst(2));
    EXPECT_EQ(sent(kWan).size(), 2u);
    collect();
    expect_latency(snap().latency, 2, 2);
}

// ICMP errors and echo replies leave carrying the stamp of the packet that
// caused them: one sample per transmitted packet, under the ingress queue.
TEST_F(TelemetryTest, IcmpErrorsAndEchoRepliesAreRecorded) {
    pass(kLan, {
                   h_to_s(1),
                   h_to(kServer, 1),          // time exceeded
                   h_to(ip4("100.64.0.1")),   // no route: net unreachable
                   h_to(ip4("203.0.113.1")),  // blackhole: dropped silently
                   ether(kLanMac, kHostMac, kEtherIp4, ipv4_icmp({.src = kHost, .dst = kLanIp}, 8, 0, 1, pattern(8))),
                   h_to_s(2),
               });
    const auto to_wan = sent(kWan);
    const auto to_lan = sent(kLan);
    EXPECT_EQ(to_wan.size(), 2u);
    EXPECT_EQ(to_lan.size(), 3u) << "two errors and an echo reply";
    const auto w = worker_counters();
    EXPECT_EQ(w.icmp_sent, 3u);
    EXPECT_EQ(w.tx_packets, 5u);
    collect();
    const auto s = snap();
    expect_latency(s.latency, 5, 5);
    expect_latency(queue_of(s, "lan").latency, 5, 5);
}

TEST_F(TelemetryTest, EveryFragmentIsRecorded) {
    const Bytes big = ether(kLanMac, kHostMac, kEtherIp4,
                            ipv4_udp({.src = kHost, .dst = kDmzHost}, 40000, 53, pattern(2000 - kIp4Len - 8)));
    const Bytes big_df = ether(kLanMac, kHostMac, kEtherIp4,
                               ipv4_udp({.src = kHost, .dst = kDmzHost, .df = true}, 40000, 53, pattern(1400)));
    pass(kLan, {big, big_df});
    EXPECT_EQ(sent(kDmz).size(), 2u) << "2000 bytes over an MTU of 1280";
    EXPECT_EQ(sent(kLan).size(), 1u) << "fragmentation needed";
    EXPECT_EQ(worker_counters().fragments_made, 2u);
    collect();
    const auto s = snap();
    expect_latency(s.latency, 3, 3);
    EXPECT_EQ(queue_of(s, "lan").rx_packets, 2u);
}

// The LatencyRecorder protocol as the control thread sees it: a flip, then the
// worker's next round, then the old buffer is taken. Samples recorded after the
// flip wait for the next collection; none is lost or counted twice.
TEST_F(TelemetryTest, CollectionWaitsForTheWorkersNextRound) {
    pass(kLan, h_to_s_burst(1));
    EXPECT_EQ(dataplane().collect_latency(), 0u) << "flipped; the worker is still on the old buffer";
    EXPECT_EQ(dataplane().collect_latency(), 0u) << "no round since";
    EXPECT_EQ(snap().latency.since_start.count, 0u);

    pass(kLan, h_to_s_burst(2));  // rounds after the flip: into the new buffer
    EXPECT_EQ(dataplane().collect_latency(), kNumPorts);
    expect_latency(snap().latency, 1, 1);

    collect();
    expect_latency(snap().latency, 3, 3);
    collect();
    SCOPED_TRACE("after an empty interval");
    expect_latency(snap().latency, 3, 3);
    EXPECT_EQ(sent(kWan).size(), 3u);
}

class TelemetryWindowTest : public TelemetryTest {
protected:
    [[nodiscard]] TopologyOptions options() const override {
        return {.extra = std::string(kDrainEveryRound) + "telemetry window-s 1\n"};
    }
};

// The window holds the last window-s collections (one a second), the
// since-start population everything.
TEST_F(TelemetryWindowTest, WindowKeepsOnlyTheLastIntervals) {
    pass(kLan, h_to_s_burst(2));
    collect();
    expect_latency(snap().latency, 2, 2);
    pass(kLan, h_to_s_burst(3));
    collect();
    const auto s = snap();
    EXPECT_EQ(s.window_s, 1u);
    expect_latency(s.latency, 5, 3);
    expect_latency(queue_of(s, "lan").latency, 5, 3);
    expect_latency(lcore_of(s, 1, "worker").latency, 5, 3);
    collect();
    expect_latency(snap().latency, 5, 0);
    EXPECT_EQ(sent(kWan).size(), 5u);
}

// ---- Stages and cycles ---------------------------------------------------------

TEST_F(TelemetryTest, StageCountersFollowTheBurst) {
    constexpr uint64_t kN = 5;
    for (const auto& f : h_to_s_burst(kN)) {
        inject(kLan, f);
    }
    EXPECT_EQ(round(), kN);
    auto c = worker_counters();
    for (const Stage st : {Stage::rx, Stage::forward}) {
        SCOPED_TRACE(dp::kStageLabels[static_cast<std::size_t>(st)]);
        EXPECT_EQ(stage(c, st).calls, 1u);
        EXPECT_EQ(stage(c, st).packets, kN);
        EXPECT_GT(stage(c, st).cycles, 0u);
    }
    EXPECT_EQ(stage(c, Stage::tx).calls, 0u) << "the packets wait in the tx buffer";
    EXPECT_EQ(stage(c, Stage::tx).packets, 0u);

    EXPECT_EQ(round(), 0);
    c = worker_counters();
    EXPECT_EQ(stage(c, Stage::rx).calls, 1u) << "empty polls are not rx stage calls";
    EXPECT_EQ(stage(c, Stage::forward).calls, 1u);
    EXPECT_EQ(stage(c, Stage::tx).calls, 1u) << "one port flushed";
    EXPECT_EQ(stage(c, Stage::tx).packets, kN);
    EXPECT_GT(stage(c, Stage::tx).cycles, 0u);
    for (const Stage st : {Stage::esp_decrypt, Stage::esp_encrypt}) {
        EXPECT_EQ(stage(c, st).calls, 0u);
        EXPECT_EQ(stage(c, st).packets, 0u);
        EXPECT_EQ(stage(c, st).cycles, 0u);
    }
    EXPECT_EQ(sent(kWan).size(), kN);

    const auto s = snap();
    const auto& w = lcore_of(s, 1, "worker");
    ASSERT_EQ(w.stages.size(), dp::kNumStages);
    const std::vector<std::string> names = {"rx", "forward", "esp-decrypt", "esp-encrypt", "tx"};
    for (std::size_t i = 0; i < dp::kNumStages; ++i) {
        EXPECT_EQ(w.stages[i].name, names[i]);
        EXPECT_EQ(w.stages[i].calls, c.stages[i].calls);
        EXPECT_EQ(w.stages[i].packets, c.stages[i].packets);
        EXPECT_EQ(w.stages[i].cycles, c.stages[i].cycles);
    }
    EXPECT_TRUE(lcore_of(s, 0, "control").stages.empty()) << "the control thread has no stages";
}

// A full tx buffer is flushed inside the forward stage: the flush is a tx
// stage call of its own, and its cycles are taken out of forward's.
TEST_F(TelemetryTest, TxFlushInsideForwardingIsItsOwnStage) {
    constexpr uint64_t kBurst = 32;  // the topology's burst
    for (const auto& f : h_to_s_burst(kBurst)) {
        inject(kLan, f);
    }
    EXPECT_EQ(round(), kBurst);
    const auto c = worker_counters();
    EXPECT_EQ(stage(c, Stage::tx).calls, 1u);
    EXPECT_EQ(stage(c, Stage::tx).packets, kBurst);
    EXPECT_EQ(stage(c, Stage::forward).packets, kBurst);
    EXPECT_GT(stage(c, Stage::forward).cycles, 0u);
    EXPECT_LE(stage(c, Stage::rx).cycles + stage(c, Stage::forward).cycles + stage(c, Stage::tx).cycles, c.total_cycles)
        << "stages partition (part of) the round";
    EXPECT_EQ(sent(kWan).size(), kBurst);
    EXPECT_EQ(round(), 0);
    collect();
    expect_latency(snap().latency, kBurst, kBurst);
}

TEST_F(TelemetryTest, BusyCyclesAreRoundsWithPackets) {
    EXPECT_EQ(round(), 0);
    auto c = worker_counters();
    EXPECT_GT(c.total_cycles, 0u);
    EXPECT_EQ(c.busy_cycles, 0u) << "an empty round is not busy";

    inject(kLan, h_to_s());
    EXPECT_EQ(round(), 1);
    c = worker_counters();
    EXPECT_GT(c.busy_cycles, 0u);
    EXPECT_LT(c.busy_cycles, c.total_cycles);
    const auto busy = c.busy_cycles;
    const auto total = c.total_cycles;

    EXPECT_EQ(round(), 0);
    c = worker_counters();
    EXPECT_EQ(c.busy_cycles, busy) << "an empty round adds to total only";
    EXPECT_GT(c.total_cycles, total);
    EXPECT_EQ(c.polls, 3u * kNumPorts);
    EXPECT_EQ(c.empty_polls, 3u * kNumPorts - 1);
    const auto& w = lcore_of(snap(), 1, "worker");
    EXPECT_EQ(w.busy_cycles, c.busy_cycles);
    EXPECT_EQ(w.total_cycles, c.total_cycles);
    EXPECT_EQ(sent(kWan).size(), 1u);
}

// ---- Per-queue counters ------------------------------------------------------------

TEST_F(TelemetryTest, QueueCountersCountPacketsBytesAndPolls) {
    const std::vector<Bytes> lan = {h_to_s(1, 10), h_to_s(2, 100), h_to_s(3, 1000)};
    const std::vector<Bytes> wan = {r_to_h(1), r_to_h(2)};
    for (const auto& f : lan) {
        inject(kLan, f);
    }
    EXPECT_EQ(round(), 3);
    for (const auto& f : wan) {
        inject(kWan, f);
    }
    EXPECT_EQ(round(), 2);
    EXPECT_EQ(round(), 0);
    EXPECT_EQ(sent(kWan).size(), 3u);
    EXPECT_EQ(sent(kLan).size(), 2u);

    const auto s = snap();
    ASSERT_EQ(s.queues.size(), kNumPorts);
    struct Want {
        std::string_view port;
        uint64_t packets, bytes, empty_polls;
    };
    for (const Want& want :
         {Want{"lan", 3, total_size(lan), 2}, Want{"wan", 2, total_size(wan), 2}, Want{"dmz", 0, 0, 3}}) {
        SCOPED_TRACE(want.port);
        const auto& q = queue_of(s, want.port);
        EXPECT_EQ(q.queue, 0);
        EXPECT_EQ(q.lcore, 1u);
        EXPECT_EQ(q.rx_packets, want.packets);
        EXPECT_EQ(q.rx_bytes, want.bytes);
        EXPECT_EQ(q.polls, 3u);
        EXPECT_EQ(q.empty_polls, want.empty_polls);
    }
    const auto& w = lcore_of(s, 1, "worker");
    EXPECT_EQ(w.polls, 3u * kNumPorts) << "the sum of its queues' polls";
    EXPECT_EQ(w.empty_polls, 7u);
    EXPECT_EQ(w.rx_packets, 5u);
    EXPECT_EQ(w.rx_bytes, total_size(lan) + total_size(wan));
}

// ---- Snapshot ------------------------------------------------------------------------

TEST_F(TelemetryTest, SnapshotDescribesTheGateway) {
    const uint64_t before = realtime_ns();
    auto s = snap();
    const uint64_t after = realtime_ns();
    EXPECT_GE(s.taken_ns, before);
    EXPECT_LE(s.taken_ns, after);
    EXPECT_EQ(s.started_ns, 0u) << "Dataplane::start() never ran: the fixture steps the workers";
    EXPECT_EQ(s.cleared_at_ns, 0u);
    EXPECT_EQ(s.tsc_hz, rte_get_tsc_hz());
    EXPECT_EQ(s.window_s, 10u);
    EXPECT_TRUE(s.latency_enabled);
    EXPECT_EQ(s.mbufs_total, 4095u) << "mempool mbufs 4095";
    EXPECT_EQ(s.mbufs_in_use, 0u);
    EXPECT_TRUE(s.sas.empty());
    EXPECT_TRUE(s.xdp.empty()) << "the caller adds XDP counters";

    ASSERT_EQ(s.ports.size(), kNumPorts);
    const std::vector<std::string> names = {"lan", "wan", "dmz"};
    const std::vector<std::string> macs = {"02:00:00:00:01:00", "02:00:00:00:02:00", "02:00:00:00:03:00"};
    const std::vector<uint16_t> mtus = {1500, 1500, kDmzMtu};
    for (uint16_t p = 0; p < kNumPorts; ++p) {
        SCOPED_TRACE(names[p]);
        EXPECT_EQ(s.ports[p].name, names[p]);
        EXPECT_EQ(s.ports[p].mac, macs[p]);
        EXPECT_EQ(s.ports[p].mtu, mtus[p]);
        EXPECT_EQ(s.ports[p].driver, "net_ring");
        EXPECT_EQ(s.ports[p].rx_queues, 1);
        EXPECT_EQ(s.ports[p].tx_queues, kTxSlots);
        EXPECT_EQ(s.ports[p].ipackets, 0u);
        EXPECT_EQ(s.ports[p].opackets, 0u);
    }

    ASSERT_EQ(s.lcores.size(), 2u);
    EXPECT_EQ(s.lcores[0].lcore, 1u);
    EXPECT_EQ(s.lcores[0].role, "worker");
    EXPECT_EQ(s.lcores[1].lcore, 0u);
    EXPECT_EQ(s.lcores[1].role, "control");
    for (const auto& l : s.lcores) {
        SCOPED_TRACE(l.role);
        ASSERT_EQ(l.drops.size(), dp::kNumDropReasons) << "every reason, zero or not";
        for (std::size_t r = 0; r < dp::kNumDropReasons; ++r) {
            EXPECT_EQ(l.drops[r].reason, dp::kDropReasonInfo[r].label) << "declaration order";
            EXPECT_EQ(l.drops[r].packets, 0u);
        }
    }
    EXPECT_EQ(s.lcores[0].drops.front().reason, "l2-truncated");
    EXPECT_EQ(s.lcores[0].drops.back().reason, "mbuf-alloc-failed");

    // One frame waiting on an rx ring is an mbuf in use; traffic shows in the port counters.
    inject(kLan, h_to_s());
    EXPECT_EQ(snap().mbufs_in_use, 1u);
    inject(kLan, h_to(ip4("203.0.113.1")));
    EXPECT_EQ(round(), 2);
    EXPECT_EQ(round(), 0);
    EXPECT_EQ(sent(kWan).size(), 1u);
    s = snap();
    EXPECT_EQ(s.mbufs_in_use, 0u);
    EXPECT_EQ(s.ports[kLan].ipackets, 2u);
    EXPECT_EQ(s.ports[kWan].opackets, 1u);  // (net_ring counts no bytes)
    const auto& w = lcore_of(s, 1, "worker");
    EXPECT_EQ(w.drops[static_cast<std::size_t>(DropReason::blackhole)].packets, 1u);
    EXPECT_EQ(w.rx_packets, 2u);
    EXPECT_EQ(w.tx_packets, 1u);
}

TEST_F(TelemetryTest, SnapshotAfterStopKeepsTheFinalPortCounters) {
    pass(kLan, h_to_s_burst(3));
    EXPECT_EQ(sent(kWan).size(), 3u);
    dataplane().stop();
    EXPECT_EQ(dataplane().collect_latency(), 0u) << "nothing to collect from a stopped data plane";
    const auto s = snap();
    EXPECT_EQ(s.ports[kLan].ipackets, 3u);
    EXPECT_EQ(s.ports[kWan].opackets, 3u);
    EXPECT_EQ(s.ports[kLan].driver, "") << "the ethdev is closed";
    EXPECT_EQ(lcore_of(s, 1, "worker").rx_packets, 3u);
}

// ---- clear counters ------------------------------------------------------------------

TEST_F(TelemetryTest, ClearCountersStartsEverythingFromZero) {
    pass(kLan, {h_to_s(1), h_to(kServer, 1), h_to(ip4("203.0.113.1"))});
    pass(kWan, {r_to_h(1)});
    EXPECT_EQ(sent(kWan).size(), 1u);
    EXPECT_EQ(sent(kLan).size(), 2u);
    collect();
    ASSERT_EQ(snap().latency.since_start.count, 3u);
    const auto raw = worker_counters();

    const uint64_t before = realtime_ns();
    dataplane().clear_counters();
    const uint64_t after = realtime_ns();
    auto s = snap();
    EXPECT_GE(s.cleared_at_ns, before);
    EXPECT_LE(s.cleared_at_ns, after);
    for (const auto& p : s.ports) {
        SCOPED_TRACE(p.name);
        EXPECT_EQ(p.ipackets, 0u);
        EXPECT_EQ(p.opackets, 0u);
        EXPECT_EQ(p.ibytes, 0u);
        EXPECT_EQ(p.obytes, 0u);
    }
    for (const auto& l : s.lcores) {
        SCOPED_TRACE(l.role);
        EXPECT_EQ(l.rx_packets, 0u);
        EXPECT_EQ(l.rx_bytes, 0u);
        EXPECT_EQ(l.tx_packets, 0u);
        EXPECT_EQ(l.tx_bytes, 0u);
        EXPECT_EQ(l.polls, 0u);
        EXPECT_EQ(l.empty_polls, 0u);
        EXPECT_EQ(l.busy_cycles, 0u);
        EXPECT_EQ(l.total_cycles, 0u);
        EXPECT_EQ(l.icmp_sent, 0u);
        for (const auto& d : l.drops) {
            EXPECT_EQ(d.packets, 0u) << d.reason;
        }
        for (const auto& st : l.stages) {
            EXPECT_EQ(st.calls, 0u) << st.name;
            EXPECT_EQ(st.packets, 0u) << st.name;
            EXPECT_EQ(st.cycles, 0u) << st.name;
        }
        expect_latency(l.latency, 0, 0);
    }
    for (const auto& q : s.queues) {
        SCOPED_TRACE(q.port);
        EXPECT_EQ(q.rx_packets, 0u);
        EXPECT_EQ(q.rx_bytes, 0u);
        EXPECT_EQ(q.polls, 0u);
        EXPECT_EQ(q.empty_polls, 0u);
        expect_latency(q.latency, 0, 0);
    }
    expect_latency(s.latency, 0, 0);
    EXPECT_EQ(worker_counters().rx_packets, raw.rx_packets) << "the data plane's own integers keep counting";

    // New traffic counts from zero.
    pass(kLan, {h_to_s(2), h_to(ip4("203.0.113.1"))});
    EXPECT_EQ(sent(kWan).size(), 1u);
    collect();
    s = snap();
    EXPECT_EQ(s.ports[kLan].ipackets, 2u);
    EXPECT_EQ(s.ports[kWan].opackets, 1u);
    const auto& w = lcore_of(s, 1, "worker");
    EXPECT_EQ(w.rx_packets, 2u);
    EXPECT_EQ(w.tx_packets, 1u);
    EXPECT_EQ(w.polls, 3u * kNumPorts) << "two rounds in pass(), one in collect()";
    EXPECT_EQ(w.drops[static_cast<std::size_t>(DropReason::blackhole)].packets, 1u);
    EXPECT_EQ(w.drops[static_cast<std::size_t>(DropReason::ttl_exceeded)].packets, 0u);
    EXPECT_EQ(w.stages[static_cast<std::size_t>(Stage::rx)].packets, 2u);
    EXPECT_EQ(w.stages[static_cast<std::size_t>(Stage::tx)].packets, 1u);
    EXPECT_EQ(queue_of(s, "lan").rx_packets, 2u);
    EXPECT_EQ(queue_of(s, "wan").rx_packets, 0u);
    expect_latency(s.latency, 1, 1);
}

// clear_counters() also forgets the samples still in the workers' buffers
// (recorded since the last collection): after it, latency counts only what
// was transmitted after it.
TEST_F(TelemetryTest, ClearCountersAlsoForgetsUncollectedSamples) {
    pass(kLan, h_to_s_burst(4));
    dataplane().clear_counters();
    pass(kLan, h_to_s_burst(1));
    EXPECT_EQ(sent(kWan).size(), 5u);
    collect();
    const auto s = snap();
    EXPECT_EQ(lcore_of(s, 1, "worker").tx_packets, 1u);
    expect_latency(s.latency, 1, 1);
}

// ---- telemetry latency off ---------------------------------------------------------

class TelemetryOffTest : public TelemetryTest {
protected:
    [[nodiscard]] TopologyOptions options() const override {
        return {.extra = std::string(kDrainEveryRound) + "telemetry latency off\n"};
    }
};

TEST_F(TelemetryOffTest, ForwardsButRecordsNoLatencyAndNoStages) {
    pass(kLan, {h_to_s(1), h_to_s(2), h_to(kServer, 1)});
    EXPECT_EQ(sent(kWan).size(), 2u);
    EXPECT_EQ(sent(kLan).size(), 1u) << "time exceeded";
    // A worker without telemetry never takes part in the recorder protocol.
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(dataplane().collect_latency(), 0u);
        EXPECT_EQ(round(), 0);
    }
    const auto s = snap();
    EXPECT_FALSE(s.latency_enabled);
    expect_latency(s.latency, 0, 0);
    const auto& w = lcore_of(s, 1, "worker");
    expect_latency(w.latency, 0, 0);
    ASSERT_EQ(w.stages.size(), dp::kNumStages);
    for (const auto& st : w.stages) {
        EXPECT_EQ(st.calls, 0u) << st.name;
        EXPECT_EQ(st.packets, 0u) << st.name;
        EXPECT_EQ(st.cycles, 0u) << st.name;
    }
    EXPECT_EQ(w.rx_packets, 3u);
    EXPECT_EQ(w.tx_packets, 3u);
    EXPECT_GT(w.busy_cycles, 0u) << "load is measured either way";
    EXPECT_GE(w.total_cycles, w.busy_cycles);
    const auto& lan = queue_of(s, "lan");
    EXPECT_EQ(lan.rx_packets, 3u) << "queue counters are kept either way";
    EXPECT_EQ(lan.polls, 5u);
    expect_latency(lan.latency, 0, 0);
}

// ---- Runtime changes: routes ---------------------------------------------------------

// The running configuration plus `lines`, parsed as the next configuration.
cp::Config next_config(const cp::Config& running, std::string_view lines) {
    const std::string text = cp::format_config(running) + std::string(lines);
    auto c = cp::parse_config(text, "next");
    if (!c) {
        ADD_FAILURE() << c.error().message << "\n" << text;
        return running;
    }
    return std::move(*c);
}

class TelemetryRuntimeTest : public DataplaneTest {};

TEST_F(TelemetryRuntimeTest, AddedRouteForwardsAndRemovedRouteDrops) {
    const uint32_t dst = ip4("100.64.3.7");
    const Ip6 dst6 = ip6("2001:db8:200::7");
    const Bytes v4 = h_to(dst);
    const Bytes v6 = ether(kLanMac, kHostMac, kEtherIp6, ipv6_udp({.src = kHost6, .dst = dst6}, 1, 2, pattern(16)));
    send(kLan, {v4, v6});
    EXPECT_TRUE(sent(kWan).empty());
    EXPECT_EQ(sent(kLan).size(), 2u) << "destination unreachable, v4 and v6";
    expect_only_drops(worker_counters(), DropReason::no_route, 2);

    const cp::Config original = dataplane().running_config();
    const cp::Config next =
        next_config(original, "route 100.64.0.0/16 via 192.0.2.253\nroute 2001:db8:200::/48 via 2001:db8:b::fe\n");
    ASSERT_EQ(next.routes.size(), original.routes.size() + 2);
    const dp::Fib* old_fib = &dataplane().tables().fib();
    ASSERT_TRUE(dataplane().apply_routes(next).has_value());
    EXPECT_NE(&dataplane().tables().fib(), old_fib) << "a new table was published";
    EXPECT_EQ(dataplane().running_config().routes, next.routes);

    send(kLan, {v4, v6});
    const auto out = sent(kWan);
    ASSERT_EQ(out.size(), 2u) << drops_to_string(worker_counters());
    EXPECT_EQ(get_mac(out[0], 0), kRouter2Mac) << "v4 via R2";
    EXPECT_EQ(get_mac(out[0], 6), kWanMac);
    EXPECT_EQ(get32(l3(out[0]), 16), dst);
    EXPECT_EQ(l3(out[0])[8], 63) << "TTL decremented";
    EXPECT_EQ(get_mac(out[1], 0), kRouterMac) << "v6 via R";
    EXPECT_EQ(get_mac(out[1], 6), kWanMac);
    EXPECT_EQ(get_ip6(l3(out[1]), 24), dst6);
    expect_only_drops(worker_counters(), DropReason::no_route, 2);

    ASSERT_TRUE(dataplane().apply_routes(original).has_value());
    EXPECT_EQ(dataplane().running_config().routes, original.routes);
    send(kLan, {v4, v6});
    EXPECT_TRUE(sent(kWan).empty());
    EXPECT_EQ(sent(kLan).size(), 2u);
    expect_only_drops(worker_counters(), DropReason::no_route, 4);
}

TEST_F(TelemetryRuntimeTest, ApplyRoutesReadsOnlyTheRoutes) {
    const cp::Config original = dataplane().running_config();
    cp::Config next = next_config(original, "route 100.64.0.0/16 via 192.0.2.253\n");
    next.telemetry.latency = false;
    next.dataplane.burst = 8;
    next.neighbors.clear();
    ASSERT_TRUE(dataplane().apply_routes(next).has_value());
    cp::Config want = original;
    want.routes = next.routes;
    EXPECT_EQ(dataplane().running_config(), want);
    send(kLan, h_to_s());
    EXPECT_EQ(sent(kWan).size(), 1u) << "static neighbors untouched";
}

// More /25 routes, each in its own /24, than the IPv4 LPM has tbl8 groups
// (1024): building the table fails, and the running one stays.
TEST_F(TelemetryRuntimeTest, RoutesThatCannotBeBuiltLeaveTheOldFib) {
    const cp::Config original = dataplane().running_config();
    cp::Config next = next_config(original, "route 100.64.0.0/16 via 192.0.2.253\n");
    for (unsigned i = 0; i < 1100; ++i) {
        next.routes.push_back(cp::RouteConfig{
            .prefix = *net::parse_prefix(fmt::format("10.{}.{}.0/25", 100 + i / 256, i % 256)),
            .via = net::parse_ip("192.0.2.254"),
            .port = kWan,
        });
    }
    const dp::Fib* old_fib = &dataplane().tables().fib();
    const auto st = dataplane().apply_routes(next);
    ASSERT_FALSE(st.has_value());
    // The ports' three /32 host routes took three groups: the 1022nd /25 finds none.
    EXPECT_EQ(st.error().message, "fib: cannot add route 10.103.253.0/25: No space left on device");
    EXPECT_EQ(&dataplane().tables().fib(), old_fib);
    EXPECT_EQ(dataplane().running_config(), original);

    send(kLan, {h_to_s(), h_to(ip4("198.51.100.9")), h_to(ip4("100.64.0.1"))});
    EXPECT_EQ(sent(kWan).size(), 2u) << "the old routes still work";
    EXPECT_EQ(sent(kLan).size(), 1u) << "and the new one never came";
    expect_only_drops(worker_counters(), DropReason::no_route);
}

// ---- Runtime changes: rx placement -----------------------------------------------------

TEST_F(TelemetryRuntimeTest, RxPlacementRefusesWhatDoesNotExist) {
    const cp::Config original = dataplane().running_config();
    auto err = [&](uint16_t port, uint16_t queue, unsigned lcore) {
        const auto st = dataplane().set_rx_placement(port, queue, lcore);
        return st ? std::string("success") : st.error().message;
    };
    EXPECT_EQ(err(kNumPorts, 0, 1), "rx-placement: no port 3");
    EXPECT_EQ(err(kDmz, 1, 1), "rx-placement: port 'dmz' has rx queues 0..0, not 1");
    EXPECT_EQ(err(kLan, 0, 0), "rx-placement: lcore 0 runs no worker") << "the control lcore";
    EXPECT_EQ(err(kLan, 0, 7), "rx-placement: lcore 7 runs no worker");
    EXPECT_EQ(dataplane().running_config(), original);
}

TEST_F(TelemetryRuntimeTest, RxPlacementOnTheCurrentWorkerChangesNothing) {
    const cp::Config original = dataplane().running_config();
    const dp::RxList* before = &dataplane().workers()[0]->rx_queues();
    ASSERT_TRUE(dataplane().set_rx_placement(kWan, 0, 1).has_value());
    EXPECT_EQ(&dataplane().workers()[0]->rx_queues(), before) << "no new list published";
    EXPECT_EQ(dataplane().running_config(), original);
    send(kWan, r_to_h());
    EXPECT_EQ(sent(kLan).size(), 1u);
}

// Two workers: the standard topology's on lcore 1 and one on lcore 0. The EAL
// of dataplane_test has lcores 0 and 1 only, and 0 is its main lcore, which a
// config's `worker` may not name unless `eal main-lcore` is elsewhere; the
// Dataplane checks only that the lcore is enabled, and the workers are never
// launched here. Round-robin placement gives lan:0 and dmz:0 to lcore 1, wan:0
// to lcore 0. Worker i transmits on tx queue i (the control thread shares
// queue 0 under a lock: the ring ports have two tx queues).
class TelemetryTwoWorkersTest : public TelemetryTest {
protected:
    [[nodiscard]] TopologyOptions options() const override {
        return {.extra = std::string(kDrainEveryRound) + "eal main-lcore 5\nworker 0\n"};
    }
    static constexpr std::size_t kFirst = 0;   // lcore 1
    static constexpr std::size_t kSecond = 1;  // lcore 0

    [[nodiscard]] std::vector<cp::RxQueueRef> polled_by(std::size_t w) {
        std::vector<cp::RxQueueRef> out;
        for (const auto& q : worker(w).rx_queues()) {
            out.push_back({.port = q.port, .queue = q.queue});
        }
        return out;
    }
};

TEST_F(TelemetryTwoWorkersTest, MovingAQueueMovesItsPacketsAndItsTelemetry) {
    ASSERT_EQ(dataplane().workers().size(), 2u);
    ASSERT_EQ(worker(kFirst).lcore(), 1u);
    ASSERT_EQ(worker(kSecond).lcore(), 0u);
    using Refs = std::vector<cp::RxQueueRef>;
    ASSERT_EQ(polled_by(kFirst), (Refs{{kLan, 0}, {kDmz, 0}}));
    ASSERT_EQ(polled_by(kSecond), (Refs{{kWan, 0}}));

    for (const auto& f : h_to_s_burst(2)) {
        inject(kLan, f);
    }
    EXPECT_EQ(round(kSecond), 0);
    EXPECT_EQ(round(kFirst), 2);
    EXPECT_EQ(round(kFirst), 0);
    EXPECT_EQ(sent(kWan, 0).size(), 2u);

    ASSERT_TRUE(dataplane().set_rx_placement(kLan, 0, 0).has_value());
    EXPECT_EQ(polled_by(kFirst), (Refs{{kDmz, 0}}));
    EXPECT_EQ(polled_by(kSecond), (Refs{{kWan, 0}, {kLan, 0}}));
    const auto& workers = dataplane().running_config().workers;
    ASSERT_EQ(workers.size(), 2u);
    EXPECT_EQ(workers[0].lcore, 1u);
    EXPECT_EQ(workers[0].rx_queues, (Refs{{kDmz, 0}}));
    EXPECT_EQ(workers[1].lcore, 0u);
    EXPECT_EQ(workers[1].rx_queues, (Refs{{kWan, 0}, {kLan, 0}}));

    for (const auto& f : h_to_s_burst(3)) {
        inject(kLan, f);
    }
    EXPECT_EQ(round(kFirst), 0) << "lcore 1 let go of lan:0";
    EXPECT_EQ(round(kSecond), 3);
    EXPECT_EQ(round(kSecond), 0);
    EXPECT_TRUE(sent(kWan, 0).empty());
    EXPECT_EQ(sent(kWan, 1).size(), 3u) << "lcore 0 transmits on its own tx queue";

    collect();
    auto s = snap();
    const auto& lan = queue_of(s, "lan");
    EXPECT_EQ(lan.lcore, 0u);
    EXPECT_EQ(lan.rx_packets, 5u) << "the queue's counters moved with it";
    expect_latency(lan.latency, 5, 5);
    EXPECT_EQ(queue_of(s, "dmz").lcore, 1u);
    EXPECT_EQ(lcore_of(s, 1, "worker").rx_packets, 2u);
    EXPECT_EQ(lcore_of(s, 0, "worker").rx_packets, 3u);
    expect_latency(lcore_of(s, 1, "worker").latency, 0, 0);
    expect_latency(lcore_of(s, 0, "worker").latency, 5, 5);

    // And back.
    ASSERT_TRUE(dataplane().set_rx_placement(kLan, 0, 1).has_value());
    EXPECT_EQ(polled_by(kFirst), (Refs{{kDmz, 0}, {kLan, 0}}));
    EXPECT_EQ(polled_by(kSecond), (Refs{{kWan, 0}}));
    inject(kLan, h_to_s());
    EXPECT_EQ(round(kSecond), 0);
    EXPECT_EQ(round(kFirst), 1);
    EXPECT_EQ(round(kFirst), 0);
    EXPECT_EQ(sent(kWan, 0).size(), 1u);
    collect();
    s = snap();
    EXPECT_EQ(queue_of(s, "lan").lcore, 1u);
    expect_latency(queue_of(s, "lan").latency, 6, 6);
}

// ---- IPsec: stages, latency through the tunnel, apply_ipsec ------------------------------

const PeerSa kPeerIn{.spi = 0x2001, .key_salt = kKey128b};

class TelemetryIpsecTest : public IpsecTest {
protected:
    [[nodiscard]] TopologyOptions options() const override {
        return {.extra = std::string(kDrainEveryRound) +
                         fmt::format("ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                                     "ipsec sa in1 in spi 0x2001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
                                     "ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n"
                                     "ipsec policy in priority 10 src 172.16.0.0/24 dst 10.0.0.0/24 protect in1\n",
                                     kKey128, kKey128b)};
    }
    uint16_t round() { return round_of(dataplane()); }
    void collect() { collect_all(dataplane()); }
};

TEST_F(TelemetryIpsecTest, EspStagesAndLatencyThroughTheTunnel) {
    for (uint8_t i = 0; i < 3; ++i) {
        inject(kLan, from_lan(udp_h_to_d(false, 100, false, i)));
    }
    EXPECT_EQ(round(), 3);
    auto c = worker_counters();
    EXPECT_EQ(stage(c, Stage::esp_encrypt).calls, 1u) << "one batch";
    EXPECT_EQ(stage(c, Stage::esp_encrypt).packets, 3u);
    EXPECT_GT(stage(c, Stage::esp_encrypt).cycles, 0u);
    EXPECT_EQ(stage(c, Stage::esp_decrypt).calls, 0u);
    EXPECT_EQ(round(), 0);
    const auto esp = sent(kWan);
    ASSERT_EQ(esp.size(), 3u) << drops_to_string(worker_counters());
    for (const auto& f : esp) {
        const auto e = parse_esp(f);
        ASSERT_TRUE(e.has_value());
        EXPECT_EQ(e->spi, 0x1001u);
    }

    for (uint64_t seq = 1; seq <= 2; ++seq) {
        inject(kWan, esp_from_peer(seal(kPeerIn, seq, EspPlain{.inner = udp_d_to_h(false, 60)}), false));
    }
    EXPECT_EQ(round(), 2);
    EXPECT_EQ(round(), 0);
    EXPECT_EQ(sent(kLan).size(), 2u) << drops_to_string(worker_counters());
    c = worker_counters();
    EXPECT_EQ(stage(c, Stage::esp_decrypt).calls, 1u);
    EXPECT_EQ(stage(c, Stage::esp_decrypt).packets, 2u);
    EXPECT_GT(stage(c, Stage::esp_decrypt).cycles, 0u);
    EXPECT_EQ(stage(c, Stage::rx).packets, 5u);
    EXPECT_EQ(stage(c, Stage::forward).packets, 5u);
    EXPECT_EQ(stage(c, Stage::tx).packets, 5u);
    expect_no_drops(c);

    collect();
    const auto s = dataplane().snapshot();
    expect_latency(queue_of(s, "lan").latency, 3, 3);
    expect_latency(queue_of(s, "wan").latency, 2, 2);
    expect_latency(s.latency, 5, 5);
    ASSERT_EQ(s.sas.size(), 2u);
    for (const auto& sa : s.sas) {
        SCOPED_TRACE(sa.name);
        EXPECT_EQ(sa.cipher, "aes-gcm-128");
        EXPECT_EQ(sa.local, "192.0.2.1");
        EXPECT_EQ(sa.remote, "192.0.2.10");
        EXPECT_FALSE(sa.esn);
        EXPECT_EQ(sa.replay_drops, 0u);
        EXPECT_EQ(sa.auth_drops, 0u);
        if (sa.name == "out1") {
            EXPECT_EQ(sa.spi, 0x1001u);
            EXPECT_EQ(sa.direction, "out");
            EXPECT_EQ(sa.packets, 3u);
            EXPECT_EQ(sa.seq, 3u) << "last sequence number used";
        } else {
            EXPECT_EQ(sa.name, "in1");
            EXPECT_EQ(sa.spi, 0x2001u);
            EXPECT_EQ(sa.direction, "in");
            EXPECT_EQ(sa.packets, 2u);
            EXPECT_EQ(sa.seq, 2u) << "highest seen";
        }
    }
}

class TelemetryApplyIpsecTest : public IpsecTest {};

TEST_F(TelemetryApplyIpsecTest, AppliedIpsecRunsAndIsRemembered) {
    const cp::Config original = dataplane().running_config();
    ASSERT_TRUE(original.sas.empty());
    const std::string sa = fmt::format(
        "ipsec sa out1 out spi 0x1001 aes-gcm-128 key {} tunnel 192.0.2.1 192.0.2.10\n"
        "ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/24 protect out1\n",
        kKey128);
    const cp::Config next = ipsec_config(sa);
    ASSERT_TRUE(dataplane().apply_ipsec(next, rte_rdtsc()).has_value());
    EXPECT_EQ(dataplane().running_config().sas, next.sas);
    EXPECT_EQ(dataplane().running_config().policies, next.policies);
    EXPECT_EQ(dataplane().running_config().ports, original.ports) << "only SAs and policies are taken";

    send(kLan, from_lan(udp_h_to_d(false, 60)));
    const auto f = one_esp_on_wan();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->spi, 0x1001u);
    auto s = dataplane().snapshot();
    ASSERT_EQ(s.sas.size(), 1u);
    EXPECT_EQ(s.sas[0].name, "out1");
    EXPECT_EQ(s.sas[0].packets, 1u);

    // A failed apply leaves the running configuration as it was.
    cp::Config bad = ipsec_config(sa);
    bad.sas[0].key.resize(24);  // a 20-byte AES key
    ASSERT_FALSE(dataplane().apply_ipsec(bad, rte_rdtsc()).has_value());
    EXPECT_EQ(dataplane().running_config().sas, next.sas);

    // Nothing configured: traffic in clear again.
    ASSERT_TRUE(dataplane().apply_ipsec(ipsec_config(""), rte_rdtsc()).has_value());
    EXPECT_TRUE(dataplane().running_config().sas.empty());
    EXPECT_TRUE(dataplane().running_config().policies.empty());
    send(kLan, from_lan(udp_h_to_d(false, 60)));
    EXPECT_EQ(sent(kDmz).size(), 1u);
    EXPECT_TRUE(dataplane().snapshot().sas.empty());
}

}  // namespace
}  // namespace gw::test
