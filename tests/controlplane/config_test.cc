// Config grammar: a full good file field by field, defaults, every error
// class with its line number, rx-queue placement, route port inference,
// IPv6, load_config, and parse(format(c)) == c; the telemetry and control
// statements with control_socket_path().

#include "controlplane/config.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gw::cp {
namespace {

constexpr std::string_view kSource = "gw.conf";

Config must_parse(std::string_view text) {
    auto config = parse_config(text, kSource);
    if (!config) {
        ADD_FAILURE() << "unexpected error: " << config.error().message << "\nin:\n" << text;
        return {};
    }
    return std::move(*config);
}

// The message of the error that parsing `text` must produce.
std::string must_fail(std::string_view text) {
    auto config = parse_config(text, kSource);
    if (config) {
        ADD_FAILURE() << "parsed, expected an error:\n" << text;
        return {};
    }
    return config.error().message;
}

net::IpAddr ip(std::string_view s) {
    return *net::parse_ip(s);
}
net::IpPrefix prefix(std::string_view s) {
    return *net::parse_prefix(s);
}
net::MacAddr mac(std::string_view s) {
    return *net::parse_mac(s);
}

constexpr std::string_view kFull = R"(# A bare-metal gateway: LAN and WAN on one dual-port NIC.
eal main-lcore 1
eal file-prefix gw-a
eal no-huge
eal in-memory
eal memory 2048
eal arg --log-level=pmd.net.*:debug
eal arg --no-telemetry

mempool mbufs 65536 cache 128
mempool data-room 4096          # jumbo-ish buffers; mbufs and cache stay as set above
dataplane burst 16 drain-us 50
dataplane idle-sleep-us 10 icmp-rate 500

port lan dev 0000:3b:00.0 rxq 2 rx-desc 2048 tx-desc 512 mtu 9000
port lan address 10.0.0.1/24
port lan address 2001:db8:a::1/64
port wan dev 3b:00.1 promisc off mac 02:00:00:00:00:02 rxq 2
port wan address 192.0.2.2/30
port wan address 2001:db8:ffff::2/126
port tap dev net_tap0,iface=gw0 rx-desc 64 tx-desc 16384

worker 2 poll lan:0 wan:1
worker 3

route 0.0.0.0/0 via 192.0.2.1
route ::/0 via 2001:db8:ffff::1 port wan
route 10.10.0.0/16 via 10.0.0.254 port lan
route 172.16.0.0/12 port lan
route 198.51.100.0/24 blackhole
route 2001:db8:b::/48 via fe80::1 port wan

neighbor wan 192.0.2.1 02:00:00:00:00:01
neighbor lan 2001:db8:a::10 02:00:00:00:0a:10
neighbor wan fe80::1 02:00:00:00:00:01
)";

TEST(ConfigTest, FullConfigSetsEveryField) {
    const Config c = must_parse(kFull);

    EXPECT_EQ(c.eal.main_lcore, 1u);
    EXPECT_EQ(c.eal.file_prefix, "gw-a");
    EXPECT_TRUE(c.eal.no_huge);
    EXPECT_TRUE(c.eal.in_memory);
    EXPECT_EQ(c.eal.memory_mb, 2048u);
    EXPECT_EQ(c.eal.extra_args, (std::vector<std::string>{"--log-level=pmd.net.*:debug", "--no-telemetry"}));

    EXPECT_EQ(c.mempool.mbufs, 65536u);
    EXPECT_EQ(c.mempool.cache, 128u);
    EXPECT_EQ(c.mempool.data_room, 4096);

    EXPECT_EQ(c.dataplane.burst, 16);
    EXPECT_EQ(c.dataplane.drain_us, 50u);
    EXPECT_EQ(c.dataplane.idle_sleep_us, 10u);
    EXPECT_EQ(c.dataplane.icmp_rate_pps, 500u);

    ASSERT_EQ(c.ports.size(), 3u);
    const auto& lan = c.ports[0];
    EXPECT_EQ(lan.name, "lan");
    EXPECT_EQ(lan.devargs, "0000:3b:00.0");
    EXPECT_EQ(lan.rx_queues, 2);
    EXPECT_EQ(lan.rx_desc, 2048);
    EXPECT_EQ(lan.tx_desc, 512);
    EXPECT_EQ(lan.mtu, 9000);
    EXPECT_TRUE(lan.promiscuous);
    EXPECT_FALSE(lan.mac.has_value());
    EXPECT_EQ(lan.addresses, (std::vector<InterfaceAddress>{{ip("10.0.0.1"), 24}, {ip("2001:db8:a::1"), 64}}));
    EXPECT_EQ(lan.line, 15);

    const auto& wan = c.ports[1];
    EXPECT_EQ(wan.name, "wan");
    EXPECT_EQ(wan.devargs, "3b:00.1");
    EXPECT_EQ(wan.rx_queues, 2);
    EXPECT_EQ(wan.rx_desc, 1024);
    EXPECT_EQ(wan.tx_desc, 1024);
    EXPECT_EQ(wan.mtu, 1500);
    EXPECT_FALSE(wan.promiscuous);
    EXPECT_EQ(wan.mac, mac("02:00:00:00:00:02"));
    EXPECT_EQ(wan.addresses, (std::vector<InterfaceAddress>{{ip("192.0.2.2"), 30}, {ip("2001:db8:ffff::2"), 126}}));
    EXPECT_EQ(wan.line, 18);

    const auto& tap = c.ports[2];
    EXPECT_EQ(tap.devargs, "net_tap0,iface=gw0");
    EXPECT_EQ(tap.rx_queues, 1);
    EXPECT_EQ(tap.rx_desc, 64);
    EXPECT_EQ(tap.tx_desc, 16384);
    EXPECT_TRUE(tap.addresses.empty());

    // Explicit polls first; then lan:1, wan:0, tap:0 round-robin from the first worker.
    ASSERT_EQ(c.workers.size(), 2u);
    EXPECT_EQ(c.workers[0].lcore, 2u);
    EXPECT_EQ(c.workers[0].line, 23);
    EXPECT_EQ(c.workers[0].rx_queues, (std::vector<RxQueueRef>{{0, 0}, {1, 1}, {0, 1}, {2, 0}}));
    EXPECT_EQ(c.workers[1].lcore, 3u);
    EXPECT_EQ(c.workers[1].line, 24);
    EXPECT_EQ(c.workers[1].rx_queues, (std::vector<RxQueueRef>{{1, 0}}));

    ASSERT_EQ(c.routes.size(), 6u);
    EXPECT_EQ(c.routes[0].prefix, prefix("0.0.0.0/0"));
    EXPECT_EQ(c.routes[0].via, ip("192.0.2.1"));
    EXPECT_EQ(c.routes[0].port, 1);  // inferred from wan's 192.0.2.0/30
    EXPECT_FALSE(c.routes[0].blackhole);
    EXPECT_EQ(c.routes[0].line, 26);
    EXPECT_EQ(c.routes[1].prefix, prefix("::/0"));
    EXPECT_EQ(c.routes[1].via, ip("2001:db8:ffff::1"));
    EXPECT_EQ(c.routes[1].port, 1);
    EXPECT_EQ(c.routes[2].prefix, prefix("10.10.0.0/16"));
    EXPECT_EQ(c.routes[2].port, 0);
    EXPECT_EQ(c.routes[3].prefix, prefix("172.16.0.0/12"));
    EXPECT_FALSE(c.routes[3].via.has_value());
    EXPECT_EQ(c.routes[3].port, 0);
    EXPECT_FALSE(c.routes[3].blackhole);
    EXPECT_EQ(c.routes[4].prefix, prefix("198.51.100.0/24"));
    EXPECT_TRUE(c.routes[4].blackhole);
    EXPECT_FALSE(c.routes[4].via.has_value());
    EXPECT_EQ(c.routes[5].via, ip("fe80::1"));
    EXPECT_EQ(c.routes[5].port, 1);
    EXPECT_EQ(c.routes[5].line, 31);

    ASSERT_EQ(c.neighbors.size(), 3u);
    EXPECT_EQ(c.neighbors[0].port, 1);
    EXPECT_EQ(c.neighbors[0].addr, ip("192.0.2.1"));
    EXPECT_EQ(c.neighbors[0].mac, mac("02:00:00:00:00:01"));
    EXPECT_EQ(c.neighbors[0].line, 33);
    EXPECT_EQ(c.neighbors[1].port, 0);
    EXPECT_EQ(c.neighbors[1].addr, ip("2001:db8:a::10"));
    EXPECT_EQ(c.neighbors[2].addr, ip("fe80::1"));

    EXPECT_EQ(c.find_port("lan"), 0);
    EXPECT_EQ(c.find_port("wan"), 1);
    EXPECT_EQ(c.find_port("tap"), 2);
    EXPECT_EQ(c.find_port("dmz"), std::nullopt);
    EXPECT_EQ(c.find_port(""), std::nullopt);
}

TEST(ConfigTest, EmptyAndCommentOnlyTextGiveDefaults) {
    const Config defaults;
    EXPECT_EQ(must_parse(""), defaults);
    EXPECT_EQ(must_parse("\n\n"), defaults);
    EXPECT_EQ(must_parse("# nothing here\n   \t\n# eal no-huge\n"), defaults);
    EXPECT_EQ(defaults.eal.main_lcore, 0u);
    EXPECT_EQ(defaults.eal.file_prefix, "gatewayd");
    EXPECT_EQ(defaults.mempool.mbufs, 0u);
    EXPECT_EQ(defaults.dataplane.burst, 32);
}

