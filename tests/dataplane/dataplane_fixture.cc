#include "tests/dataplane/dataplane_fixture.h"

#include <cstring>

#include <fmt/core.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "controlplane/config.h"
#include "dataplane/forward.h"

namespace gw::test {
namespace {

constexpr unsigned kRingSize = 1024;

// Ring, ethdev and data plane names must be unique while they exist; a
// counter keeps every test's names apart.
unsigned next_serial() {
    static unsigned serial = 0;
    return serial++;
}

// {lan}, {wan}, {dmz}: devargs; {rate}: ICMP errors per second.
constexpr std::string_view kTopology = R"(
mempool mbufs 4095 cache 32
dataplane burst 32 drain-us 100 icmp-rate {rate}
port lan dev {lan}
port lan address 10.0.0.1/24
port lan address 2001:db8:a::1/64
port wan dev {wan}
port wan address 192.0.2.1/24
port wan address 2001:db8:b::1/64
port dmz dev {dmz} mtu 1280
port dmz address 172.16.0.1/24
port dmz address 2001:db8:c::1/64
worker 1
route 198.51.100.0/24 via 192.0.2.254
route 198.51.0.0/16 via 192.0.2.253
route 2001:db8:100::/48 via 2001:db8:b::fe
route 2001:db8:100:1::/64 via 2001:db8:b::fd
route 203.0.113.0/24 blackhole
route 2001:db8:dead::/48 blackhole
neighbor lan 10.0.0.2 02:00:00:00:0a:02
neighbor lan 2001:db8:a::2 02:00:00:00:0a:02
neighbor wan 192.0.2.254 02:00:00:00:0b:fe
neighbor wan 2001:db8:b::fe 02:00:00:00:0b:fe
neighbor wan 192.0.2.253 02:00:00:00:0b:fd
neighbor wan 2001:db8:b::fd 02:00:00:00:0b:fd
neighbor wan 192.0.2.10 02:00:00:00:0b:10
neighbor wan 2001:db8:b::10 02:00:00:00:0b:10
neighbor dmz 172.16.0.10 02:00:00:00:0c:10
neighbor dmz 2001:db8:c::10 02:00:00:00:0c:10
)";

constexpr std::array<const char*, kNumPorts> kPortNames = {"lan", "wan", "dmz"};

std::vector<rte_mbuf*> drain(rte_ring* r) {
    std::vector<rte_mbuf*> out;
    void* obj = nullptr;
    while (rte_ring_dequeue(r, &obj) == 0) {
        out.push_back(static_cast<rte_mbuf*>(obj));
    }
    return out;
}

Bytes copy_out(const rte_mbuf* m) {
    Bytes b;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
        const auto* p = rte_pktmbuf_mtod(s, const uint8_t*);
        b.insert(b.end(), p, p + s->data_len);
    }
    return b;
}

}  // namespace

Mac port_mac(uint16_t port) {
    switch (port) {
        case kLan:
            return kLanMac;
        case kWan:
            return kWanMac;
        default:
            return kDmzMac;
    }
}

std::string drops_to_string(const dp::LcoreCounters& c) {
    std::string s;
    for (std::size_t i = 0; i < dp::kNumDropReasons; ++i) {
        if (c.drops[i] != 0) {
            s += fmt::format("{}{}={}", s.empty() ? "" : " ", dp::kDropReasonInfo[i].label, c.drops[i]);
        }
    }
    return s.empty() ? "none" : s;
}

void expect_only_drops(const dp::LcoreCounters& c, dp::DropReason reason, uint64_t n) {
    EXPECT_EQ(c.dropped(reason), n) << "drops: " << drops_to_string(c);
    EXPECT_EQ(c.total_drops(), n) << "drops: " << drops_to_string(c);
}

void expect_no_drops(const dp::LcoreCounters& c) {
    EXPECT_EQ(c.total_drops(), 0u) << "drops: " << drops_to_string(c);
}

// ---- RingPort ----------------------------------------------------------------

std::unique_ptr<RingPort> RingPort::create(const std::string& tag, const Mac& mac) {
    std::unique_ptr<RingPort> p(new RingPort());
    p->rx_ = rte_ring_create((tag + "_rx").c_str(), kRingSize, SOCKET_ID_ANY, 0);
    for (unsigned i = 0; i < kTxSlots; ++i) {
        p->tx_[i] = rte_ring_create((tag + "_tx" + std::to_string(i)).c_str(), kRingSize, SOCKET_ID_ANY, 0);
    }
    if (p->rx_ == nullptr || p->tx_[0] == nullptr || p->tx_[1] == nullptr) {
        ADD_FAILURE() << "rte_ring_create for " << tag << ": " << rte_strerror(rte_errno);
        return nullptr;
    }
    const int id = rte_eth_from_rings(tag.c_str(), &p->rx_, 1, p->tx_.data(), kTxSlots, 0);
    if (id < 0) {
        ADD_FAILURE() << "rte_eth_from_rings " << tag << ": " << rte_strerror(rte_errno);
        return nullptr;
    }
    p->port_id_ = static_cast<uint16_t>(id);
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(p->port_id_, name) != 0) {
        ADD_FAILURE() << "no name for ethdev " << id;
        return nullptr;
    }
    p->devargs_ = name;  // probe_port() finds the ethdev by this name and does not probe again
    // The ring PMD starts with an all-zero MAC and has no mac_addr_set (so no
    // `mac` in the config); rte_eth_dev_mac_addr_add fills the first all-zero
    // slot of the address array, which is the default address.
    rte_ether_addr addr;
    std::memcpy(addr.addr_bytes, mac.data(), mac.size());
    if (int rc = rte_eth_dev_mac_addr_add(p->port_id_, &addr, 0); rc != 0) {
        ADD_FAILURE() << "rte_eth_dev_mac_addr_add " << tag << ": " << rte_strerror(-rc);
        return nullptr;
    }
    return p;
}

