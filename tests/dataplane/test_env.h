#pragma once
// The process-wide DPDK environment of dataplane_test: rte_eal_init once, with
// no hugepages, no PCI and a per-process file prefix, so the tests need no NIC
// and can run beside each other; rte_eal_cleanup when every test is done.
// Lcore 1 is enabled (the config's `worker 1` must exist) but never launched:
// tests step workers on the main thread with Worker::poll_once.

#include <gtest/gtest.h>

namespace gw::test {

class EalEnvironment : public ::testing::Environment {
public:
    void SetUp() override;
    void TearDown() override;

private:
    bool initialized_ = false;
};

}  // namespace gw::test