TEST(ConfigTest, PortDefaults) {
    const Config c = must_parse("port p0 dev net_null0\nworker 1\n");
    ASSERT_EQ(c.ports.size(), 1u);
    EXPECT_EQ(c.ports[0].rx_queues, 1);
    EXPECT_EQ(c.ports[0].rx_desc, 1024);
    EXPECT_EQ(c.ports[0].tx_desc, 1024);
    EXPECT_EQ(c.ports[0].mtu, 1500);
    EXPECT_TRUE(c.ports[0].promiscuous);
    EXPECT_FALSE(c.ports[0].mac.has_value());
    EXPECT_EQ(c.workers[0].rx_queues, (std::vector<RxQueueRef>{{0, 0}}));
}

TEST(ConfigTest, CommentsBlankLinesTabsAndCrlf) {
    const Config c = must_parse(
        "\n"
        "   # indented comment\n"
        "\teal\tmain-lcore\t3   # trailing comment\r\n"
        "port\t lan \tdev net_memif0,role=server,socket=/run/gw.sock#no space before comment\r\n"
        "port lan address 10.0.0.1/24#x\n"
        "worker 4\t\n"
        "\r\n"
        "  \t  \n");
    EXPECT_EQ(c.eal.main_lcore, 3u);
    ASSERT_EQ(c.ports.size(), 1u);
    EXPECT_EQ(c.ports[0].devargs, "net_memif0,role=server,socket=/run/gw.sock");
    EXPECT_EQ(c.ports[0].line, 4);
    EXPECT_EQ(c.ports[0].addresses.size(), 1u);
    EXPECT_EQ(c.workers[0].line, 6);
}

TEST(ConfigTest, RepeatedMempoolAndDataplaneStatementsOverrideOnlyGivenFields) {
    const Config c = must_parse(
        "mempool cache 64 mbufs 8192\n"
        "mempool data-room 9216\n"
        "mempool mbufs auto\n"
        "dataplane burst 8\n"
        "dataplane icmp-rate 0 burst 64\n");
    EXPECT_EQ(c.mempool.mbufs, 0u);
    EXPECT_EQ(c.mempool.cache, 64u);
    EXPECT_EQ(c.mempool.data_room, 9216);
    EXPECT_EQ(c.dataplane.burst, 64);
    EXPECT_EQ(c.dataplane.icmp_rate_pps, 0u);
    EXPECT_EQ(c.dataplane.drain_us, 100u);
}

TEST(ConfigTest, RangeLimitsAreInclusive) {
    const Config c = must_parse(
        "eal main-lcore 127\n"
        "mempool cache 0 data-room 65535 mbufs 1024\n"
        "dataplane burst 1 drain-us 100000 idle-sleep-us 0 icmp-rate 1000000\n"
        "port a dev net_null0 rxq 64 rx-desc 16384 tx-desc 64 mtu 68\n"
        "port b dev net_null1 rxq 1 mtu 9600\n"
        "worker 0\n");
    EXPECT_EQ(c.eal.main_lcore, 127u);
    EXPECT_EQ(c.ports[0].rx_queues, 64);
    EXPECT_EQ(c.workers[0].rx_queues.size(), 65u);
}

TEST(ConfigTest, UnplacedQueuesGoRoundRobinAfterExplicitPolls) {
    const Config c = must_parse(
        "port lan dev net_null0 rxq 3\n"
        "port wan dev net_null1 rxq 2\n"
        "worker 1 poll wan:1\n"
        "worker 2\n"
        "worker 3\n");
    ASSERT_EQ(c.workers.size(), 3u);
    // Unplaced, in order: lan:0 lan:1 lan:2 wan:0.
    EXPECT_EQ(c.workers[0].rx_queues, (std::vector<RxQueueRef>{{1, 1}, {0, 0}, {1, 0}}));
    EXPECT_EQ(c.workers[1].rx_queues, (std::vector<RxQueueRef>{{0, 1}}));
    EXPECT_EQ(c.workers[2].rx_queues, (std::vector<RxQueueRef>{{0, 2}}));
}

TEST(ConfigTest, SpareWorkersMayPollNothing) {
    const Config c = must_parse("port a dev net_null0 rxq 2\nworker 1\nworker 2\nworker 3\n");
    EXPECT_EQ(c.workers[0].rx_queues, (std::vector<RxQueueRef>{{0, 0}}));
    EXPECT_EQ(c.workers[1].rx_queues, (std::vector<RxQueueRef>{{0, 1}}));
    EXPECT_TRUE(c.workers[2].rx_queues.empty());
}

TEST(ConfigTest, FullyPlacedQueuesAreLeftAlone) {
    const Config c = must_parse("port a dev net_null0 rxq 2\nworker 1 poll a:1 a:0\nworker 2\n");
    EXPECT_EQ(c.workers[0].rx_queues, (std::vector<RxQueueRef>{{0, 1}, {0, 0}}));
    EXPECT_TRUE(c.workers[1].rx_queues.empty());
}

TEST(ConfigTest, WorkersWithoutPortsAreValid) {
    const Config c = must_parse("worker 1\nworker 2\n");
    EXPECT_EQ(c.workers.size(), 2u);
}

TEST(ConfigTest, RoutePortInferredFromMostSpecificSubnet) {
    const Config c = must_parse(
        "port a dev net_null0\n"
        "port a address 10.0.0.1/8\n"
        "port a address 2001:db8::1/32\n"
        "port b dev net_null1\n"
        "port b address 10.1.0.1/16\n"
        "port b address 2001:db8:1::1/48\n"
        "worker 1\n"
        "route 192.168.0.0/16 via 10.2.0.9\n"
        "route 192.168.1.0/24 via 10.1.0.9\n"
        "route 2001:db8:100::/40 via 2001:db8:2::9\n"
        "route 2001:db8:200::/40 via 2001:db8:1::9\n");
    ASSERT_EQ(c.routes.size(), 4u);
    EXPECT_EQ(c.routes[0].port, 0);
    EXPECT_EQ(c.routes[1].port, 1);
    EXPECT_EQ(c.routes[2].port, 0);
    EXPECT_EQ(c.routes[3].port, 1);
}

TEST(ConfigTest, IPv6Everywhere) {
    const Config c = must_parse(
        "port a dev net_af_packet0,iface=veth0\n"
        "port a address 2001:DB8:0:1::1/64\n"
        "port a address fd00::1/8\n"
        "worker 1\n"
        "route ::/0 via 2001:db8:0:1::fffe\n"
        "route 2001:db8:f::/48 port a\n"
        "route 2001:db8:dead::/48 blackhole\n"
        "route fc00::/7 via fe80::2 port a\n"
        "neighbor a 2001:db8:0:1::fffe 02:00:00:00:00:fe\n"
        "neighbor a fe80::2 02:00:00:00:00:02\n");
    EXPECT_EQ(c.ports[0].addresses[0], (InterfaceAddress{ip("2001:db8:0:1::1"), 64}));
    ASSERT_EQ(c.routes.size(), 4u);
    EXPECT_EQ(c.routes[0].port, 0);
    EXPECT_TRUE(c.routes[2].blackhole);
    EXPECT_EQ(c.neighbors.size(), 2u);
    EXPECT_EQ(without_lines(must_parse(format_config(c))), without_lines(c));
}

TEST(ConfigTest, PciShortAndLongFormsAreOneDevice) {
    const Config c = must_parse("port a dev 0000:3B:00.0\nport b dev 3b:00.1\nport c dev 0001:3b:00.0\nworker 1\n");
    EXPECT_EQ(c.ports.size(), 3u);
    const auto err = must_fail("port a dev 0000:3b:00.0\nport b dev 3B:00.0,txq_inline=128\n");
    EXPECT_EQ(err, "gw.conf:2: port 'b': device '3B:00.0' is already used by port 'a'");
}

TEST(ConfigTest, V4PointToPointSubnetsAllowNetworkAddress) {
    const Config c = must_parse(
        "port a dev net_null0\n"
        "port a address 10.0.0.0/31\n"
        "port a address 10.0.1.0/32\n"
        "worker 1\n");
    EXPECT_EQ(c.ports[0].addresses.size(), 2u);
}

TEST(ConfigTest, ErrorMessageFormatIsExact) {
    EXPECT_EQ(must_fail("# comment\n\nport lan dev net_null0 rxq 0\n"),
              "gw.conf:3: port 'lan': rxq 0 out of range 1..64");
    EXPECT_EQ(must_fail("route 10.0.0.1/24 blackhole\n"),
              "gw.conf:1: route 10.0.0.1/24: host bits set, did you mean 10.0.0.0/24?");
    EXPECT_EQ(must_fail("route 10.0.0.0/24 port lan\n"), "gw.conf:1: route 10.0.0.0/24: unknown port 'lan'");
    EXPECT_EQ(must_fail("\n\nport a dev net_null0\n"),
              "gw.conf:3: port 'a': no worker lcore declared to poll its rx queues");
    auto r = parse_config("frob\n", "/etc/gatewayd/site-a.conf");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "/etc/gatewayd/site-a.conf:1: unknown statement 'frob'");
}

TEST(ConfigTest, FirstErrorWins) {
    EXPECT_EQ(must_fail("eal no-huge\neal bogus\nfrob\n"), "gw.conf:2: eal: unknown keyword 'bogus'");
    // A cross-line check (no worker) never hides a later line's error.
    EXPECT_EQ(must_fail("port a dev net_null0\nfrob\n"), "gw.conf:2: unknown statement 'frob'");
}

// A LAN and a WAN port with v4 and v6 subnets and one worker; cases append
// their statement as line 8.
constexpr std::string_view kBase =
    "port lan dev net_null0 rxq 2\n"     // 1
    "port lan address 10.0.0.1/24\n"     // 2
    "port wan dev 0000:3b:00.1\n"        // 3
    "port wan address 192.0.2.1/24\n"    // 4
    "port wan address 2001:db8::1/64\n"  // 5
    "worker 1\n"                         // 6
    "route 10.9.0.0/16 via 10.0.0.9\n";  // 7