RingPort::~RingPort() {
    // The data plane closed the ethdev; the vdev stays until removed. The
    // rings are ours: the ring PMD never frees rings it was given.
    if (!devargs_.empty()) {
        rte_eal_hotplug_remove("vdev", devargs_.c_str());
    }
    rte_ring_free(rx_);
    for (auto* r : tx_) {
        rte_ring_free(r);
    }
}

// ---- DataplaneTest -------------------------------------------------------------

void DataplaneTest::SetUp() {
    tsc_hz_ = rte_get_tsc_hz();
    const unsigned serial = next_serial();
    std::array<std::string, kNumPorts> devargs;
    for (uint16_t i = 0; i < kNumPorts; ++i) {
        auto port = RingPort::create(fmt::format("gwt{}{}", serial, kPortNames[i]), port_mac(i));
        ASSERT_NE(port, nullptr);
        devargs[i] = port->devargs();
        ports_.push_back(std::move(port));
    }
    const TopologyOptions opts = options();
    std::string text =
        fmt::format(fmt::runtime(kTopology), fmt::arg("lan", devargs[kLan]), fmt::arg("wan", devargs[kWan]),
                    fmt::arg("dmz", devargs[kDmz]), fmt::arg("rate", opts.icmp_rate_pps));
    text += opts.extra;
    auto config = cp::parse_config(text, "test");
    ASSERT_TRUE(config.has_value()) << config.error().message << "\n" << text;
    auto dp = dp::Dataplane::create(*config);
    ASSERT_TRUE(dp.has_value()) << dp.error().message;
    dp_ = std::move(*dp);
    ASSERT_FALSE(dp_->workers().empty());  // the standard topology has one; `extra` may add more
    pool_ = rte_mempool_lookup("gw_mbuf_s0");
    ASSERT_NE(pool_, nullptr);
    for (uint16_t i = 0; i < kNumPorts; ++i) {
        Mac m{};
        std::memcpy(m.data(), dp_->tables().ports[i].mac.addr_bytes, m.size());
        ASSERT_EQ(m, port_mac(i)) << "port " << kPortNames[i] << ": MAC not applied";
    }
}

void DataplaneTest::TearDown() {
    if (dp_) {
        for (uint16_t p = 0; p < ports_.size(); ++p) {
            EXPECT_EQ(rte_ring_count(ports_[p]->rx()), 0u) << kPortNames[p] << ": frames left unreceived";
        }
        expect_nothing_sent("left untaken at the end of the test");
        dp_->stop();
        expect_nothing_sent("sent while stopping");
        EXPECT_EQ(dp_->mbufs_in_use(), 0u) << "mbuf leak";
        dp_.reset();  // frees gw_mbuf_s0 and gw_punt before the next test creates them
    }
    for (auto& p : ports_) {
        for (auto* m : drain(p->rx())) {
            rte_pktmbuf_free(m);
        }
    }
    ports_.clear();
}

void DataplaneTest::inject(uint16_t port, std::span<const uint8_t> frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    ASSERT_NE(data, nullptr) << "frame of " << frame.size() << " bytes does not fit an mbuf";
    if (!frame.empty()) {
        std::memcpy(data, frame.data(), frame.size());
    }
    m->port = ports_[port]->port_id();
    ASSERT_EQ(rte_ring_enqueue(ports_[port]->rx(), m), 0);
}

uint16_t DataplaneTest::poll_worker() {
    auto& w = *dp_->workers()[0];
    const uint16_t n = w.poll_once(rte_rdtsc());
    dp::flush_tx(w.context());
    return n;
}

void DataplaneTest::send(uint16_t port, const std::vector<Bytes>& frames) {
    for (const auto& f : frames) {
        inject(port, f);
    }
    EXPECT_EQ(poll_worker(), frames.size());
}

unsigned DataplaneTest::poll_control(uint64_t now_tsc) {
    return dp_->poll_control(now_tsc);
}

std::vector<Bytes> DataplaneTest::sent(uint16_t port, unsigned slot) {
    std::vector<Bytes> out;
    for (auto* m : drain(ports_[port]->tx(slot))) {
        out.push_back(copy_out(m));
        rte_pktmbuf_free(m);
    }
    return out;
}

void DataplaneTest::expect_nothing_sent(const char* why) {
    for (uint16_t p = 0; p < ports_.size(); ++p) {
        for (unsigned s = 0; s < kTxSlots; ++s) {
            for (const auto& f : sent(p, s)) {
                ADD_FAILURE() << "unexpected frame on " << kPortNames[p] << " tx queue " << s << " (" << why << "):\n"
                              << hex(f);
            }
        }
    }
}

dp::LcoreCounters DataplaneTest::worker_counters() const {
    for (const auto& s : dp_->lcore_stats()) {
        if (!s.is_control) {
            return s.counters;
        }
    }
    ADD_FAILURE() << "no worker in lcore_stats()";
    return {};
}

dp::LcoreCounters DataplaneTest::control_counters() const {
    for (const auto& s : dp_->lcore_stats()) {
        if (s.is_control) {
            return s.counters;
        }
    }
    ADD_FAILURE() << "no control thread in lcore_stats()";
    return {};
}

}  // namespace gw::test
