// gwgen: the project's DPDK traffic generator and receiver. Sends streams of signed UDP
// packets (rate, sizes, flows, payload, IPv4/IPv6) on DPDK ports, receives them back (a
// loop, or through a DUT) and reports per stream throughput, loss, duplicates,
// reordering and latency percentiles, per interval and overall; or searches the RFC 2544
// throughput and measures latency at fractions of it. See pktgen/README.md.
//
// Every failure ends here with one line. Exit codes: 0 done (also after SIGINT, with the
// partial results), 1 runtime or environment failure, 2 invalid command line, profile or
// options, 3 done but mbufs did not return to the pool.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include "common/log.h"
#include "pktgen/gwgen/eal_args.h"
#include "pktgen/gwgen/generator.h"
#include "pktgen/gwgen/report.h"
#include "pktgen/gwgen/rfc2544.h"
#include "pktgen/gwgen/spec.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr int kExitLeak = 3;

// Counted by the signal handler: 1 stops sending and drains, 2 stops at once.
std::atomic<int> g_interrupts{0};
static_assert(std::atomic<int>::is_always_lock_free);

void on_signal(int) {
    g_interrupts.fetch_add(1, std::memory_order_relaxed);
}

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "gwgen: %s\n", message.c_str());
    return code;
}

struct Cli {
    gw::gen::Options opt;
    std::vector<std::string> stream_specs;
    std::vector<std::string> profiles;
    std::string dst_mac;
    std::string link_speed;
    std::string tx_lcores = "1";
    std::string latency_loads = "10,50,90,100";
};

gw::Result<gw::gen::Options> build_options(Cli& cli) {
    auto& o = cli.opt;
    for (const auto& path : cli.profiles) {
        auto profile = gw::gen::load_profile(path);
        if (!profile) {
            return std::unexpected(profile.error());
        }
        o.streams.insert(o.streams.end(), profile->streams.begin(), profile->streams.end());
        if (o.duration_s == 0) {
            o.duration_s = profile->duration_s;
        }
    }
    for (std::size_t i = 0; i < cli.stream_specs.size(); ++i) {
        auto s = gw::gen::parse_stream(cli.stream_specs[i], fmt::format("--stream #{}", i + 1));
        if (!s) {
            return std::unexpected(s.error());
        }
        o.streams.push_back(std::move(*s));
    }
    if (!cli.dst_mac.empty()) {
        auto m = gw::net::parse_mac(cli.dst_mac);
        if (!m) {
            return gw::make_error("--dst-mac '{}': not a MAC address", cli.dst_mac);
        }
        o.dst_mac = *m;
    }
    if (!cli.link_speed.empty()) {
        auto s = gw::gen::parse_link_speed_mbps(cli.link_speed);
        if (!s) {
            return std::unexpected(s.error());
        }
        o.link_speed_mbps = *s;
    }
    auto lcores = gw::gen::parse_lcore_list(cli.tx_lcores);
    if (!lcores) {
        return std::unexpected(lcores.error());
    }
    o.tx_lcores = *lcores;
    o.rfc2544.latency_loads_pct.clear();
    if (!cli.latency_loads.empty()) {
        std::size_t pos = 0;
        while (pos <= cli.latency_loads.size()) {
            const auto comma = cli.latency_loads.find(',', pos);
            const std::string item = cli.latency_loads.substr(pos, comma - pos);
            try {
                std::size_t used = 0;
                o.rfc2544.latency_loads_pct.push_back(std::stod(item, &used));
                if (used != item.size()) {
                    throw std::invalid_argument(item);
                }
            } catch (const std::exception&) {
                return gw::make_error("--latency-loads '{}': '{}' is not a percentage", cli.latency_loads, item);
            }
            if (comma == std::string::npos) {
                break;
            }
            pos = comma + 1;
        }
    }
    return gw::gen::validate(std::move(o));
}