struct BadCase {
    std::string_view text;    // appended to kBase when `base` is true
    int line;                 // 0: no line in the message
    std::string_view reason;  // a substring of the message after "<source>:<line>: "
    bool base = true;
};

void expect_errors(const std::vector<BadCase>& cases) {
    for (const auto& c : cases) {
        const std::string text = c.base ? std::string(kBase) + std::string(c.text) + "\n" : std::string(c.text);
        SCOPED_TRACE(std::string(c.text));
        const auto message = must_fail(text);
        const std::string where =
            c.line == 0 ? std::string(kSource) + ": " : std::string(kSource) + ":" + std::to_string(c.line) + ": ";
        EXPECT_TRUE(message.starts_with(where)) << message << "\nexpected prefix: " << where;
        EXPECT_NE(message.find(c.reason), std::string::npos) << message << "\nexpected: " << c.reason;
    }
}

TEST(ConfigErrorTest, BaseIsValid) {
    must_parse(kBase);
}

TEST(ConfigErrorTest, Statements) {
    expect_errors({
        {"frob 1", 8, "unknown statement 'frob'"},
        {"ports lan dev net_null3", 8, "unknown statement 'ports'"},
        {"EAL no-huge", 8, "unknown statement 'EAL'"},
    });
}

TEST(ConfigErrorTest, Eal) {
    expect_errors({
        {"eal", 8, "eal: missing setting"},
        {"eal frob", 8, "eal: unknown keyword 'frob'"},
        {"eal main-lcore", 8, "eal: missing value for 'main-lcore'"},
        {"eal main-lcore two", 8, "eal: main-lcore 'two' is not a number"},
        {"eal main-lcore -1", 8, "eal: main-lcore '-1' is not a number"},
        {"eal main-lcore 3x", 8, "eal: main-lcore '3x' is not a number"},
        {"eal main-lcore 128", 8, "eal: main-lcore 128 out of range 0..127"},
        {"eal main-lcore 99999999999999999999999", 8, "out of range 0..127"},
        {"eal main-lcore 2 3", 8, "eal: unexpected token '3'"},
        {"eal main-lcore 1", 8, "eal: main-lcore 1 is already a worker lcore (line 6)"},
        {"eal no-huge yes", 8, "eal: unexpected token 'yes'"},
        {"eal in-memory 1", 8, "eal: unexpected token '1'"},
        {"eal file-prefix", 8, "eal: missing value for 'file-prefix'"},
        {"eal file-prefix ../x", 8, "eal: file-prefix '../x'"},
        {"eal memory 0", 8, "eal: memory 0 out of range"},
        {"eal memory lots", 8, "eal: memory 'lots' is not a number"},
        {"eal arg", 8, "eal: missing value for 'arg'"},
        {"eal arg --vdev net_null9", 8, "eal: unexpected token 'net_null9'"},
    });
}

TEST(ConfigErrorTest, MempoolAndDataplane) {
    expect_errors({
        {"mempool", 8, "mempool: expected at least one of"},
        {"mempool size 10", 8, "mempool: unknown keyword 'size'"},
        {"mempool cache", 8, "mempool: missing value for 'cache'"},
        {"mempool cache 513", 8, "mempool: cache 513 out of range 0..512"},
        {"mempool cache 1 cache 2", 8, "mempool: 'cache' given twice"},
        {"mempool mbufs lots", 8, "mempool: mbufs 'lots' is not a number"},
        {"mempool mbufs 0", 8, "mempool: mbufs 0 out of range"},
        {"mempool mbufs 100", 8, "mempool: mbufs 100 out of range"},
        {"mempool data-room 1023", 8, "mempool: data-room 1023 out of range 1024..65535"},
        {"mempool data-room 65536", 8, "mempool: data-room 65536 out of range 1024..65535"},
        {"dataplane", 8, "dataplane: expected at least one of"},
        {"dataplane burst 0", 8, "dataplane: burst 0 out of range 1..64"},
        {"dataplane burst 65", 8, "dataplane: burst 65 out of range 1..64"},
        {"dataplane burst 32 extra", 8, "dataplane: unknown keyword 'extra'"},
        {"dataplane burst 32 burst 16", 8, "dataplane: 'burst' given twice"},
        {"dataplane drain-us", 8, "dataplane: missing value for 'drain-us'"},
        {"dataplane drain-us 100001", 8, "dataplane: drain-us 100001 out of range 0..100000"},
        {"dataplane idle-sleep-us 100001", 8, "dataplane: idle-sleep-us 100001 out of range 0..100000"},
        {"dataplane icmp-rate 1000001", 8, "dataplane: icmp-rate 1000001 out of range 0..1000000"},
        {"dataplane icmp-rate 1e3", 8, "dataplane: icmp-rate '1e3' is not a number"},
    });
}

TEST(ConfigErrorTest, PortDeclaration) {
    expect_errors({
        {"port", 8, "port: missing name"},
        {"port Lan3 dev net_null3", 8, "port: invalid name 'Lan3'"},
        {"port 3lan dev net_null3", 8, "port: invalid name '3lan'"},
        {"port lan.3 dev net_null3", 8, "port: invalid name 'lan.3'"},
        {"port abcdefghijklmnop dev net_null3", 8, "port: invalid name 'abcdefghijklmnop'"},
        {"port lan3", 8, "port 'lan3': expected 'dev <devargs>' or 'address <ip>/<len>'"},
        {"port lan3 device net_null3", 8, "port 'lan3': unknown keyword 'device'"},
        {"port lan3 dev", 8, "port 'lan3': missing value for 'dev'"},
        {"port lan3 dev eth0", 8, "port 'lan3': dev 'eth0' is neither a PCI address"},
        {"port lan3 dev net_", 8, "is neither a PCI address"},
        {"port lan3 dev net_null3/x", 8, "is neither a PCI address"},
        {"port lan3 dev 0000:3b:00.8", 8, "is neither a PCI address"},
        {"port lan3 dev 0000:3b:20.0", 8, "is neither a PCI address"},
        {"port lan3 dev 000:3b:00.0", 8, "is neither a PCI address"},
        {"port lan3 dev 3b:0.0", 8, "is neither a PCI address"},
        {"port lan3 dev 0000:3g:00.0", 8, "is neither a PCI address"},
        {"port lan dev net_null3", 8, "port 'lan': already declared at line 1"},
        {"port lan3 dev net_null0,size=128", 8, "port 'lan3': device 'net_null0' is already used by port 'lan'"},
        {"port lan3 dev 3b:00.1", 8, "device '3b:00.1' is already used by port 'wan'"},
        {"port lan3 dev net_null3 rxq 0", 8, "port 'lan3': rxq 0 out of range 1..64"},
        {"port lan3 dev net_null3 rxq 65", 8, "port 'lan3': rxq 65 out of range 1..64"},
        {"port lan3 dev net_null3 rxq", 8, "port 'lan3': missing value for 'rxq'"},
        {"port lan3 dev net_null3 rxq two", 8, "port 'lan3': rxq 'two' is not a number"},
        {"port lan3 dev net_null3 rxq 2 rxq 3", 8, "port 'lan3': 'rxq' given twice"},
        {"port lan3 dev net_null3 rx-desc 1000", 8, "port 'lan3': rx-desc 1000 is not a power of two (64..16384)"},
        {"port lan3 dev net_null3 rx-desc 32", 8, "port 'lan3': rx-desc 32 out of range 64..16384"},
        {"port lan3 dev net_null3 tx-desc 32768", 8, "port 'lan3': tx-desc 32768 out of range 64..16384"},
        {"port lan3 dev net_null3 tx-desc 65537", 8, "port 'lan3': tx-desc 65537 out of range 64..16384"},
        {"port lan3 dev net_null3 mtu 67", 8, "port 'lan3': mtu 67 out of range 68..9600"},
        {"port lan3 dev net_null3 mtu 9601", 8, "port 'lan3': mtu 9601 out of range 68..9600"},
        {"port lan3 dev net_null3 promisc yes", 8, "port 'lan3': promisc 'yes' must be 'on' or 'off'"},
        {"port lan3 dev net_null3 mac 02:00:00:00:00", 8, "port 'lan3': invalid mac '02:00:00:00:00'"},
        {"port lan3 dev net_null3 mac 01:00:5e:00:00:01", 8, "port 'lan3': mac 01:00:5e:00:00:01 is not a unicast"},
        {"port lan3 dev net_null3 mac 00:00:00:00:00:00", 8, "is not a unicast"},
        {"port lan3 dev net_null3 speed 10g", 8, "port 'lan3': unknown keyword 'speed'"},
        {"port lan3 dev net_null3 net_null4", 8, "port 'lan3': unknown keyword 'net_null4'"},
    });
}

TEST(ConfigErrorTest, TooManyPorts) {
    std::string text;
    for (unsigned i = 0; i <= kMaxPorts; ++i) {
        text += "port p" + std::to_string(i) + " dev net_null" + std::to_string(i) + "\n";
    }
    text += "worker 1\n";
    EXPECT_EQ(must_fail(text), "gw.conf:33: port 'p32': too many ports (at most 32)");
}

