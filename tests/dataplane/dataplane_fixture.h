#pragma once
// A real gw::dp::Dataplane on ports backed by rte_rings the test owns
// (rte_eth_from_rings), stepped by hand: the test enqueues frames on a port's
// rx ring, runs one Worker::poll_once round or one slow-path poll at a TSC
// value of its choosing, and dequeues what each port transmitted.
//
// Every test gets fresh rings, ports and data plane (unique names). TearDown
// fails the test when a frame was left untaken on any ring (an output the
// test did not expect) or when an mbuf is still in use after stop() (a leak).
//
// The standard topology (see kTopology in dataplane_fixture.cc):
//
//   host H 10.0.0.2 / 2001:db8:a::2 (static)         router R 192.0.2.254 / 2001:db8:b::fe (static)
//          |                                          router R2 192.0.2.253 / 2001:db8:b::fd (static)
//   lan 10.0.0.1/24, 2001:db8:a::1/64  [gw]  wan 192.0.2.1/24, 2001:db8:b::1/64
//                                       |    server S 192.0.2.10 / 2001:db8:b::10 (static)
//   dmz 172.16.0.1/24, 2001:db8:c::1/64, mtu 1280; host D 172.16.0.10 / 2001:db8:c::10 (static)
//
//   198.51.100.0/24 via R, 198.51.0.0/16 via R2, 2001:db8:100::/48 via R,
//   2001:db8:100:1::/64 via R2, 203.0.113.0/24 and 2001:db8:dead::/48 blackhole,
//   no default route.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/counters.h"
#include "dataplane/dataplane.h"
#include "dataplane/drop_reasons.h"
#include "tests/dataplane/packet_builder.h"

struct rte_mempool;
struct rte_ring;

namespace gw::test {

// Port indexes, in config order.
inline constexpr uint16_t kLan = 0;
inline constexpr uint16_t kWan = 1;
inline constexpr uint16_t kDmz = 2;
inline constexpr uint16_t kNumPorts = 3;
inline constexpr uint16_t kDmzMtu = 1280;

// Tx queue slots (Dataplane::create's assign_tx): worker 0 transmits on
// queue 0, the control thread on queue 1; each queue is its own ring here.
inline constexpr unsigned kWorkerSlot = 0;
inline constexpr unsigned kControlSlot = 1;
inline constexpr unsigned kTxSlots = 2;

// The gateway's addresses.
inline const uint32_t kLanIp = ip4("10.0.0.1");
inline const uint32_t kWanIp = ip4("192.0.2.1");
inline const uint32_t kDmzIp = ip4("172.16.0.1");
inline const Ip6 kLanIp6 = ip6("2001:db8:a::1");
inline const Ip6 kWanIp6 = ip6("2001:db8:b::1");
inline const Ip6 kDmzIp6 = ip6("2001:db8:c::1");
// Port MACs (set on the ring ethdevs before the data plane starts).
inline const Mac kLanMac = mac("02:00:00:00:01:00");
inline const Mac kWanMac = mac("02:00:00:00:02:00");
inline const Mac kDmzMac = mac("02:00:00:00:03:00");
// Neighbors with static entries.
inline const uint32_t kHost = ip4("10.0.0.2");
inline const Ip6 kHost6 = ip6("2001:db8:a::2");
inline const Mac kHostMac = mac("02:00:00:00:0a:02");
inline const uint32_t kRouter = ip4("192.0.2.254");
inline const Ip6 kRouter6 = ip6("2001:db8:b::fe");
inline const Mac kRouterMac = mac("02:00:00:00:0b:fe");
inline const uint32_t kRouter2 = ip4("192.0.2.253");
inline const Ip6 kRouter26 = ip6("2001:db8:b::fd");
inline const Mac kRouter2Mac = mac("02:00:00:00:0b:fd");
inline const uint32_t kServer = ip4("192.0.2.10");
inline const Ip6 kServer6 = ip6("2001:db8:b::10");
inline const Mac kServerMac = mac("02:00:00:00:0b:10");
inline const uint32_t kDmzHost = ip4("172.16.0.10");
inline const Ip6 kDmzHost6 = ip6("2001:db8:c::10");
inline const Mac kDmzHostMac = mac("02:00:00:00:0c:10");

[[nodiscard]] Mac port_mac(uint16_t port);

// An ethdev whose rx queue 0 and tx queues 0..1 are rings owned by the test.
class RingPort {
public:
    // `tag` must be unique in the process; the ethdev is "net_ring_<tag>".
    // Returns nullptr (with a gtest failure) when DPDK refuses.
    [[nodiscard]] static std::unique_ptr<RingPort> create(const std::string& tag, const Mac& mac);
    ~RingPort();
    RingPort(const RingPort&) = delete;
    RingPort& operator=(const RingPort&) = delete;

