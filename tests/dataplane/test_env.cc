#include "tests/dataplane/test_env.h"

#include <unistd.h>

#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>

#include "common/log.h"

namespace gw::test {

void EalEnvironment::SetUp() {
    // Data plane setup logs one line per port and pool; only problems matter here.
    log::set_level(log::Level::warn);
    std::vector<std::string> args = {
        "dataplane_test",
        "-l",
        "0,1",
        "--no-huge",
        "--no-shconf",
        "-m",
        "512",
        "--no-pci",
        "--log-level=error",
        "--file-prefix=gwtest" + std::to_string(getpid()),
    };
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    // A fatal failure here makes gtest skip every test: all of them need EAL.
    ASSERT_GE(rc, 0) << "rte_eal_init: " << rte_strerror(rte_errno);
    initialized_ = true;
}

void EalEnvironment::TearDown() {
    if (initialized_) {
        EXPECT_EQ(rte_eal_cleanup(), 0);
        initialized_ = false;
    }
}

}  // namespace gw::test

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // gtest owns the environment and deletes it after TearDown.
    ::testing::AddGlobalTestEnvironment(new gw::test::EalEnvironment());
    return RUN_ALL_TESTS();
}
