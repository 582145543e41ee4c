#pragma once
// The process-wide DPDK environment of a unit-test binary: rte_eal_init once,
// with no hugepages, no PCI, no telemetry socket and a per-process file prefix, so the tests need no
// NIC and can run beside each other; rte_eal_cleanup and the runtime directory
// removed when every test is done. Lcores 0 and 1 are enabled (lcore 1 for a
// `worker 1` or a lane); tests decide whether anything is launched on them.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/log.h"

namespace gw::test {

class EalEnvironment : public ::testing::Environment {
public:
    // program: argv[0]; file_prefix: followed by the pid; extra_args: appended.
    EalEnvironment(std::string program, std::string file_prefix, log::Level log_level,
                   std::vector<std::string> extra_args = {});
    void SetUp() override;
    void TearDown() override;

private:
    std::string program_;
    std::string file_prefix_;
    log::Level log_level_;
    std::vector<std::string> extra_args_;
    std::string runtime_dir_;  // set once EAL is up
};

}  // namespace gw::test