    [[nodiscard]] const std::string& devargs() const noexcept { return devargs_; }
    [[nodiscard]] uint16_t port_id() const noexcept { return port_id_; }
    [[nodiscard]] rte_ring* rx() const noexcept { return rx_; }
    [[nodiscard]] rte_ring* tx(unsigned slot) const noexcept { return tx_[slot]; }

private:
    RingPort() = default;

    std::string devargs_;
    uint16_t port_id_ = 0;
    rte_ring* rx_ = nullptr;
    std::array<rte_ring*, kTxSlots> tx_{};
};

struct TopologyOptions {
    uint32_t icmp_rate_pps = 1000000;  // large enough that tests never hit it by accident
    std::string extra{};               // config lines appended to the standard topology
};

// Readable list of the non-zero drop counters ("no-route=1 ttl-exceeded=2").
[[nodiscard]] std::string drops_to_string(const dp::LcoreCounters& c);

class DataplaneTest : public ::testing::Test {
protected:
    // Derived fixtures override to change the topology.
    [[nodiscard]] virtual TopologyOptions options() const { return {}; }

    void SetUp() override;
    void TearDown() override;

    // Copies `frame` into an mbuf of the data plane's pool and queues it on port `port`'s rx ring.
    void inject(uint16_t port, std::span<const uint8_t> frame);
    // One round of the first worker over its rx queues, then a tx flush (outside
    // the round, so the packets it sends record no latency). Returns the packets received.
    uint16_t poll_worker();
    // Injects the frames on `port` (one burst) and runs one worker round.
    void send(uint16_t port, const std::vector<Bytes>& frames);
    void send(uint16_t port, const Bytes& frame) { send(port, std::vector<Bytes>{frame}); }
    // One round of the control thread's slow path at `now_tsc`.
    unsigned poll_control(uint64_t now_tsc);
    // Everything `port` transmitted on tx queue `slot` since the last call (copied; the mbufs are freed).
    [[nodiscard]] std::vector<Bytes> sent(uint16_t port, unsigned slot = kWorkerSlot);
    // Fails the test if any port transmitted anything on any slot (and consumes it).
    void expect_nothing_sent(const char* why);

    [[nodiscard]] dp::LcoreCounters worker_counters() const;
    [[nodiscard]] dp::LcoreCounters control_counters() const;

    [[nodiscard]] dp::Dataplane& dataplane() { return *dp_; }
    // The ring behind tx queue `slot` of port `port` (to fill it up, for limit tests).
    [[nodiscard]] rte_ring* tx_ring(uint16_t port, unsigned slot) const { return ports_[port]->tx(slot); }
    [[nodiscard]] rte_mempool* pool() const noexcept { return pool_; }
    [[nodiscard]] uint64_t tsc_hz() const noexcept { return tsc_hz_; }

private:
    std::vector<std::unique_ptr<RingPort>> ports_;
    std::unique_ptr<dp::Dataplane> dp_;
    rte_mempool* pool_ = nullptr;
    uint64_t tsc_hz_ = 0;
};

// Checks that `c` counted exactly `n` drops, all of them for `reason`.
void expect_only_drops(const dp::LcoreCounters& c, dp::DropReason reason, uint64_t n = 1);
void expect_no_drops(const dp::LcoreCounters& c);

}  // namespace gw::test
