// main() of dataplane_test: the shared EAL environment (tests/common/eal_environment.h).
// Lcore 1 is enabled (the config's `worker 1` must exist) but never launched:
// tests step workers on the main thread with Worker::poll_once.

#include "tests/common/eal_environment.h"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // Data plane setup logs one line per port and pool; only problems matter here.
    // gtest owns the environment and deletes it after TearDown.
    ::testing::AddGlobalTestEnvironment(new gw::test::EalEnvironment("dataplane_test", "gwtest", gw::log::Level::warn));
    return RUN_ALL_TESTS();
}
