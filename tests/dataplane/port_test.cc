// configure_port's failure contract: a port that fails after its queues were set up is
// closed, so that no queue outlives the mempool the caller frees on that error.

#include <gtest/gtest.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "controlplane/config.h"
#include "dataplane/port.h"

namespace gw::dp {
namespace {

TEST(PortTest, FailedStartClosesThePortAndLeavesThePoolWhole) {
    constexpr unsigned kMbufs = 1023;
    rte_mempool* pool =
        rte_pktmbuf_pool_create("port_test_pool", kMbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(pool, nullptr);
    char dir_template[] = "/tmp/gw-port-test.XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    // A memif client whose server socket does not exist: probe and queue setup succeed,
    // rte_eth_dev_start fails.
    const std::string devargs = fmt::format("net_memif7,role=client,socket={}/absent.sock,socket-abstract=no", dir);
    auto id = probe_port(devargs);
    ASSERT_TRUE(id) << id.error().message;

    auto q = configure_port(*id, cp::PortConfig{.name = "m", .devargs = devargs}, 1, pool);
    ASSERT_FALSE(q);
    EXPECT_NE(q.error().message.find("port 'm': start failed"), std::string::npos) << q.error().message;
    EXPECT_FALSE(rte_eth_dev_is_valid_port(*id)) << "the port must be closed after a failed start";
    EXPECT_EQ(rte_mempool_avail_count(pool), kMbufs);

    rte_mempool_free(pool);
    rte_eal_hotplug_remove("vdev", "net_memif7");
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gw::dp