TEST(ConfigErrorTest, PortAddress) {
    expect_errors({
        {"port dmz address 10.5.0.1/24", 8, "unknown port 'dmz'"},
        {"port lan3 address 10.5.0.1/24\nport lan3 dev net_null3", 1, "unknown port 'lan3'", false},
        {"port lan address", 8, "port 'lan': missing value for 'address'"},
        {"port lan address 10.5.0.1", 8, "port 'lan': address '10.5.0.1' needs a prefix length"},
        {"port lan address 10.5.0.300/24", 8, "port 'lan': invalid address '10.5.0.300/24'"},
        {"port lan address 10.5.0.1/33", 8, "port 'lan': invalid address '10.5.0.1/33'"},
        {"port lan address 2001:db8:5::1/129", 8, "invalid address"},
        {"port lan address 10.5.0.1/0", 8, "prefix length 0"},
        {"port lan address 10.5.0.0/24", 8, "port 'lan': address 10.5.0.0/24 is the network address"},
        {"port lan address 10.5.0.255/24", 8, "port 'lan': address 10.5.0.255/24 is the broadcast address"},
        {"port lan address 0.0.0.0/8", 8, "is the unspecified address"},
        {"port lan address 224.0.0.1/24", 8, "is a multicast address"},
        {"port lan address 127.0.0.1/8", 8, "is a loopback address"},
        {"port lan address ::/64", 8, "is the unspecified address"},
        {"port lan address ::1/128", 8, "is the loopback address"},
        {"port lan address ff02::1/64", 8, "is a multicast address"},
        {"port lan address 10.0.0.1/24", 8, "port 'lan': address 10.0.0.1 is already assigned to port 'lan'"},
        {"port lan address 192.0.2.1/16", 8, "address 192.0.2.1 is already assigned to port 'wan'"},
        {"port lan address 2001:DB8:0::1/48", 8, "address 2001:db8::1 is already assigned to port 'wan'"},
        {"port lan address 10.5.0.1/24 10.6.0.1/24", 8, "port 'lan': unexpected token '10.6.0.1/24'"},
    });
}

TEST(ConfigErrorTest, Workers) {
    expect_errors({
        {"worker", 8, "worker: missing lcore"},
        {"worker two", 8, "worker: lcore 'two' is not a number"},
        {"worker 128", 8, "worker: lcore 128 out of range 0..127"},
        {"worker 0", 8, "worker 0: lcore 0 is the eal main-lcore"},
        {"worker 1", 8, "worker 1: already declared at line 6"},
        {"worker 2 lan:0", 8, "worker 2: unknown keyword 'lan:0'"},
        {"worker 2 poll", 8, "worker 2: missing value for 'poll'"},
        {"worker 2 poll lan", 8, "worker 2: expected <port>:<queue>, got 'lan'"},
        {"worker 2 poll dmz:0", 8, "worker 2: unknown port 'dmz'"},
        {"worker 2 poll :0", 8, "worker 2: unknown port ''"},
        {"worker 2 poll lan:2", 8, "worker 2: port 'lan' queue 2 out of range 0..1"},
        {"worker 2 poll wan:1", 8, "worker 2: port 'wan' queue 1 out of range 0..0"},
        {"worker 2 poll lan:x", 8, "worker 2: port 'lan' queue 'x' is not a number"},
        {"worker 2 poll lan:", 8, "worker 2: port 'lan' queue '' is not a number"},
        {"worker 2 poll lan:0 lan:0", 8, "worker 2: rx queue lan:0 is listed twice"},
        {"worker 2 poll lan:1 poll wan:0", 8, "worker 2: expected <port>:<queue>, got 'poll'"},
        {"worker 1 poll lan:0\nworker 2 poll lan:1 lan:0\nport lan dev net_null0 rxq 2", 1, "unknown port 'lan'",
         false},
        {"port lan dev net_null0 rxq 2\nworker 1 poll lan:0\nworker 2 poll lan:1 lan:0", 3,
         "rx queue lan:0 is already polled by worker 1 (line 2)", false},
        {"eal main-lcore 2\nworker 2", 2, "worker 2: lcore 2 is the eal main-lcore", false},
        {"# no workers\nport lan dev net_null0\nport wan dev net_null1\n", 2, "no worker lcore declared", false},
    });
}

TEST(ConfigErrorTest, Routes) {
    expect_errors({
        {"route", 8, "route: missing prefix"},
        {"route 10.5.0.0 via 10.0.0.9", 8, "route: invalid prefix '10.5.0.0'"},
        {"route default via 10.0.0.9", 8, "route: invalid prefix 'default'"},
        {"route 10.5.0.1/16 via 10.0.0.9", 8, "route 10.5.0.1/16: host bits set, did you mean 10.5.0.0/16?"},
        {"route 2001:db8:5::1/48 via 2001:db8::9", 8, "host bits set, did you mean 2001:db8:5::/48?"},
        {"route 10.5.0.0/16", 8, "route 10.5.0.0/16: expected 'via <ip>', 'port <name>' or 'blackhole'"},
        {"route 10.5.0.0/16 via", 8, "route 10.5.0.0/16: missing value for 'via'"},
        {"route 10.5.0.0/16 port", 8, "route 10.5.0.0/16: missing value for 'port'"},
        {"route 10.5.0.0/16 via 10.0.0.300", 8, "route 10.5.0.0/16: invalid via '10.0.0.300'"},
        {"route 10.5.0.0/16 via 10.0.0.9 via 10.0.0.8", 8, "'via' given twice"},
        {"route 10.5.0.0/16 port lan port wan", 8, "'port' given twice"},
        {"route 10.5.0.0/16 blackhole blackhole", 8, "'blackhole' given twice"},
        {"route 10.5.0.0/16 via 10.0.0.9 metric 5", 8, "route 10.5.0.0/16: unknown keyword 'metric'"},
        {"route 10.5.0.0/16 blackhole port lan", 8, "a blackhole route takes no via or port"},
        {"route 10.5.0.0/16 via 10.0.0.9 blackhole", 8, "a blackhole route takes no via or port"},
        {"route 10.5.0.0/16 via 2001:db8::9", 8, "via 2001:db8::9 is IPv6 but the prefix is IPv4"},
        {"route 2001:db8:5::/48 via 10.0.0.9", 8, "via 10.0.0.9 is IPv4 but the prefix is IPv6"},
        {"route 10.5.0.0/16 via 172.16.0.1", 8, "no port has a subnet containing via 172.16.0.1"},
        {"route 2001:db8:5::/48 via 2001:db8:1::9", 8, "no port has a subnet containing via 2001:db8:1::9"},
        {"route 10.5.0.0/16 via 192.0.2.9 port lan", 8, "via 192.0.2.9 is not inside a subnet of port 'lan'"},
        {"route 10.5.0.0/16 via 10.0.0.1", 8, "via 10.0.0.1 is our own address on port 'lan'"},
        {"route 10.5.0.0/16 via 224.0.0.9", 8, "via 224.0.0.9 is a multicast address"},
        {"route 2001:db8:5::/48 via fe80::1", 8, "is link-local; name the port"},
        {"route 10.5.0.0/16 port dmz", 8, "route 10.5.0.0/16: unknown port 'dmz'"},
        {"route 10.5.0.0/16 port dmz\nport dmz dev net_null3", 8, "unknown port 'dmz'"},
        {"route 10.9.0.0/16 blackhole", 8, "route 10.9.0.0/16: already declared at line 7"},
        {"route 2001:db8:5::/48 port wan\nroute 2001:DB8:5:0::/48 blackhole", 9, "already declared at line 8"},
        {"port a dev net_null0\nport a address 10.0.0.1/24\nport b dev net_null1\nport b address 10.0.0.2/24\n"
         "worker 1\nroute 10.5.0.0/16 via 10.0.0.9",
         6, "via 10.0.0.9 is on-link on more than one port", false},
    });
}

TEST(ConfigErrorTest, Neighbors) {
    expect_errors({
        {"neighbor", 8, "neighbor: expected '<port> <ip> <mac>'"},
        {"neighbor lan 10.0.0.9", 8, "neighbor: expected '<port> <ip> <mac>'"},
        {"neighbor dmz 10.0.0.9 02:00:00:00:00:09", 8, "neighbor: unknown port 'dmz'"},
        {"neighbor lan 10.0.0.x 02:00:00:00:00:09", 8, "neighbor lan: invalid address '10.0.0.x'"},
        {"neighbor lan 10.0.0.9 02:00:00:00:00", 8, "neighbor lan 10.0.0.9: invalid mac '02:00:00:00:00'"},
        {"neighbor lan 10.0.0.9 01:00:5e:00:00:09", 8, "neighbor lan 10.0.0.9: mac 01:00:5e:00:00:09 is multicast"},
        {"neighbor lan 10.0.0.9 ff:ff:ff:ff:ff:ff", 8, "is multicast"},
        {"neighbor lan 10.0.0.9 00:00:00:00:00:00", 8, "neighbor lan 10.0.0.9: mac 00:00:00:00:00:00 is zero"},
        {"neighbor lan 10.0.0.9 02:00:00:00:00:09 static", 8, "neighbor lan 10.0.0.9: unexpected token 'static'"},
        {"neighbor lan 192.0.2.9 02:00:00:00:00:09", 8, "address is not inside a subnet of port 'lan'"},
        {"neighbor lan 10.0.0.1 02:00:00:00:00:09", 8, "address is our own address on port 'lan'"},
        {"neighbor lan 224.0.0.9 02:00:00:00:00:09", 8, "address is a multicast address"},
        {"neighbor wan 2001:db8::9 02:00:00:00:00:09\nneighbor wan 2001:db8:0::9 02:00:00:00:00:0a", 9,
         "neighbor wan 2001:db8::9: already declared at line 8"},
        {"neighbor lan 10.0.0.9 02:00:00:00:00:09\nneighbor lan 10.0.0.9 02:00:00:00:00:09", 9,
         "already declared at line 8"},
    });
}

TEST(ConfigTest, SameNeighborAddressOnTwoPortsIsAllowed) {
    const Config c = must_parse(std::string(kBase) +
                                "neighbor lan fe80::9 02:00:00:00:00:09\n"
                                "neighbor wan fe80::9 02:00:00:00:00:0a\n");
    EXPECT_EQ(c.neighbors.size(), 2u);
}