// The RFC 2544 search and the latency trials after it.
gw::Result<gw::gen::Rfc2544Result> run_rfc2544(gw::gen::Generator& g, const gw::gen::Options& o, bool progress) {
    const auto& ro = o.rfc2544;
    gw::gen::Rfc2544Result res{.loss_threshold_pct = ro.loss_threshold_pct, .trial_s = ro.trial_s};
    const double threshold = ro.loss_threshold_pct / 100;
    auto trial = [&](double load) -> gw::Result<gw::gen::TrialVerdict> {
        gw::gen::Trial t{.label = fmt::format("search {:.2f}%", load * 100), .duration_s = ro.trial_s, .load = load};
        if (progress) {
            t.on_interval = [](const gw::gen::Interval& iv) {
                std::fputs(gw::gen::format_interval(iv).c_str(), stdout);
            };
        }
        auto r = g.run(t, g_interrupts);
        if (!r) {
            return std::unexpected(r.error());
        }
        const auto v = gw::gen::judge(*r, threshold);
        std::fputs(fmt::format("trial {:>6.2f}%: offered {}, frame loss {:.4f}% -> {}\n", load * 100,
                               gw::gen::format_pps(v.offered_pps), v.frame_loss_ratio * 100,
                               v.generator_limited ? "generator-limited (fail)" : (v.pass ? "pass" : "fail"))
                       .c_str(),
                   stdout);
        std::fflush(stdout);
        res.trials.push_back(std::move(*r));
        return v;
    };
    auto stop = [] { return g_interrupts.load(std::memory_order_relaxed) != 0; };
    auto out = gw::gen::search_throughput(gw::gen::SearchParams{.loss_threshold = threshold,
                                                                .resolution = ro.resolution_pct / 100,
                                                                .max_trials = ro.max_trials,
                                                                .min_load = ro.min_load_pct / 100},
                                          trial, stop);
    if (!out) {
        return std::unexpected(out.error());
    }
    res.verdicts = out->verdicts;
    res.found = out->found;
    res.load = out->load;
    res.interrupted = out->stopped || stop();
    if (res.found) {
        for (const auto& t : res.trials) {
            if (t.load == res.load) {
                res.pps = t.total.target_pps;
                res.bps = t.total.target_bps;
            }
        }
        for (double pct : ro.latency_loads_pct) {
            if (stop()) {
                res.interrupted = true;
                break;
            }
            gw::gen::Trial t{.label = fmt::format("latency at {:g}% of throughput", pct),
                             .duration_s = ro.trial_s,
                             .load = res.load * pct / 100};
            auto r = g.run(t, g_interrupts);
            if (!r) {
                return std::unexpected(r.error());
            }
            res.latency_trials.push_back(std::move(*r));
        }
    }
    return res;
}

