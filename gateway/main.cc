// gatewayd: loads and validates the startup config, brings up EAL, ports and
// workers, then runs the control loop until SIGINT/SIGTERM.
//
// Every startup failure ends here, in one place, with one line naming what
// failed and why. Exit codes: 0 clean stop, 1 runtime/environment failure,
// 2 invalid command line or config, 3 stopped but mbufs leaked.

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "common/log.h"
#include "controlplane/config.h"
#include "controlplane/control_server.h"
#include "controlplane/metrics_exporter.h"
#include "dataplane/dataplane.h"
#include "ebpf/xdp_fast_path.h"
#include "gateway/control.h"
#include "gateway/dpdk_telemetry.h"
#include "gateway/eal_args.h"
#include "gateway/report.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;
constexpr int kExitLeak = 3;

// Written by the signal handlers only; lock-free, so async-signal-safe.
std::atomic<int> g_signal{0};
std::atomic<bool> g_reload{false};
static_assert(std::atomic<int>::is_always_lock_free);

void on_signal(int sig) {
    g_signal.store(sig, std::memory_order_relaxed);
}
void on_hangup(int) {
    g_reload.store(true, std::memory_order_relaxed);
}

struct Options {
    std::string config_path;
    std::string log_level = "info";
    std::string stats_json;
    bool check_only = false;
};

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "gatewayd: %s\n", message.c_str());
    return code;
}

constexpr const char* kVersion = "0.1.0";

int run_gateway(const Options& opt) {
    auto config = gw::cp::load_config(opt.config_path);
    if (!config) {
        return fail(kExitConfig, config.error().message);
    }
    const gw::cp::Config startup = *config;  // as written; prepare() may adjust devargs
    if (opt.check_only) {
        std::printf("config OK: %zu ports, %zu workers, %zu routes, %zu neighbors\n", config->ports.size(),
                    config->workers.size(), config->routes.size(), config->neighbors.size());
        return kExitOk;
    }

    // XDP before any port exists: af_packet ports get the program attached now;
    // af_xdp ports get xdp_prog= in their devargs (see ebpf/xdp_fast_path.h).
    auto xdp = gw::bpf::XdpFastPath::prepare(*config);
    if (!xdp) {
        return fail(kExitRuntime, xdp.error().message);
    }

    const auto args = gw::build_eal_args(*config, gw::log::level() >= gw::log::Level::debug);
    std::string joined;
    std::vector<char*> argv;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
        joined += " " + a;
    }
    gw::log::info("eal:{}", joined);
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        return fail(kExitRuntime, std::string("EAL init failed: ") + rte_strerror(rte_errno) +
                                      " (root? hugepages? see scripts/setup-host.sh)");
    }

    gw::dpdk_telemetry::register_commands();
    gw::dpdk_telemetry::enable_pdump();

    int code = kExitOk;
    {
        auto dataplane = gw::dp::Dataplane::create(*config);
        if (!dataplane) {
            code = fail(kExitRuntime, dataplane.error().message);
            xdp->detach();
        } else if (auto st = xdp->adopt(); !st) {
            code = fail(kExitRuntime, st.error().message);
        } else if (auto st = (*dataplane)->start(); !st) {
            code = fail(kExitRuntime, st.error().message);
        } else {
            auto& dp = **dataplane;
            gw::Control control(dp, *xdp, startup, opt.config_path);
            gw::cp::CommandRegistry registry(kVersion);
            control.register_commands(registry);
            auto server =
                gw::cp::ControlServer::listen(gw::cp::ControlServerOptions{.path = gw::cp::control_socket_path(*config),
                                                                           .group = config->control.group},
                                              registry);
            std::unique_ptr<gw::cp::MetricsExporter> exporter;
            if (!server) {
                code = fail(kExitRuntime, server.error().message);
            } else if (!config->telemetry.prometheus.empty()) {
                auto e = gw::cp::MetricsExporter::start(config->telemetry.prometheus, kVersion);
                if (!e) {
                    code = fail(kExitRuntime, e.error().message);
                } else {
                    exporter = std::move(*e);
                }
            }
            if (code == kExitOk) {
                gw::log::info("ready: {} ports, {} workers; control socket {}", config->ports.size(),
                              config->workers.size(), gw::cp::control_socket_path(*config));
            }
            const uint64_t tick_tsc = rte_get_tsc_hz();
            uint64_t next_tick = rte_rdtsc() + tick_tsc;
            while (code == kExitOk && g_signal.load(std::memory_order_relaxed) == 0) {
                if (g_reload.exchange(false, std::memory_order_relaxed)) {
                    if (auto done = control.reload({}); done) {
                        gw::log::info("SIGHUP: {}", *done);
                    } else {
                        gw::log::error("SIGHUP: reload rejected, running state unchanged: {}", done.error().message);
                    }
                }
                const uint64_t now = rte_rdtsc();
                if (now >= next_tick) {
                    dp.tick(now);
                    dp.collect_latency();
                    auto snapshot = control.snapshot();
                    gw::dpdk_telemetry::publish(snapshot);
                    if (exporter) {
                        exporter->publish(std::move(snapshot));
                    }
                    next_tick = now + tick_tsc;
                }
                const unsigned served = (*server)->poll(0);
                if (dp.poll_control(now) == 0 && served == 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            }
            if (g_signal.load() != 0) {
                gw::log::info("signal {}: stopping", g_signal.load());
            }
        }
        if (dataplane) {
            auto& dp = **dataplane;
            dp.stop();
            const auto report = gw::collect_report(dp);
            xdp->detach();  // pins (rules, counters) stay for the next start
            std::fputs(gw::format_report_text(report).c_str(), stdout);
            std::fputs(xdp->format_text().c_str(), stdout);
            std::fflush(stdout);
            if (!opt.stats_json.empty()) {
                std::ofstream out(opt.stats_json);
                if (xdp->empty()) {
                    out << gw::format_report_json(report);
                } else {
                    auto j = nlohmann::json::parse(gw::format_report_json(report));
                    j["xdp"] = xdp->to_json();
                    out << j.dump(2) << '\n';
                }
                if (!out) {
                    gw::log::error("cannot write stats to '{}'", opt.stats_json);
                }
            }
            if (report.mbufs_leaked != 0 && code == kExitOk) {
                code = fail(kExitLeak, std::to_string(report.mbufs_leaked) + " mbufs not returned to their pools");
            }
        }
    }
    gw::dpdk_telemetry::publish(nullptr);
    gw::dpdk_telemetry::disable_pdump();
    rte_eal_cleanup();
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    CLI::App app{"gatewayd: kernel-bypass IPsec gateway data plane"};
    app.add_option("-c,--config", opt.config_path, "startup config file")->required();
    app.add_option("--log-level", opt.log_level, "error, warn, info or debug")
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
    app.add_flag("--check", opt.check_only, "validate the config and exit");
    app.add_option("--stats-json", opt.stats_json, "write final counters as JSON to this file on exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? kExitOk : kExitConfig;
    }
    const std::pair<const char*, gw::log::Level> levels[] = {{"error", gw::log::Level::error},
                                                             {"warn", gw::log::Level::warn},
                                                             {"info", gw::log::Level::info},
                                                             {"debug", gw::log::Level::debug}};
    for (const auto& [name, level] : levels) {
        if (opt.log_level == name) {
            gw::log::set_level(level);
        }
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    struct sigaction hup {};
    hup.sa_handler = on_hangup;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, nullptr);
    return run_gateway(opt);
}