TEST(ConfigRoundTripTest, FullConfig) {
    const Config c = must_parse(kFull);
    const std::string text = format_config(c);
    const Config again = must_parse(text);
    EXPECT_EQ(without_lines(again), without_lines(c)) << text;
    EXPECT_EQ(format_config(again), text);
}

TEST(ConfigRoundTripTest, DefaultsFormatToNothing) {
    EXPECT_EQ(format_config(Config{}), "");
    EXPECT_EQ(must_parse(format_config(Config{})), Config{});
}

TEST(ConfigRoundTripTest, BuiltInCode) {
    Config c;
    c.eal.main_lcore = 5;
    c.eal.extra_args = {"--no-pci", "--vdev=net_null0"};
    c.mempool.mbufs = 4096;
    c.dataplane.idle_sleep_us = 7;
    PortConfig p;
    p.name = "p0";
    p.devargs = "net_null0";
    p.rx_queues = 3;
    p.promiscuous = false;
    p.mac = mac("02:aa:bb:cc:dd:ee");
    p.addresses = {{ip("198.18.0.1"), 15}, {ip("2001:db8::1"), 127}};
    c.ports.push_back(p);
    WorkerConfig w;
    w.lcore = 6;
    w.rx_queues = {{0, 2}, {0, 0}, {0, 1}};
    c.workers.push_back(w);
    RouteConfig r;
    r.prefix = prefix("0.0.0.0/0");
    r.via = ip("198.18.0.2");
    c.routes.push_back(r);
    NeighborConfig n;
    n.addr = ip("2001:db8::");  // the other end of the /127
    n.mac = mac("02:00:00:00:00:01");
    c.neighbors.push_back(n);

    const std::string text = format_config(c);
    EXPECT_EQ(text,
              "eal main-lcore 5\n"
              "eal arg --no-pci\n"
              "eal arg --vdev=net_null0\n"
              "mempool mbufs 4096 cache 256 data-room 2176\n"
              "dataplane burst 32 drain-us 100 idle-sleep-us 7 icmp-rate 1000\n"
              "port p0 dev net_null0 rxq 3 promisc off mac 02:aa:bb:cc:dd:ee\n"
              "port p0 address 198.18.0.1/15\n"
              "port p0 address 2001:db8::1/127\n"
              "worker 6 poll p0:2 p0:0 p0:1\n"
              "route 0.0.0.0/0 via 198.18.0.2 port p0\n"
              "neighbor p0 2001:db8:: 02:00:00:00:00:01\n");
    EXPECT_EQ(without_lines(must_parse(text)), c);
}

class TempFile {
public:
    explicit TempFile(std::string_view name, std::string_view text)
        : path_(std::filesystem::path(::testing::TempDir()) / name) {
        std::FILE* f = std::fopen(path_.c_str(), "wb");
        EXPECT_NE(f, nullptr);
        if (f != nullptr) {
            std::fwrite(text.data(), 1, text.size(), f);
            std::fclose(f);
        }
    }
    ~TempFile() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

TEST(LoadConfigTest, ReadsFileAndNamesItInErrors) {
    const TempFile good("config_test_good.conf", kFull);
    auto c = load_config(good.path());
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(*c, must_parse(kFull));

    const TempFile bad("config_test_bad.conf", "eal no-huge\nport lan dev net_null0 rxq 0\n");
    auto e = load_config(bad.path());
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message, bad.path().string() + ":2: port 'lan': rxq 0 out of range 1..64");
}

TEST(LoadConfigTest, UnreadableFile) {
    const auto missing = std::filesystem::path(::testing::TempDir()) / "config_test_missing.conf";
    auto e = load_config(missing);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message, "cannot read config '" + missing.string() + "': No such file or directory");
    EXPECT_EQ(e.error().code, ENOENT);

    auto dir = load_config(::testing::TempDir());
    ASSERT_FALSE(dir);
    EXPECT_NE(dir.error().message.find("cannot read config"), std::string::npos) << dir.error().message;
    EXPECT_NE(dir.error().message.find("Is a directory"), std::string::npos) << dir.error().message;
}

// --- ipsec statements ---

constexpr std::string_view kSaKey128 = "000102030405060708090a0b0c0d0e0fa0a1a2a3";
constexpr std::string_view kSaKey256 = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2fb0b1b2b3";

// kBase (7 lines) plus statements from line 8 on.
std::string with_base(std::string_view lines) {
    return std::string(kBase) + std::string(lines);
}

std::string sa_line(std::string_view rest) {
    return "ipsec sa " + std::string(rest) + "\n";
}

const std::string kIpsecFull = with_base(
    "ipsec sa a out spi 0x1234 aes-gcm-256 key " + std::string(kSaKey256) +
    " tunnel 192.0.2.1 198.51.100.1 esn replay-window 2048 lifetime bytes 1000 2000 lifetime packets 10 20"
    " lifetime seconds 30 60\n"  // 8
    "ipsec sa b in spi 4096 aes-gcm-128 key " +
    std::string(kSaKey128) +
    " tunnel 2001:db8::1 2001:db8:ffff::1 replay-window 0\n"  // 9
    // 10, 11
    "ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/16 proto tcp sport 1000-2000 dport 443 protect a\n"
    "ipsec policy in priority 10 src 2001:db8:100::/48 dst 2001:db8::/64 proto udp dport 500-4500 protect b\n"
    "ipsec policy out priority 5 src 0.0.0.0/0 dst 0.0.0.0/0 proto 50 bypass\n"                 // 12
    "ipsec policy in priority 99 src 10.9.0.0/16 dst 10.0.0.0/24 proto sctp sport 7 discard\n"  // 13
    "ipsec policy out priority 7 dst 10.1.0.0/16 src 10.0.0.0/24 protect a proto icmp\n");      // 14