int run(const gw::gen::Options& o, const std::string& command_line) {
    const auto args = gw::gen::build_eal_args(o);
    std::vector<char*> argv;
    std::string joined;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
        joined += " " + a;
    }
    if (o.log_level == "debug" || o.log_level == "info") {
        std::fprintf(stderr, "gwgen: eal:%s\n", joined.c_str());
    }
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        return fail(kExitRuntime, std::string("EAL init failed: ") + rte_strerror(rte_errno) +
                                      " (root? hugepages, or --no-huge? lcores:" + joined + ")");
    }
    int code = kExitOk;
    {
        auto g = gw::gen::Generator::create(o);
        if (!g) {
            code = fail(kExitRuntime, g.error().message);
        } else {
            gw::gen::Json doc{{"tool", "gwgen"},
                              {"command", command_line},
                              {"tsc_hz", (*g)->tsc_hz()},
                              {"mode", o.rfc2544.enabled ? "rfc2544" : "run"}};
            doc["options"] = {{"duration_s", o.duration_s}, {"drain_s", o.drain_s},     {"interval_s", o.interval_s},
                              {"burst", o.burst},           {"tx_lcores", o.tx_lcores}, {"rx_lcore", o.rx_lcore},
                              {"max_lag_us", o.max_lag_us}, {"seed", o.seed},           {"rx_queues", o.rx_queues}};
            for (const auto& p : (*g)->ports()) {
                doc["ports"].push_back(gw::gen::to_json(p));
            }
            for (const auto& s : o.streams) {
                doc["streams"].push_back(gw::gen::to_json(s));
            }
            const bool progress = !o.quiet;
            if (o.rfc2544.enabled) {
                auto res = run_rfc2544(**g, o, progress);
                if (!res) {
                    code = fail(kExitRuntime, res.error().message);
                } else {
                    for (const auto& t : res->latency_trials) {
                        std::fputs(gw::gen::format_run(t).c_str(), stdout);
                    }
                    std::fputs(gw::gen::format_rfc2544(*res).c_str(), stdout);
                    doc["rfc2544"] = gw::gen::to_json(*res);
                }
            } else {
                gw::gen::Trial t{.label = "gwgen", .duration_s = o.duration_s};
                if (progress) {
                    t.on_interval = [](const gw::gen::Interval& iv) {
                        std::fputs(gw::gen::format_interval(iv).c_str(), stdout);
                        std::fflush(stdout);
                    };
                }
                auto r = (*g)->run(t, g_interrupts);
                if (!r) {
                    code = fail(kExitRuntime, r.error().message);
                } else {
                    std::fputs(gw::gen::format_run(*r).c_str(), stdout);
                    doc["run"] = gw::gen::to_json(*r);
                }
            }
            const auto pool = (*g)->shutdown();
            doc["mempool"] = gw::gen::to_json(pool);
            std::printf("mempool: %u mbufs, %u in use after the ports stopped%s\n", pool.size, pool.in_use(),
                        pool.in_use() == 0 ? " (none leaked)" : " (LEAKED)");
            std::fflush(stdout);
            if (!o.json_path.empty() && code == kExitOk) {
                std::ofstream out(o.json_path);
                out << doc.dump(1) << '\n';
                if (!out) {
                    code = fail(kExitRuntime, fmt::format("cannot write JSON to '{}'", o.json_path));
                }
            }
            if (pool.in_use() != 0 && code == kExitOk) {
                code = fail(kExitLeak, fmt::format("{} mbufs did not return to the pool", pool.in_use()));
            }
        }
    }
    // EAL leaves its (empty, with --in-memory or --no-shconf) runtime directory behind.
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    ::rmdir(runtime_dir.c_str());
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    Cli cli;
    auto& o = cli.opt;
    CLI::App app{"gwgen: DPDK traffic generator and receiver (throughput, loss, reordering, latency, RFC 2544)"};
    app.footer(
        "Streams: --stream 'rate=50kpps size=imix flows=100 src=10.0.0.1-10.0.0.100 dmac=02:00:00:00:01:01'\n"
        "keys: name rate size count start stop src dst sport dport flows payload ip smac dmac port lane\n"
        "EAL arguments go after --. Example (a net_ring loop, no hugepages):\n"
        "  gwgen --no-huge --port net_ring0 --stream 'rate=100kpps size=64' --duration 2 --json run.json");
    app.add_option("-p,--port", o.ports, "a port's DPDK devargs (PCI address or vdev); repeat for more")->required();
    app.add_option("-s,--stream", cli.stream_specs, "a stream: space-separated key=value (see pktgen/README.md)");
    app.add_option("-f,--profile", cli.profiles, "a profile: 'stream key=value ...' lines, optionally 'duration S'");
    app.add_option("-d,--duration", o.duration_s,
                   "seconds of sending (default: the profile's, else from counts, else 10)");
    app.add_option("--drain", o.drain_s, "seconds to wait for packets in flight after sending ends")
        ->capture_default_str();
    app.add_option("--interval", o.interval_s, "seconds per interval of the time series")->capture_default_str();
    app.add_option("--burst", o.burst, "packets per tx/rx burst")->capture_default_str();
    app.add_option("--dst-mac", cli.dst_mac, "destination MAC of streams without dmac= (the DUT's port)");
    app.add_option("--link-speed", cli.link_speed, "link speed for % rates (10G, 25000M); default: the port's");
    app.add_option("--tx-lcores", cli.tx_lcores, "lcores that send (one tx queue each on every port)")
        ->capture_default_str();
    app.add_option("--rx-lcore", o.rx_lcore, "lcore that receives (may be a tx lcore)")->capture_default_str();
    app.add_option("--main-lcore", o.main_lcore, "lcore of the control loop")->capture_default_str();
    app.add_option("--rx-queues", o.rx_queues, "rx queues per port")->capture_default_str();
    app.add_option("--rx-desc", o.rx_desc, "rx descriptors per queue")->capture_default_str();
    app.add_option("--tx-desc", o.tx_desc, "tx descriptors per queue")->capture_default_str();
    app.add_option("--mbufs", o.mbufs, "mbufs in the pool (default: sized from ports and queues)");
    app.add_option("--max-lag-us", o.max_lag_us, "a stream further behind schedule skips ahead (a slip)")
        ->capture_default_str();
    app.add_option("--seed", o.seed, "seed of sizes and payloads")->capture_default_str();
    app.add_option("--link-timeout", o.link_timeout_s, "seconds to wait for links to come up")->capture_default_str();
    app.add_flag("--rfc2544", o.rfc2544.enabled, "search the highest load with loss <= --loss-threshold");
    app.add_option("--loss-threshold", o.rfc2544.loss_threshold_pct, "RFC 2544: accepted frame loss, %")
        ->capture_default_str();
    app.add_option("--trial-duration", o.rfc2544.trial_s, "RFC 2544: seconds per trial")->capture_default_str();
    app.add_option("--max-trials", o.rfc2544.max_trials, "RFC 2544: search trials at most")->capture_default_str();
    app.add_option("--resolution", o.rfc2544.resolution_pct, "RFC 2544: stop when the interval is this narrow, %")
        ->capture_default_str();
    app.add_option("--min-load", o.rfc2544.min_load_pct, "RFC 2544: floor of the search, % of the configured rates")
        ->capture_default_str();
    app.add_option("--latency-loads", cli.latency_loads, "RFC 2544: latency trials at these % of the throughput")
        ->capture_default_str();
    app.add_flag("--no-huge", o.no_huge, "EAL without hugepages (--no-huge --no-shconf)");
    app.add_option("-m,--memory", o.memory_mb, "EAL memory in MB (default 512 with --no-huge)");
    app.add_option("--file-prefix", o.file_prefix, "EAL file prefix (default gwgen-<pid>)");
    app.add_option("--log-level", o.log_level, "error, warn, info or debug")
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
        ->capture_default_str();
    app.add_option("--json", o.json_path, "write every result (time series included) to this JSON file");
    app.add_flag("-q,--quiet", o.quiet, "no per-interval lines");
    // Everything after "--" goes to EAL untouched (CLI11 would judge it as its own options).
    int own_argc = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") {
            own_argc = i;
            o.eal_extra.assign(argv + i + 1, argv + argc);
            break;
        }
    }
    try {
        app.parse(own_argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? kExitOk : kExitUsage;
    }
    const std::pair<const char*, gw::log::Level> levels[] = {{"error", gw::log::Level::error},
                                                             {"warn", gw::log::Level::warn},
                                                             {"info", gw::log::Level::info},
                                                             {"debug", gw::log::Level::debug}};
    for (const auto& [name, level] : levels) {
        if (o.log_level == name) {
            gw::log::set_level(level);
        }
    }
    auto options = build_options(cli);
    if (!options) {
        return fail(kExitUsage, options.error().message);
    }
    std::string command_line;
    for (int i = 0; i < argc; ++i) {
        command_line += (i ? " " : "") + std::string(argv[i]);
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    return run(*options, command_line);
}
