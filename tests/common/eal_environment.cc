#include "tests/common/eal_environment.h"

#include <unistd.h>

#include <utility>

#include <rte_eal.h>
#include <rte_errno.h>

namespace gw::test {

EalEnvironment::EalEnvironment(std::string program, std::string file_prefix, log::Level log_level,
                               std::vector<std::string> extra_args)
    : program_(std::move(program)),
      file_prefix_(std::move(file_prefix)),
      log_level_(log_level),
      extra_args_(std::move(extra_args)) {}

void EalEnvironment::SetUp() {
    log::set_level(log_level_);
    std::vector<std::string> args = {
        program_,
        "-l",
        "0,1",
        "--no-huge",
        "--no-shconf",
        "-m",
        "512",
        "--no-pci",
        "--no-telemetry",
        "--log-level=error",
        "--file-prefix=" + file_prefix_ + std::to_string(getpid()),
    };
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    // A fatal failure here makes gtest skip every test: all of them need EAL.
    ASSERT_GE(rc, 0) << "rte_eal_init: " << rte_strerror(rte_errno);
    runtime_dir_ = rte_eal_get_runtime_dir();
}

void EalEnvironment::TearDown() {
    if (!runtime_dir_.empty()) {
        EXPECT_EQ(rte_eal_cleanup(), 0);
        ::rmdir(runtime_dir_.c_str());
        runtime_dir_.clear();
    }
}

}  // namespace gw::test