std::vector<uint8_t> key_bytes(std::string_view hex) {
    std::vector<uint8_t> b;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        b.push_back(static_cast<uint8_t>(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return b;
}

TEST(ConfigIpsecTest, EveryOptionSetsItsField) {
    const Config c = must_parse(kIpsecFull);
    ASSERT_EQ(c.sas.size(), 2u);
    const SaConfig& a = c.sas[0];
    EXPECT_EQ(a.name, "a");
    EXPECT_EQ(a.direction, IpsecDirection::out);
    EXPECT_EQ(a.spi, 0x1234u);
    EXPECT_EQ(a.key, key_bytes(kSaKey256));
    EXPECT_EQ(a.key_bits(), 256);
    EXPECT_EQ(a.local, ip("192.0.2.1"));
    EXPECT_EQ(a.remote, ip("198.51.100.1"));
    EXPECT_TRUE(a.esn);
    EXPECT_EQ(a.replay_window, 2048u);
    EXPECT_EQ(a.soft_bytes, 1000u);
    EXPECT_EQ(a.hard_bytes, 2000u);
    EXPECT_EQ(a.soft_packets, 10u);
    EXPECT_EQ(a.hard_packets, 20u);
    EXPECT_EQ(a.soft_seconds, 30u);
    EXPECT_EQ(a.hard_seconds, 60u);
    EXPECT_EQ(a.line, 8);
    const SaConfig& b = c.sas[1];
    EXPECT_EQ(b.direction, IpsecDirection::in);
    EXPECT_EQ(b.spi, 4096u);
    EXPECT_EQ(b.key, key_bytes(kSaKey128));
    EXPECT_EQ(b.key_bits(), 128);
    EXPECT_EQ(b.local, ip("2001:db8::1"));
    EXPECT_FALSE(b.esn);
    EXPECT_EQ(b.replay_window, 0u);
    EXPECT_EQ(b.hard_bytes + b.hard_packets + b.hard_seconds, 0u) << "no lifetime: no limit";
    EXPECT_EQ(c.find_sa("b"), 1);
    EXPECT_FALSE(c.find_sa("c"));

    ASSERT_EQ(c.policies.size(), 5u);
    const PolicyConfig& p0 = c.policies[0];
    EXPECT_EQ(p0.direction, IpsecDirection::out);
    EXPECT_EQ(p0.priority, 10u);
    EXPECT_EQ(p0.src, prefix("10.0.0.0/24"));
    EXPECT_EQ(p0.dst, prefix("172.16.0.0/16"));
    EXPECT_EQ(p0.proto, 6);
    EXPECT_EQ(p0.sport, (PortRange{1000, 2000}));
    EXPECT_EQ(p0.dport, (PortRange{443, 443}));
    EXPECT_EQ(p0.action, PolicyAction::protect);
    EXPECT_EQ(p0.sa, 0);
    EXPECT_EQ(p0.line, 10);
    const PolicyConfig& p1 = c.policies[1];
    EXPECT_EQ(p1.direction, IpsecDirection::in);
    EXPECT_EQ(p1.proto, 17);
    EXPECT_TRUE(p1.sport.any());
    EXPECT_EQ(p1.dport, (PortRange{500, 4500}));
    EXPECT_EQ(p1.sa, 1);
    EXPECT_EQ(c.policies[2].action, PolicyAction::bypass);
    EXPECT_EQ(c.policies[2].proto, 50);
    EXPECT_EQ(c.policies[3].action, PolicyAction::discard);
    EXPECT_EQ(c.policies[3].proto, 132);
    EXPECT_EQ(c.policies[3].sport, (PortRange{7, 7}));
    EXPECT_EQ(c.policies[4].proto, 1) << "keywords in any order";
    EXPECT_EQ(c.policies[4].dst, prefix("10.1.0.0/16"));
    EXPECT_EQ(c.policies[4].action, PolicyAction::protect);
    EXPECT_EQ(c.policies[4].line, 14);
}

TEST(ConfigIpsecTest, Defaults) {
    const Config c = must_parse(
        with_base(sa_line("d out spi 256 aes-gcm-128 key " + std::string(kSaKey128) + " tunnel 192.0.2.1 192.0.2.9") +
                  "ipsec policy out priority 0 src ::/0 dst ::/0 protect d\n"));
    ASSERT_EQ(c.sas.size(), 1u);
    EXPECT_EQ(c.sas[0].replay_window, 1024u) << "RFC 4303 recommends a window; the issue asks for 1024";
    EXPECT_FALSE(c.sas[0].esn);
    EXPECT_EQ(c.sas[0].spi, 256u) << "the smallest SPI not reserved";
    ASSERT_EQ(c.policies.size(), 1u);
    EXPECT_FALSE(c.policies[0].proto);
    EXPECT_TRUE(c.policies[0].sport.any() && c.policies[0].dport.any());
}

TEST(ConfigIpsecTest, UpperCaseKeyHexAndSpiForms) {
    std::string upper(kSaKey128);
    for (auto& ch : upper) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    const Config c = must_parse(with_base(
        sa_line("u out spi 0XFFFFFFFF aes-gcm-128 key " + upper + " tunnel 192.0.2.1 192.0.2.9") +
        sa_line("v out spi 4294967294 aes-gcm-128 key " + std::string(kSaKey128) + " tunnel 192.0.2.1 192.0.2.9")));
    EXPECT_EQ(c.sas[0].key, key_bytes(kSaKey128));
    EXPECT_EQ(c.sas[0].spi, 0xffffffffu);
    EXPECT_EQ(c.sas[1].spi, 0xfffffffeu);
}

TEST(ConfigIpsecTest, SameSpiInBothDirectionsIsAllowed) {
    const std::string rest = " spi 0x1000 aes-gcm-128 key " + std::string(kSaKey128) + " tunnel 192.0.2.1 192.0.2.9";
    const Config c = must_parse(with_base(sa_line("o out" + rest) + sa_line("i in" + rest)));
    EXPECT_EQ(c.sas.size(), 2u);
}

TEST(ConfigIpsecTest, ErrorsNameTheLine) {
    const std::string k128(kSaKey128);
    const std::string k256(kSaKey256);
    const std::string good = "ipsec sa a out spi 0x1000 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9\n";
    const std::vector<std::string> texts = {
        "ipsec",
        "ipsec frob",
        "ipsec sa",
        "ipsec sa A out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a sideways spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 255 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 0 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 0xff aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 0x100000000 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 12ab aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k256 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-256 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128.substr(0, 39) + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128.substr(0, 38) + "zz tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-192 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 aes-gcm-256 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128,
        "ipsec sa a out aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.77 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 2001:db8::9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 224.0.0.5",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9 replay-window 4097",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9 lifetime packets 20 10",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9 lifetime hours 1 2",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9 lifetime seconds 1 4294967296",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9 esn esn",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9 mode transport",
        good + "ipsec sa a out spi 0x2000 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        good + "ipsec sa b out spi 4096 aes-gcm-128 key " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 protect nope",
        good + "ipsec policy in priority 1 src 10.1.0.0/16 dst 10.0.0.0/24 protect a",
        good +
            "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 bypass\n"
            "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.2.0.0/16 discard",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 dport 80 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 proto icmp sport 8 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 proto tcp dport 2000-1000 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 2001:db8::/32 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.1/24 dst 10.1.0.0/16 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 bypass discard",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 protect a bypass",
        good + "ipsec policy out src 10.0.0.0/24 dst 10.1.0.0/16 protect a",
        good + "ipsec policy sideways priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 proto gre protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 priority 2 protect a",
        good + "ipsec policy out priority 1 src 10.0.0.0/24 dst 10.1.0.0/16 protect",
    };
    const std::vector<std::pair<int, std::string_view>> want = {
        {8, "ipsec: expected 'sa' or 'policy'"},
        {8, "ipsec: expected 'sa' or 'policy'"},
        {8, "ipsec sa: expected '<name> <in|out> spi <n>"},
        {8, "ipsec sa 'A': name must be"},
        {8, "ipsec sa 'a': direction 'sideways' is neither 'in' nor 'out'"},
        {8, "ipsec sa 'a': spi 255 is reserved"},
        {8, "ipsec sa 'a': spi 0 is reserved"},
        {8, "ipsec sa 'a': spi 255 is reserved"},
        {8, "ipsec sa 'a': spi '0x100000000' is not a 32-bit number"},
        {8, "ipsec sa 'a': spi '12ab' is not a 32-bit number"},
        {8, "ipsec sa 'a': aes-gcm-128 wants a key of 40 hex digits (key + 4-byte salt), got 72"},
        {8, "ipsec sa 'a': aes-gcm-256 wants a key of 72 hex digits (key + 4-byte salt), got 40"},
        {8, "ipsec sa 'a': key must be hexadecimal digits (an even number of them)"},
        {8, "ipsec sa 'a': key must be hexadecimal digits"},
        {8, "ipsec sa 'a': unknown keyword 'aes-gcm-192'"},
        {8, "ipsec sa 'a': cipher given twice"},
        {8, "ipsec sa 'a': needs spi, a cipher (aes-gcm-128 or aes-gcm-256), key and tunnel"},
        {8, "ipsec sa 'a': needs spi"},
        {8, "ipsec sa 'a': tunnel local 192.0.2.77 is not an address of any port"},
        {8, "ipsec sa 'a': tunnel endpoints 192.0.2.1 and 2001:db8::9 are of different families"},
        {8, "ipsec sa 'a': tunnel endpoint 224.0.0.5 is a multicast address"},
        {8, "ipsec sa 'a': missing value for 'tunnel'"},
        {8, "ipsec sa 'a': replay-window 4097 out of range 0..4096"},
        {8, "ipsec sa 'a' lifetime packets: soft limit 20 above hard limit 10"},
        {8, "ipsec sa 'a': lifetime 'hours' is not bytes, packets or seconds"},
        {8, "ipsec sa 'a' lifetime seconds: hard 4294967296 out of range"},
        {8, "ipsec sa 'a': 'esn' given twice"},
        {8, "ipsec sa 'a': unknown keyword 'mode'"},
        {9, "ipsec sa 'a': already declared at line 8"},
        {9, "ipsec sa 'b': spi 0x1000 already used by 'a' (line 8)"},
        {9, "ipsec policy (line 9): unknown sa 'nope' (declare it with 'ipsec sa' first)"},
        {9, "ipsec policy (line 9): sa 'a' is outbound but the policy is inbound"},
        {10, "ipsec policy (line 10): priority 1 already used by the policy at line 9"},
        {9, "ipsec policy (line 9): sport/dport need proto tcp, udp or sctp"},
        {9, "ipsec policy (line 9): sport/dport need proto tcp, udp or sctp"},
        {9, "ipsec policy (line 9): dport range 2000-1000 is empty"},
        {9, "ipsec policy (line 9): src and dst are of different families"},
        {9, "ipsec policy (line 9): src 10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?"},
        {9, "ipsec policy (line 9): needs priority, src, dst and an action"},
        {9, "ipsec policy (line 9): more than one action"},
        {9, "ipsec policy (line 9): more than one action"},
        {9, "ipsec policy (line 9): needs priority"},
        {9, "ipsec policy (line 9): direction 'sideways' is neither 'in' nor 'out'"},
        {9, "ipsec policy (line 9): proto 'gre' is not a number"},
        {9, "ipsec policy (line 9): 'priority' given twice"},
        {9, "ipsec policy (line 9): missing value for 'protect'"},
    };
    ASSERT_EQ(texts.size(), want.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        SCOPED_TRACE(texts[i]);
        const std::string message = must_fail(with_base(texts[i] + "\n"));
        const std::string where = std::string(kSource) + ":" + std::to_string(want[i].first) + ": ";
        EXPECT_TRUE(message.starts_with(where)) << message << "\nexpected prefix: " << where;
        EXPECT_NE(message.find(want[i].second), std::string::npos) << message << "\nexpected: " << want[i].second;
        // Key material never appears in an error, whatever else is wrong.
        EXPECT_EQ(message.find(k128.substr(0, 16)), std::string::npos) << "key echoed: " << message;
        EXPECT_EQ(message.find(k256.substr(0, 16)), std::string::npos) << "key echoed: " << message;
    }
}

// A key written without its keyword ("aes-gcm-128 <hex>", or "key=<hex>")
// must not reach the error message (and so gatewayd's startup error, logs, a
// CLI reply) as an "unknown keyword".
TEST(ConfigIpsecTest, MisplacedKeyIsNeverEchoed) {
    const std::string k128(kSaKey128);
    const std::vector<std::string> texts = {
        "ipsec sa a out spi 300 aes-gcm-128 " + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key=" + k128 + " tunnel 192.0.2.1 192.0.2.9",
        "ipsec sa a out spi 300 aes-gcm-128 key " + k128 + " " + k128 + " tunnel 192.0.2.1 192.0.2.9",
    };
    for (const auto& t : texts) {
        SCOPED_TRACE(t);
        const std::string message = must_fail(with_base(t + "\n"));
        EXPECT_TRUE(message.starts_with("gw.conf:8: ipsec sa 'a': ")) << message;
        EXPECT_EQ(message.find(k128.substr(0, 16)), std::string::npos) << "key echoed: " << message;
    }
}

TEST(ConfigIpsecTest, RoundTrip) {
    const Config c = must_parse(kIpsecFull);
    const std::string text = format_config(c);
    const Config again = must_parse(text);
    EXPECT_EQ(without_lines(again), without_lines(c)) << text;
    EXPECT_EQ(format_config(again), text);
    EXPECT_NE(text.find("ipsec sa a out spi 0x1234 aes-gcm-256 key " + std::string(kSaKey256) +
                        " tunnel 192.0.2.1 198.51.100.1 esn replay-window 2048 lifetime bytes 1000 2000 lifetime "
                        "packets 10 20 lifetime seconds 30 60\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("ipsec sa b in spi 0x1000 aes-gcm-128 key " + std::string(kSaKey128) +
                        " tunnel 2001:db8::1 2001:db8:ffff::1 replay-window 0\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("ipsec policy out priority 10 src 10.0.0.0/24 dst 172.16.0.0/16 proto 6 sport 1000-2000 "
                        "dport 443-443 protect a\n"),
              std::string::npos)
        << text;
}

TEST(ConfigIpsecTest, RoundTripOfBuiltInCode) {
    Config c = must_parse(kBase);
    SaConfig sa;
    sa.name = "x";
    sa.direction = IpsecDirection::in;
    sa.spi = 0xdeadbeef;
    sa.key = key_bytes(kSaKey256);
    sa.local = ip("192.0.2.1");
    sa.remote = ip("203.0.113.7");
    sa.esn = true;
    sa.replay_window = 4096;
    sa.soft_packets = 1;
    sa.hard_packets = 1;
    c.sas.push_back(sa);
    PolicyConfig p;
    p.direction = IpsecDirection::in;
    p.priority = 4000000000u;
    p.src = prefix("2001:db8:1::/48");
    p.dst = prefix("::/0");
    p.proto = 17;
    p.sport = PortRange{0, 0};
    p.dport = PortRange{65535, 65535};
    p.action = PolicyAction::protect;
    p.sa = 0;
    c.policies.push_back(p);
    const std::string text = format_config(c);
    EXPECT_EQ(without_lines(must_parse(text)), without_lines(c)) << text;
}

TEST(LoadConfigTest, RefusesKeysInAFileOthersMayRead) {
    namespace fs = std::filesystem;
    const std::string text =
        with_base(sa_line("a out spi 300 aes-gcm-128 key " + std::string(kSaKey128) + " tunnel 192.0.2.1 192.0.2.9"));
    const TempFile f("config_test_ipsec.conf", text);
    for (const auto mode : {fs::perms(0644), fs::perms(0604), fs::perms(0666), fs::perms(0601)}) {
        fs::permissions(f.path(), mode, fs::perm_options::replace);
        auto e = load_config(f.path());
        ASSERT_FALSE(e) << "mode " << std::oct << static_cast<unsigned>(mode);
        EXPECT_NE(e.error().message.find("holds IPsec keys but is accessible to all users"), std::string::npos)
            << e.error().message;
        EXPECT_NE(e.error().message.find(f.path().string()), std::string::npos) << e.error().message;
        EXPECT_EQ(e.error().message.find(std::string(kSaKey128).substr(0, 16)), std::string::npos) << e.error().message;
    }
    for (const auto mode : {fs::perms(0600), fs::perms(0640), fs::perms(0400)}) {
        fs::permissions(f.path(), mode, fs::perm_options::replace);
        auto c = load_config(f.path());
        ASSERT_TRUE(c) << c.error().message;
        EXPECT_EQ(c->sas.size(), 1u);
    }
    // Without keys the mode does not matter.
    const TempFile plain("config_test_no_keys.conf", kBase);
    fs::permissions(plain.path(), fs::perms(0644), fs::perm_options::replace);
    EXPECT_TRUE(load_config(plain.path()));
}

// --- xdp statements (ebpf/) ---

constexpr std::string_view kXdpBase =
    "port lan dev net_af_xdp0,iface=veth-lan,start_queue=0\n"
    "port wan dev net_af_packet0,iface=veth-wan\n"
    "port mem dev net_memif0\n"
    "worker 1\n";

TEST(ConfigXdpTest, EveryStatementSetsItsField) {
    const Config c = must_parse(std::string(kXdpBase) +
                                "xdp port lan mode generic replace\n"
                                "xdp port wan\n"
                                "xdp block 198.51.100.0/24\n"
                                "xdp block 2001:db8:bad::/48\n"
                                "xdp ratelimit 1000 burst 50\n"
                                "xdp pass arp\n"
                                "xdp pass nd\n"
                                "xdp pass icmp\n"
                                "xdp pass tcp 22\n"
                                "xdp pass tcp 179\n"
                                "xdp pass udp 53\n"
                                "xdp bypass 203.0.113.0/24 via-iface veth-b dst-mac 02:00:00:00:00:aa\n"
                                "xdp bypass 2001:db8:f00::/48 dst-mac 02:00:00:00:00:aa via-iface veth-b "
                                "src-mac 02:00:00:00:00:bb\n");
    ASSERT_EQ(c.xdp.ports.size(), 2u);
    EXPECT_EQ(c.xdp.ports[0].port, 0);
    EXPECT_EQ(c.xdp.ports[0].mode, XdpMode::generic);
    EXPECT_TRUE(c.xdp.ports[0].replace);
    EXPECT_EQ(c.xdp.ports[1].port, 1);
    EXPECT_EQ(c.xdp.ports[1].mode, XdpMode::native);
    EXPECT_FALSE(c.xdp.ports[1].replace);
    ASSERT_EQ(c.xdp.blocks.size(), 2u);
    EXPECT_EQ(net::to_string(c.xdp.blocks[1]), "2001:db8:bad::/48");
    EXPECT_EQ(c.xdp.rate_pps, 1000u);
    EXPECT_EQ(c.xdp.rate_burst, 50u);
    EXPECT_TRUE(c.xdp.pass_arp && c.xdp.pass_nd && c.xdp.pass_icmp);
    EXPECT_EQ(c.xdp.pass_tcp, (std::vector<uint16_t>{22, 179}));
    EXPECT_EQ(c.xdp.pass_udp, (std::vector<uint16_t>{53}));
    ASSERT_EQ(c.xdp.bypass.size(), 2u);
    EXPECT_EQ(c.xdp.bypass[0].via_iface, "veth-b");
    EXPECT_FALSE(c.xdp.bypass[0].src_mac);
    EXPECT_EQ(net::to_string(*c.xdp.bypass[1].src_mac), "02:00:00:00:00:bb");

    const std::string text = format_config(c);
    EXPECT_EQ(without_lines(must_parse(text)), without_lines(c)) << text;
    EXPECT_EQ(format_config(must_parse(text)), text);
}

TEST(ConfigXdpTest, KernelIfaceOfDevargs) {
    EXPECT_EQ(kernel_iface("net_af_xdp0,iface=veth0"), "veth0");
    EXPECT_EQ(kernel_iface("net_af_packet1,qpairs=1,iface=eth2"), "eth2");
    EXPECT_EQ(kernel_iface("net_af_xdp0"), "");
    EXPECT_EQ(kernel_iface("net_tap0,iface=gw0"), "");
    EXPECT_EQ(kernel_iface("0000:3b:00.0"), "");
}

TEST(ConfigXdpTest, ErrorsNameTheLine) {
    const std::string base(kXdpBase);  // 4 lines
    auto err = [&](std::string_view lines) { return must_fail(base + std::string(lines)); };
    EXPECT_EQ(err("xdp port mem\n"),
              "gw.conf:5: xdp port 'mem': not a net_af_xdp or net_af_packet port with iface=<kernel interface>");
    EXPECT_EQ(err("xdp port nope\n"), "gw.conf:5: xdp port: unknown port 'nope'");
    EXPECT_EQ(err("xdp port lan\nxdp port lan\n"), "gw.conf:6: xdp port 'lan': declared twice");
    EXPECT_EQ(err("xdp port lan mode turbo\n"), "gw.conf:5: xdp port 'lan': mode 'turbo' is not native or generic");
    EXPECT_EQ(err("xdp port lan speed 10\n"), "gw.conf:5: xdp port 'lan': unknown keyword 'speed'");
    EXPECT_EQ(err("xdp port lan\nxdp block 10.0.0.1/8\n"),
              "gw.conf:6: xdp block 10.0.0.1/8: host bits set, did you mean 10.0.0.0/8?");
    EXPECT_EQ(err("xdp port lan\nxdp block 10.0.0.0/33\n"), "gw.conf:6: xdp block: invalid prefix '10.0.0.0/33'");
    EXPECT_EQ(err("xdp port lan\nxdp block 10.0.0.0/8\nxdp block 10.0.0.0/8\n"),
              "gw.conf:7: xdp block 10.0.0.0/8: declared twice");
    EXPECT_EQ(err("xdp port lan\nxdp ratelimit 0 burst 5\n"),
              "gw.conf:6: xdp ratelimit: pps 0 out of range 1..100000000");
    EXPECT_EQ(err("xdp port lan\nxdp ratelimit 10 5\n"), "gw.conf:6: xdp ratelimit: expected '<pps> burst <packets>'");
    EXPECT_EQ(err("xdp port lan\nxdp pass tcp 0\n"), "gw.conf:6: xdp pass tcp: port 0 out of range 1..65535");
    EXPECT_EQ(err("xdp port lan\nxdp pass tcp 22\nxdp pass tcp 22\n"), "gw.conf:7: xdp pass tcp 22: declared twice");
    EXPECT_EQ(err("xdp port lan\nxdp pass gre\n"),
              "gw.conf:6: xdp pass: expected 'arp', 'nd', 'icmp', 'tcp <port>' or 'udp <port>'");
    EXPECT_EQ(err("xdp port lan\nxdp bypass 203.0.113.0/24 via-iface b\n"),
              "gw.conf:6: xdp bypass 203.0.113.0/24: 'via-iface' and 'dst-mac' are required");
    EXPECT_EQ(err("xdp port lan\nxdp bypass 203.0.113.0/24 via-iface b dst-mac 01:00:5e:00:00:01\n"),
              "gw.conf:6: xdp bypass 203.0.113.0/24: dst-mac 01:00:5e:00:00:01 is not a unicast MAC");
    EXPECT_EQ(err("xdp block 10.0.0.0/8\n"), "gw.conf:5: xdp: rules given but no 'xdp port <name>' to attach them to");
    EXPECT_EQ(err("xdp frob\n"), "gw.conf:5: xdp: unknown keyword 'frob'");
}

// --- telemetry and control statements ---

// kBase (7 lines) plus `statement` as line 8: the exact error message.
std::string fail_at_8(std::string_view statement) {
    return must_fail(with_base(std::string(statement) + "\n"));
}

TEST(ConfigTelemetryTest, Defaults) {
    const Config c = must_parse(kBase);
    EXPECT_TRUE(c.telemetry.latency);
    EXPECT_EQ(c.telemetry.window_s, 10u);
    EXPECT_EQ(c.telemetry.prometheus, "");
    EXPECT_EQ(c.control.socket, "");
    EXPECT_EQ(c.control.group, "");
    EXPECT_EQ(c.telemetry, TelemetryConfig{});
    EXPECT_EQ(c.control, ControlConfig{});
}

TEST(ConfigTelemetryTest, EveryKeySetsItsField) {
    const Config c =
        must_parse(with_base("telemetry latency off window-s 60 prometheus 127.0.0.1:9100\n"
                             "control socket /run/gw/site-a.sock group gw-admin_1\n"));
    EXPECT_FALSE(c.telemetry.latency);
    EXPECT_EQ(c.telemetry.window_s, 60u);
    EXPECT_EQ(c.telemetry.prometheus, "127.0.0.1:9100");
    EXPECT_EQ(c.control.socket, "/run/gw/site-a.sock");
    EXPECT_EQ(c.control.group, "gw-admin_1");

    const Config v6 = must_parse(with_base("telemetry prometheus [::]:65535 window-s 1 latency on\n"));
    EXPECT_TRUE(v6.telemetry.latency);
    EXPECT_EQ(v6.telemetry.window_s, 1u);
    EXPECT_EQ(v6.telemetry.prometheus, "[::]:65535");
    EXPECT_EQ(must_parse(with_base("telemetry window-s 3600\n")).telemetry.window_s, 3600u);
    EXPECT_EQ(must_parse(with_base("telemetry prometheus [2001:db8::1]:1\n")).telemetry.prometheus, "[2001:db8::1]:1");
}

TEST(ConfigTelemetryTest, RepeatedStatementsOverrideOnlyGivenKeys) {
    const Config c =
        must_parse(with_base("telemetry latency off prometheus 0.0.0.0:9100\n"
                             "telemetry window-s 5\n"
                             "telemetry prometheus off\n"
                             "control socket /run/a.sock\n"
                             "control group wheel\n"
                             "control socket /run/b.sock\n"));
    EXPECT_FALSE(c.telemetry.latency);
    EXPECT_EQ(c.telemetry.window_s, 5u);
    EXPECT_EQ(c.telemetry.prometheus, "") << "'off' removes the exposer";
    EXPECT_EQ(c.control.socket, "/run/b.sock");
    EXPECT_EQ(c.control.group, "wheel");
    EXPECT_TRUE(must_parse(with_base("telemetry latency off\ntelemetry latency on\n")).telemetry.latency);
}

TEST(ConfigTelemetryTest, ControlSocketPathDefaultsToTheFilePrefix) {
    EXPECT_EQ(control_socket_path(Config{}), "/run/gatewayd/gatewayd.sock");
    EXPECT_EQ(control_socket_path(must_parse(kFull)), "/run/gatewayd/gw-a.sock") << "kFull: eal file-prefix gw-a";
    EXPECT_EQ(control_socket_path(must_parse("eal file-prefix site.b\ncontrol group adm\n")),
              "/run/gatewayd/site.b.sock");
    EXPECT_EQ(control_socket_path(must_parse("eal file-prefix site-b\ncontrol socket /tmp/gw.sock\n")), "/tmp/gw.sock")
        << "an explicit socket wins over the prefix";
}

TEST(ConfigTelemetryTest, SocketPathAndGroupLimitsAreInclusive) {
    const std::string longest_path = "/" + std::string(106, 's');  // 107 bytes + NUL fill sun_path
    EXPECT_EQ(must_parse(with_base("control socket " + longest_path + "\n")).control.socket, longest_path);
    EXPECT_EQ(
        fail_at_8("control socket " + longest_path + "s"),
        "gw.conf:8: control: socket '" + longest_path + "s' must be an absolute file path shorter than 108 bytes");
    const std::string longest_group(32, 'g');
    EXPECT_EQ(must_parse(with_base("control group " + longest_group + "\n")).control.group, longest_group);
    EXPECT_EQ(fail_at_8("control group " + longest_group + "g"),
              "gw.conf:8: control: group '" + longest_group + "g' is not a group name");
}

TEST(ConfigTelemetryTest, ErrorsNameTheLine) {
    const std::vector<std::pair<std::string_view, std::string_view>> cases = {
        {"telemetry", "telemetry: expected at least one of latency, window-s, prometheus"},
        {"telemetry frob 1", "telemetry: unknown keyword 'frob'"},
        {"telemetry latency", "telemetry: missing value for 'latency'"},
        {"telemetry latency yes", "telemetry: latency 'yes' is neither 'on' nor 'off'"},
        {"telemetry latency ON", "telemetry: latency 'ON' is neither 'on' nor 'off'"},
        {"telemetry latency on latency off", "telemetry: 'latency' given twice"},
        {"telemetry window-s 5 latency on window-s 6", "telemetry: 'window-s' given twice"},
        {"telemetry prometheus off prometheus off", "telemetry: 'prometheus' given twice"},
        {"telemetry window-s", "telemetry: missing value for 'window-s'"},
        {"telemetry window-s 0", "telemetry: window-s 0 out of range 1..3600"},
        {"telemetry window-s 3601", "telemetry: window-s 3601 out of range 1..3600"},
        {"telemetry window-s 99999999999999999999999",
         "telemetry: window-s 99999999999999999999999 out of range 1..3600"},
        {"telemetry window-s ten", "telemetry: window-s 'ten' is not a number"},
        {"telemetry window-s -1", "telemetry: window-s '-1' is not a number"},
        {"telemetry window-s 10s", "telemetry: window-s '10s' is not a number"},
        {"telemetry prometheus", "telemetry: missing value for 'prometheus'"},
        {"telemetry prometheus 9100", "telemetry: prometheus '9100' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus localhost:9100",
         "telemetry: prometheus 'localhost:9100' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus 127.0.0.1:",
         "telemetry: prometheus '127.0.0.1:' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus 127.0.0.1:65536",
         "telemetry: prometheus '127.0.0.1:65536' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus 127.0.0.1:http",
         "telemetry: prometheus '127.0.0.1:http' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus ::1:9100", "telemetry: prometheus '::1:9100' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus [127.0.0.1]:9100",
         "telemetry: prometheus '[127.0.0.1]:9100' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"telemetry prometheus [::1:9100", "telemetry: prometheus '[::1:9100' is not <IPv4>:<port> or [<IPv6>]:<port>"},
        {"control", "control: expected at least one of socket, group"},
        {"control user root", "control: unknown keyword 'user'"},
        {"control socket", "control: missing value for 'socket'"},
        {"control socket /a group", "control: missing value for 'group'"},
        {"control socket run/gw.sock",
         "control: socket 'run/gw.sock' must be an absolute file path shorter than 108 bytes"},
        {"control socket /a.sock socket /b.sock", "control: 'socket' given twice"},
        {"control group a group b", "control: 'group' given twice"},
        {"control group gw.adm", "control: group 'gw.adm' is not a group name"},
        {"control group gw$", "control: group 'gw$' is not a group name"},
    };
    for (const auto& [statement, reason] : cases) {
        EXPECT_EQ(fail_at_8(statement), "gw.conf:8: " + std::string(reason));
    }
}

TEST(ConfigTelemetryTest, FormatRoundTrip) {
    Config c = must_parse(kBase);
    c.telemetry = TelemetryConfig{.latency = false, .window_s = 30, .prometheus = "[::]:9100"};
    c.control = ControlConfig{.socket = "/run/gw/a.sock", .group = "gwctl"};
    const std::string text = format_config(c);
    EXPECT_TRUE(
        text.ends_with("telemetry latency off window-s 30 prometheus [::]:9100\n"
                       "control socket /run/gw/a.sock group gwctl\n"))
        << text;
    EXPECT_EQ(without_lines(must_parse(text)), without_lines(c)) << text;
    EXPECT_EQ(format_config(must_parse(text)), text);

    // One key off its default writes the whole telemetry statement; control only what is set.
    Config only;
    only.telemetry.prometheus = "127.0.0.1:9100";
    only.control.group = "adm";
    EXPECT_EQ(format_config(only),
              "telemetry latency on window-s 10 prometheus 127.0.0.1:9100\n"
              "control group adm\n");
    EXPECT_EQ(must_parse(format_config(only)), only);
    Config socket_only;
    socket_only.control.socket = "/tmp/x.sock";
    EXPECT_EQ(format_config(socket_only), "control socket /tmp/x.sock\n");
    EXPECT_EQ(must_parse(format_config(socket_only)), socket_only);
    EXPECT_EQ(format_config(must_parse(kBase)).find("telemetry"), std::string::npos) << "defaults write nothing";
    EXPECT_EQ(format_config(must_parse(kBase)).find("control"), std::string::npos);
}

}  // namespace
}  // namespace gw::cp
