#include "gateway/control.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <rte_cycles.h>

#include "common/log.h"
#include "common/net.h"
#include "dataplane/drop_reasons.h"

namespace gw::telemetry {
// JSON members are the struct members' names (docs/cli.md).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LatencySummary, count, sum_ns, min_ns, max_ns, p50_ns, p90_ns, p99_ns, p999_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LatencyBuckets, cumulative, count, sum_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Latency, window, since_start, buckets)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PortStats, name, driver, mac, mtu, link_up, link_speed_mbps, rx_queues, tx_queues,
                                   ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(QueueStats, port, queue, lcore, rx_packets, rx_bytes, polls, empty_polls, latency)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StageStats, name, calls, packets, cycles)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DropCount, reason, packets)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LcoreStats, lcore, role, rx_packets, rx_bytes, tx_packets, tx_bytes, polls,
                                   empty_polls, busy_cycles, total_cycles, punted, icmp_sent, icmp_rate_limited,
                                   fragments_made, drops, stages, latency)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SaStats, name, spi, direction, cipher, local, remote, esn, packets, bytes,
                                   replay_drops, auth_drops, seq)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(XdpVerdict, iface, verdict, packets, bytes)
}  // namespace gw::telemetry

namespace gw {
namespace {

using cp::CommandArgs;
using cp::CommandReply;
using cp::View;
namespace code = cp::reply_code;

std::string join(CommandArgs args, std::size_t from = 0) {
    std::string out;
    for (std::size_t i = from; i < args.size(); ++i) {
        out += (out.empty() ? "" : " ") + args[i];
    }
    return out;
}

// "command:57: route 10.0.0.0/8: ..." -> "route 10.0.0.0/8: ...": the line
// number points into a generated text the operator never saw.
std::string without_location(const std::string& message) {
    static const std::regex kLocation(R"(^[^:]*:[0-9]+: )");
    return std::regex_replace(message, kLocation, "", std::regex_constants::format_first_only);
}

std::string ns_text(uint64_t ns) {
    if (ns < 10'000) {
        return fmt::format("{}ns", ns);
    }
    if (ns < 10'000'000) {
        return fmt::format("{:.1f}us", static_cast<double>(ns) / 1e3);
    }
    return fmt::format("{:.1f}ms", static_cast<double>(ns) / 1e6);
}

std::string ratio_text(uint64_t num, uint64_t den, int precision = 1) {
    if (den == 0) {
        return "-";
    }
    return fmt::format("{:.{}f}", static_cast<double>(num) / static_cast<double>(den), precision);
}

std::string percent_text(uint64_t num, uint64_t den) {
    return den == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * static_cast<double>(num) / static_cast<double>(den));
}

void latency_row(View& v, std::string scope, const telemetry::LatencySummary& l) {
    v.rows.push_back({std::move(scope), std::to_string(l.count), ns_text(l.min_ns), ns_text(l.p50_ns),
                      ns_text(l.p90_ns), ns_text(l.p99_ns), ns_text(l.p999_ns), ns_text(l.max_ns)});
}

View latency_view(std::string title) {
    return View{.title = std::move(title),
                .columns = {"scope", "packets", "min", "p50", "p90", "p99", "p99.9", "max"},
                .rows = {},
                .text = {}};
}

std::string route_text(const cp::Config& c, const cp::RouteConfig& r) {
    if (r.blackhole) {
        return "blackhole";
    }
    std::string out;
    if (r.via) {
        out = "via " + net::to_string(*r.via) + " ";
    }
    return out + "port " + c.ports[r.port].name;
}

std::string policy_text(const cp::Config& c, const cp::PolicyConfig& p) {
    std::string out = fmt::format("{} priority {} src {} dst {}", p.direction == cp::IpsecDirection::in ? "in" : "out",
                                  p.priority, net::to_string(p.src), net::to_string(p.dst));
    if (p.proto) {
        out += fmt::format(" proto {}", *p.proto == 6    ? std::string("tcp")
                                        : *p.proto == 17 ? std::string("udp")
                                                         : std::to_string(*p.proto));
    }
    auto range = [](const cp::PortRange& r) {
        return r.lo == r.hi ? std::to_string(r.lo) : fmt::format("{}-{}", r.lo, r.hi);
    };
    if (!p.sport.any()) {
        out += " sport " + range(p.sport);
    }
    if (!p.dport.any()) {
        out += " dport " + range(p.dport);
    }
    switch (p.action) {
        case cp::PolicyAction::protect:
            out += " protect " + c.sas[p.sa].name;
            break;
        case cp::PolicyAction::bypass:
            out += " bypass";
            break;
        case cp::PolicyAction::discard:
            out += " discard";
            break;
    }
    return out;
}

CommandReply ok_text(std::string text, nlohmann::json result = nlohmann::json::object()) {
    CommandReply r;
    r.result = std::move(result);
    r.views.push_back(View{.title = {}, .columns = {}, .rows = {}, .text = std::move(text)});
    return r;
}

CommandReply no_args(CommandArgs args) {
    return CommandReply::fail(std::string(code::kUsage), fmt::format("unexpected argument '{}'", args.front()));
}

}  // namespace

std::string mask_keys(std::string text) {
    static const std::regex kKey(R"(\bkey (0x)?[0-9a-fA-F]+)");
    return std::regex_replace(text, kKey, "key (hidden)");
}

Status write_private_file(const std::filesystem::path& path, const std::string& text) {
    const auto tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return make_errno_error(errno, "cannot write '{}': {}", tmp, std::strerror(errno));
    }
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_errno_error(err, "cannot write '{}': {}", tmp, std::strerror(err));
        }
        done += static_cast<std::size_t>(n);
    }
    // Mode 0600 even when the file existed with looser bits.
    if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return make_errno_error(err, "cannot write '{}': {}", tmp, std::strerror(err));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return make_errno_error(err, "cannot replace '{}': {}", path.string(), std::strerror(err));
    }
    return {};
}

Control::Control(dp::Dataplane& dataplane, bpf::XdpFastPath& xdp, cp::Config startup, std::filesystem::path path)
    : dp_(dataplane), xdp_(xdp), running_(std::move(startup)), path_(std::move(path)) {}

telemetry::SnapshotPtr Control::snapshot() const {
    auto s = std::make_shared<telemetry::Snapshot>(dp_.snapshot());
    s->xdp = xdp_.verdicts();
    return s;
}

Result<cp::Config> Control::with_statement(const cp::Config& base, const std::string& statement) const {
    auto next = cp::parse_config(cp::format_config(base) + statement + "\n", "command");
    if (!next) {
        return make_error("{}", without_location(next.error().message));
    }
    return next;
}

Status Control::apply(const cp::Config& next) {
    const bool routes = cp::without_lines(next).routes != cp::without_lines(running_).routes;
    const bool ipsec = cp::without_lines(next).sas != cp::without_lines(running_).sas ||
                       cp::without_lines(next).policies != cp::without_lines(running_).policies;
    const bool xdp = next.xdp != running_.xdp;
    if (xdp && xdp_.empty() && !next.xdp.ports.empty()) {
        return make_error("xdp: no 'xdp port' was configured at startup");
    }
    if (routes) {
        if (auto st = dp_.apply_routes(next); !st) {
            return st;
        }
    }
    if (ipsec) {
        if (auto st = dp_.apply_ipsec(next, rte_rdtsc()); !st) {
            if (routes) {
                (void)dp_.apply_routes(running_);  // back to what was running
            }
            return st;
        }
    }
    if (xdp && !xdp_.empty()) {
        if (auto st = xdp_.update(next.xdp); !st) {
            (void)xdp_.update(running_.xdp);
            if (ipsec) {
                (void)dp_.apply_ipsec(running_, rte_rdtsc());
            }
            if (routes) {
                (void)dp_.apply_routes(running_);
            }
            return st;
        }
    }
    running_.routes = next.routes;
    running_.sas = next.sas;
    running_.policies = next.policies;
    running_.xdp = next.xdp;
    return {};
}

CommandReply Control::change(const cp::Config& next, std::string done) {
    if (auto st = apply(next); !st) {
        return CommandReply::fail(std::string(code::kInvalid), st.error().message + " (running state unchanged)");
    }
    log::info("control: {}", done);
    return ok_text(std::move(done));
}

Result<std::string> Control::reload(const std::filesystem::path& path) {
    const auto& file = path.empty() ? path_ : path;
    auto next = cp::load_config(file);
    if (!next) {
        return std::unexpected(next.error());
    }
    // Everything the data plane cannot change while it runs must be as running.
    cp::Config fixed = cp::without_lines(*next);
    cp::Config now = cp::without_lines(running_);
    std::vector<std::string> restart;
    auto differs = [&](bool d, const char* what) {
        if (d) {
            restart.emplace_back(what);
        }
    };
    differs(fixed.eal != now.eal, "eal");
    differs(fixed.mempool != now.mempool, "mempool");
    differs(fixed.dataplane != now.dataplane, "dataplane");
    differs(fixed.ports != now.ports, "port");
    differs(fixed.workers != now.workers, "worker");
    differs(fixed.neighbors != now.neighbors, "neighbor");
    differs(fixed.telemetry != now.telemetry, "telemetry");
    differs(fixed.control != now.control, "control");
    differs(fixed.xdp.ports != now.xdp.ports, "xdp port");
    // Applied parts come from the file; the rest stays as running.
    cp::Config candidate = running_;
    candidate.routes = next->routes;
    candidate.sas = next->sas;
    candidate.policies = next->policies;
    candidate.xdp = next->xdp;
    candidate.xdp.ports = running_.xdp.ports;
    if (!restart.empty()) {
        // Routes refer to ports by index: only valid if the ports are the same.
        if (fixed.ports != now.ports) {
            return make_error("'{}': ports differ from the running ones; restart gatewayd to apply it", file.string());
        }
    }
    if (auto st = apply(candidate); !st) {
        return std::unexpected(st.error());
    }
    std::string out =
        fmt::format("reloaded '{}': {} routes, {} SAs, {} policies, {} xdp blocks", file.string(),
                    running_.routes.size(), running_.sas.size(), running_.policies.size(), running_.xdp.blocks.size());
    if (!restart.empty()) {
        std::string list;
        for (const auto& r : restart) {
            list += (list.empty() ? "" : ", ") + r;
        }
        out += fmt::format("; not applied, need a restart: {}", list);
    }
    return out;
}

void Control::register_commands(cp::CommandRegistry& r) {
    // --- show ---
    r.add("show interface", "show interface [NAME]", "ports: link, queues, packets, bytes, misses and errors",
          [this](CommandArgs args) {
              const auto s = snapshot();
              if (args.size() > 1) {
                  return no_args(args.subspan(1));
              }
              View v{.title = "interfaces",
                     .columns = {"port", "driver", "mac", "link", "mtu", "rxq", "txq", "rx packets", "tx packets",
                                 "rx bytes", "tx bytes", "rx missed", "rx errors", "tx errors", "rx nombuf"},
                     .rows = {},
                     .text = {}};
              nlohmann::json ports = nlohmann::json::array();
              for (const auto& p : s->ports) {
                  if (!args.empty() && p.name != args[0]) {
                      continue;
                  }
                  ports.push_back(p);
                  v.rows.push_back({p.name, p.driver, p.mac,
                                    p.link_up ? fmt::format("up {}M", p.link_speed_mbps) : std::string("down"),
                                    std::to_string(p.mtu), std::to_string(p.rx_queues), std::to_string(p.tx_queues),
                                    std::to_string(p.ipackets), std::to_string(p.opackets), std::to_string(p.ibytes),
                                    std::to_string(p.obytes), std::to_string(p.imissed), std::to_string(p.ierrors),
                                    std::to_string(p.oerrors), std::to_string(p.rx_nombuf)});
              }
              if (!args.empty() && ports.empty()) {
                  return CommandReply::fail(std::string(code::kNotFound), fmt::format("no port '{}'", args[0]));
              }
              CommandReply reply;
              reply.result = {{"ports", ports}};
              reply.views.push_back(std::move(v));
              return reply;
          });

    auto show_queues = [this](CommandArgs args) {
        if (!args.empty()) {
            return no_args(args);
        }
        const auto s = snapshot();
        View v{.title = "rx placement",
               .columns = {"port", "queue", "lcore", "rx packets", "rx bytes", "polls", "empty", "p50", "p99", "p99.9"},
               .rows = {},
               .text = {}};
        for (const auto& q : s->queues) {
            v.rows.push_back({q.port, std::to_string(q.queue), std::to_string(q.lcore), std::to_string(q.rx_packets),
                              std::to_string(q.rx_bytes), std::to_string(q.polls), percent_text(q.empty_polls, q.polls),
                              ns_text(q.latency.window.p50_ns), ns_text(q.latency.window.p99_ns),
                              ns_text(q.latency.window.p999_ns)});
        }
        CommandReply reply;
        reply.result = {{"queues", s->queues}};
        reply.views.push_back(std::move(v));
        return reply;
    };
    r.add("show queues", "show queues", "rx queues: the lcore polling each, packets, idle polls, latency", show_queues);
    r.add("show interface rx-placement", "show interface rx-placement", "same as 'show queues'", show_queues);

    r.add("show runtime", "show runtime", "per lcore: load, packets, and calls/packets/cycles of each stage",
          [this](CommandArgs args) {
              if (!args.empty()) {
                  return no_args(args);
              }
              const auto s = snapshot();
              View lcores{.title = "lcores",
                          .columns = {"lcore", "role", "load", "rx packets", "tx packets", "polls", "empty",
                                      "cycles/pkt", "p50", "p99"},
                          .rows = {},
                          .text = {}};
              View stages{.title = fmt::format("stages (TSC {:.2f} GHz)", static_cast<double>(s->tsc_hz) / 1e9),
                          .columns = {"lcore", "stage", "calls", "packets", "packets/call", "cycles/packet"},
                          .rows = {},
                          .text = {}};
              for (const auto& l : s->lcores) {
                  const bool worker = l.role == "worker";
                  lcores.rows.push_back({std::to_string(l.lcore), l.role,
                                         worker ? percent_text(l.busy_cycles, l.total_cycles) : std::string("-"),
                                         std::to_string(l.rx_packets), std::to_string(l.tx_packets),
                                         std::to_string(l.polls), percent_text(l.empty_polls, l.polls),
                                         worker ? ratio_text(l.busy_cycles, l.rx_packets, 0) : std::string("-"),
                                         worker ? ns_text(l.latency.window.p50_ns) : std::string("-"),
                                         worker ? ns_text(l.latency.window.p99_ns) : std::string("-")});
                  for (const auto& st : l.stages) {
                      stages.rows.push_back({std::to_string(l.lcore), st.name, std::to_string(st.calls),
                                             std::to_string(st.packets), ratio_text(st.packets, st.calls),
                                             ratio_text(st.cycles, st.packets)});
                  }
              }
              CommandReply reply;
              reply.result = {{"tsc_hz", s->tsc_hz}, {"lcores", s->lcores}};
              reply.views.push_back(std::move(lcores));
              if (s->latency_enabled) {
                  reply.views.push_back(std::move(stages));
              } else {
                  reply.views.push_back(View{.title = {},
                                             .columns = {},
                                             .rows = {},
                                             .text = "stage cycles: off ('telemetry latency off' in the config)"});
              }
              return reply;
          });

    r.add(
        "show errors", "show errors [all]", "drops by reason, summed over lcores (non-zero ones unless 'all')",
        [this](CommandArgs args) {
            const bool all = !args.empty() && args[0] == "all";
            if (args.size() > (all ? 1u : 0u)) {
                return no_args(args.subspan(all ? 1 : 0));
            }
            const auto s = snapshot();
            std::vector<uint64_t> sum(dp::kNumDropReasons, 0);
            for (const auto& l : s->lcores) {
                for (std::size_t i = 0; i < l.drops.size() && i < sum.size(); ++i) {
                    sum[i] += l.drops[i].packets;
                }
            }
            View v{.title = "drops", .columns = {"count", "reason", "description"}, .rows = {}, .text = {}};
            nlohmann::json errors = nlohmann::json::array();
            for (std::size_t i = 0; i < sum.size(); ++i) {
                const auto& info = dp::kDropReasonInfo[i];
                errors.push_back({{"reason", info.label}, {"packets", sum[i]}, {"description", info.description}});
                if (sum[i] != 0 || all) {
                    v.rows.push_back({std::to_string(sum[i]), std::string(info.label), std::string(info.description)});
                }
            }
            CommandReply reply;
            reply.result = {{"errors", errors}};
            reply.views.push_back(std::move(v));
            return reply;
        });

    r.add("show latency", "show latency", "residence time percentiles: gateway, lcores, queues (window and total)",
          [this](CommandArgs args) {
              if (!args.empty()) {
                  return no_args(args);
              }
              const auto s = snapshot();
              CommandReply reply;
              reply.result = {{"enabled", s->latency_enabled},
                              {"window_s", s->window_s},
                              {"gateway", s->latency},
                              {"lcores", nlohmann::json::array()},
                              {"queues", nlohmann::json::array()}};
              if (!s->latency_enabled) {
                  reply.views.push_back(View{.title = {},
                                             .columns = {},
                                             .rows = {},
                                             .text = "latency: off ('telemetry latency on' in the config)"});
                  return reply;
              }
              View window = latency_view(fmt::format("last {} s", s->window_s));
              View total = latency_view("since start");
              latency_row(window, "gateway", s->latency.window);
              latency_row(total, "gateway", s->latency.since_start);
              for (const auto& l : s->lcores) {
                  if (l.role != "worker") {
                      continue;
                  }
                  reply.result["lcores"].push_back({{"lcore", l.lcore}, {"latency", l.latency}});
                  latency_row(window, fmt::format("lcore {}", l.lcore), l.latency.window);
                  latency_row(total, fmt::format("lcore {}", l.lcore), l.latency.since_start);
              }
              for (const auto& q : s->queues) {
                  reply.result["queues"].push_back(
                      {{"port", q.port}, {"queue", q.queue}, {"lcore", q.lcore}, {"latency", q.latency}});
                  latency_row(window, fmt::format("{}:{}", q.port, q.queue), q.latency.window);
                  latency_row(total, fmt::format("{}:{}", q.port, q.queue), q.latency.since_start);
              }
              reply.views.push_back(std::move(window));
              reply.views.push_back(std::move(total));
              return reply;
          });

    r.add("show ipsec sa", "show ipsec sa", "security associations and their counters (keys are never shown)",
          [this](CommandArgs args) {
              if (!args.empty()) {
                  return no_args(args);
              }
              const auto s = snapshot();
              View v{.title = "ipsec sa",
                     .columns = {"name", "spi", "dir", "cipher", "local", "remote", "esn", "packets", "bytes", "seq",
                                 "replay drops", "auth drops"},
                     .rows = {},
                     .text = {}};
              for (const auto& sa : s->sas) {
                  v.rows.push_back({sa.name, fmt::format("{:#x}", sa.spi), sa.direction, sa.cipher, sa.local, sa.remote,
                                    sa.esn ? "yes" : "no", std::to_string(sa.packets), std::to_string(sa.bytes),
                                    std::to_string(sa.seq), std::to_string(sa.replay_drops),
                                    std::to_string(sa.auth_drops)});
              }
              CommandReply reply;
              reply.result = {{"sas", s->sas}};
              reply.views.push_back(std::move(v));
              return reply;
          });

    r.add("show ipsec spd", "show ipsec spd", "security policies in priority order", [this](CommandArgs args) {
        if (!args.empty()) {
            return no_args(args);
        }
        View v{.title = "ipsec spd", .columns = {"policy"}, .rows = {}, .text = {}};
        nlohmann::json policies = nlohmann::json::array();
        auto sorted = running_.policies;
        std::ranges::stable_sort(sorted, [](const auto& a, const auto& b) {
            return std::tie(a.direction, a.priority) < std::tie(b.direction, b.priority);
        });
        for (const auto& p : sorted) {
            const auto text = policy_text(running_, p);
            policies.push_back(text);
            v.rows.push_back({text});
        }
        CommandReply reply;
        reply.result = {{"policies", policies}};
        reply.views.push_back(std::move(v));
        return reply;
    });

    r.add("show ip route", "show ip route", "configured routes (IPv4 and IPv6)", [this](CommandArgs args) {
        if (!args.empty()) {
            return no_args(args);
        }
        View v{.title = "routes", .columns = {"prefix", "next hop"}, .rows = {}, .text = {}};
        nlohmann::json routes = nlohmann::json::array();
        for (const auto& rt : running_.routes) {
            routes.push_back({{"prefix", net::to_string(rt.prefix)}, {"next_hop", route_text(running_, rt)}});
            v.rows.push_back({net::to_string(rt.prefix), route_text(running_, rt)});
        }
        CommandReply reply;
        reply.result = {{"routes", routes}};
        reply.views.push_back(std::move(v));
        return reply;
    });

    // --- changes ---
    r.add("ip route add", "ip route add PREFIX (via ADDRESS [port NAME] | port NAME | blackhole)",
          "add a static route (atomic FIB swap)", [this](CommandArgs args) {
              if (args.size() < 2) {
                  return CommandReply::fail(std::string(code::kUsage), "expected a prefix and a next hop");
              }
              auto next = with_statement(running_, "route " + join(args));
              if (!next) {
                  return CommandReply::fail(std::string(code::kInvalid), next.error().message);
              }
              const auto& added = next->routes.back();
              for (const auto& rt : running_.routes) {
                  if (rt.prefix == added.prefix) {
                      return CommandReply::fail(std::string(code::kInvalid),
                                                fmt::format("route {} exists ({}); delete it first",
                                                            net::to_string(rt.prefix), route_text(running_, rt)));
                  }
              }
              return change(*next,
                            fmt::format("route {} {} added", net::to_string(added.prefix), route_text(*next, added)));
          });
    r.add("ip route del", "ip route del PREFIX", "delete the static route for PREFIX", [this](CommandArgs args) {
        if (args.size() != 1) {
            return CommandReply::fail(std::string(code::kUsage), "expected one prefix");
        }
        auto prefix = net::parse_prefix(args[0]);
        if (!prefix) {
            return CommandReply::fail(std::string(code::kInvalid), fmt::format("'{}' is not a prefix", args[0]));
        }
        cp::Config next = running_;
        const auto removed =
            std::erase_if(next.routes, [&](const auto& rt) { return rt.prefix == prefix->canonical(); });
        if (removed == 0) {
            return CommandReply::fail(std::string(code::kNotFound),
                                      fmt::format("no route {}", net::to_string(prefix->canonical())));
        }
        return change(next, fmt::format("route {} deleted", net::to_string(prefix->canonical())));
    });

    r.add("ipsec sa add",
          "ipsec sa add NAME (in|out) spi SPI aes-gcm-128|aes-gcm-256 key 0xHEX tunnel LOCAL REMOTE [esn on] "
          "[replay-window N] [lifetime ...]",
          "add a security association (grammar of the config's 'ipsec sa'; the key is write-only)",
          [this](CommandArgs args) {
              if (args.empty()) {
                  return CommandReply::fail(std::string(code::kUsage), "expected an SA");
              }
              if (running_.find_sa(args[0])) {
                  return CommandReply::fail(
                      std::string(code::kInvalid),
                      fmt::format("sa '{}' exists; delete it first or use another name", args[0]));
              }
              auto next = with_statement(running_, "ipsec sa " + join(args));
              if (!next) {
                  return CommandReply::fail(std::string(code::kInvalid), next.error().message);
              }
              const auto& sa = next->sas.back();
              return change(*next, fmt::format("sa {} ({}bound, spi {:#x}) added", sa.name,
                                               sa.direction == cp::IpsecDirection::in ? "in" : "out", sa.spi));
          });
    r.add("ipsec sa del", "ipsec sa del NAME", "delete an SA no policy uses", [this](CommandArgs args) {
        if (args.size() != 1) {
            return CommandReply::fail(std::string(code::kUsage), "expected one SA name");
        }
        const auto idx = running_.find_sa(args[0]);
        if (!idx) {
            return CommandReply::fail(std::string(code::kNotFound), fmt::format("no sa '{}'", args[0]));
        }
        for (const auto& p : running_.policies) {
            if (p.action == cp::PolicyAction::protect && p.sa == *idx) {
                return CommandReply::fail(std::string(code::kInvalid),
                                          fmt::format("sa '{}' is used by policy '{}'; delete the policy first",
                                                      args[0], policy_text(running_, p)));
            }
        }
        cp::Config next = running_;
        next.sas.erase(next.sas.begin() + *idx);
        for (auto& p : next.policies) {
            if (p.action == cp::PolicyAction::protect && p.sa > *idx) {
                --p.sa;
            }
        }
        return change(next, fmt::format("sa {} deleted", args[0]));
    });
    r.add("ipsec policy add",
          "ipsec policy add (in|out) priority N src PREFIX dst PREFIX [proto P] [sport A[-B]] [dport A[-B]] "
          "(protect SA|bypass|discard)",
          "add a security policy (grammar of the config's 'ipsec policy')", [this](CommandArgs args) {
              if (args.empty()) {
                  return CommandReply::fail(std::string(code::kUsage), "expected a policy");
              }
              auto next = with_statement(running_, "ipsec policy " + join(args));
              if (!next) {
                  return CommandReply::fail(std::string(code::kInvalid), next.error().message);
              }
              return change(*next, "policy added: " + policy_text(*next, next->policies.back()));
          });
    r.add("ipsec policy del", "ipsec policy del <the policy as added>", "delete the policy equal to the one given",
          [this](CommandArgs args) {
              if (args.empty()) {
                  return CommandReply::fail(std::string(code::kUsage), "expected a policy");
              }
              auto parsed = with_statement(running_, "ipsec policy " + join(args));
              if (!parsed) {
                  return CommandReply::fail(std::string(code::kInvalid), parsed.error().message);
              }
              auto target = parsed->policies.back();
              target.line = 0;
              cp::Config next = running_;
              const auto removed = std::erase_if(next.policies, [&](cp::PolicyConfig p) {
                  p.line = 0;
                  return p == target;
              });
              if (removed == 0) {
                  return CommandReply::fail(std::string(code::kNotFound),
                                            "no such policy: " + policy_text(running_, target));
              }
              return change(next, "policy deleted: " + policy_text(running_, target));
          });

    r.add("set interface rx-placement", "set interface rx-placement PORT queue N (worker INDEX | lcore ID)",
          "move an rx queue to another worker (the old one stops polling it first)", [this](CommandArgs args) {
              if (args.size() != 5 || args[1] != "queue" || (args[3] != "worker" && args[3] != "lcore")) {
                  return CommandReply::fail(std::string(code::kUsage), "expected PORT queue N worker INDEX|lcore ID");
              }
              const auto port = running_.find_port(args[0]);
              if (!port) {
                  return CommandReply::fail(std::string(code::kNotFound), fmt::format("no port '{}'", args[0]));
              }
              unsigned queue = 0;
              unsigned id = 0;
              try {
                  queue = static_cast<unsigned>(std::stoul(args[2]));
                  id = static_cast<unsigned>(std::stoul(args[4]));
              } catch (const std::exception&) {
                  return CommandReply::fail(std::string(code::kUsage), "queue and worker/lcore must be numbers");
              }
              unsigned lcore = id;
              if (args[3] == "worker") {
                  if (id >= running_.workers.size()) {
                      return CommandReply::fail(std::string(code::kNotFound),
                                                fmt::format("no worker {} (0..{})", id, running_.workers.size() - 1));
                  }
                  lcore = running_.workers[id].lcore;
              }
              if (queue > UINT16_MAX) {
                  return CommandReply::fail(std::string(code::kInvalid), fmt::format("no queue {}", queue));
              }
              if (auto st = dp_.set_rx_placement(*port, static_cast<uint16_t>(queue), lcore); !st) {
                  return CommandReply::fail(std::string(code::kInvalid), st.error().message);
              }
              running_.workers = dp_.running_config().workers;
              return ok_text(fmt::format("{} queue {} now on lcore {}", args[0], queue, lcore));
          });

    r.add("xdp blocklist add", "xdp blocklist add PREFIX", "drop everything from a source prefix in XDP",
          [this](CommandArgs args) {
              if (args.size() != 1) {
                  return CommandReply::fail(std::string(code::kUsage), "expected one prefix");
              }
              if (xdp_.empty()) {
                  return CommandReply::fail(std::string(code::kUnavailable), "no 'xdp port' is configured");
              }
              auto next = with_statement(running_, "xdp block " + args[0]);
              if (!next) {
                  return CommandReply::fail(std::string(code::kInvalid), next.error().message);
              }
              return change(*next, fmt::format("blocked {}", net::to_string(next->xdp.blocks.back())));
          });
    r.add("xdp blocklist del", "xdp blocklist del PREFIX", "remove a blocked source prefix", [this](CommandArgs args) {
        if (args.size() != 1) {
            return CommandReply::fail(std::string(code::kUsage), "expected one prefix");
        }
        auto prefix = net::parse_prefix(args[0]);
        if (!prefix) {
            return CommandReply::fail(std::string(code::kInvalid), fmt::format("'{}' is not a prefix", args[0]));
        }
        cp::Config next = running_;
        if (std::erase(next.xdp.blocks, prefix->canonical()) == 0) {
            return CommandReply::fail(std::string(code::kNotFound),
                                      fmt::format("{} is not blocked", net::to_string(prefix->canonical())));
        }
        return change(next, fmt::format("unblocked {}", net::to_string(prefix->canonical())));
    });
    r.add("xdp blocklist show", "xdp blocklist show", "blocked prefixes with their drop counters",
          [this](CommandArgs args) {
              if (!args.empty()) {
                  return no_args(args);
              }
              const auto j = xdp_.to_json();
              View v{.title = "xdp blocklist",
                     .columns = {"port", "rule", "prefix", "packets", "bytes"},
                     .rows = {},
                     .text = {}};
              for (const auto& [port, pj] : j.items()) {
                  for (const auto& rule : pj.value("rules", nlohmann::json::array())) {
                      if (rule.value("kind", "") == "block") {
                          v.rows.push_back({port, std::to_string(rule.value("id", 0)), rule.value("prefix", ""),
                                            std::to_string(rule.value("packets", uint64_t{0})),
                                            std::to_string(rule.value("bytes", uint64_t{0}))});
                      }
                  }
              }
              CommandReply reply;
              reply.result = {{"ports", j}};
              reply.views.push_back(std::move(v));
              return reply;
          });
    r.add("show xdp", "show xdp", "XDP verdict counters per interface (packets, bytes)", [this](CommandArgs args) {
        if (!args.empty()) {
            return no_args(args);
        }
        if (xdp_.empty()) {
            return CommandReply::fail(std::string(code::kUnavailable), "no 'xdp port' is configured");
        }
        const auto verdicts = xdp_.verdicts();
        View v{.title = "xdp verdicts", .columns = {"iface", "verdict", "packets", "bytes"}, .rows = {}, .text = {}};
        for (const auto& x : verdicts) {
            v.rows.push_back({x.iface, x.verdict, std::to_string(x.packets), std::to_string(x.bytes)});
        }
        CommandReply reply;
        reply.result = {{"verdicts", verdicts}};
        reply.views.push_back(std::move(v));
        return reply;
    });
    r.add("xdp ratelimit", "xdp ratelimit (PPS burst N | off)", "per-source token bucket in XDP",
          [this](CommandArgs args) {
              if (xdp_.empty()) {
                  return CommandReply::fail(std::string(code::kUnavailable), "no 'xdp port' is configured");
              }
              cp::Config base = running_;
              base.xdp.rate_pps = 0;
              base.xdp.rate_burst = 0;
              if (args.size() == 1 && args[0] == "off") {
                  return change(base, "xdp rate limit off");
              }
              if (args.size() != 3 || args[1] != "burst") {
                  return CommandReply::fail(std::string(code::kUsage), "expected PPS burst N, or off");
              }
              auto next = with_statement(base, "xdp ratelimit " + join(args));
              if (!next) {
                  return CommandReply::fail(std::string(code::kInvalid), next.error().message);
              }
              return change(*next,
                            fmt::format("xdp rate limit {} pps, burst {}", next->xdp.rate_pps, next->xdp.rate_burst));
          });

    // --- config ---
    r.add("config show", "config show", "the running configuration (keys masked)", [this](CommandArgs args) {
        if (!args.empty()) {
            return no_args(args);
        }
        auto text = mask_keys(cp::format_config(running_));
        return ok_text(text, {{"config", text}});
    });
    r.add("config validate", "config validate [FILE]", "check a config file without applying it",
          [this](CommandArgs args) {
              if (args.size() > 1) {
                  return no_args(args.subspan(1));
              }
              const std::filesystem::path file = args.empty() ? path_ : std::filesystem::path(args[0]);
              auto c = cp::load_config(file);
              if (!c) {
                  return CommandReply::fail(std::string(code::kInvalid), c.error().message);
              }
              return ok_text(
                  fmt::format("'{}' is valid: {} ports, {} workers, {} routes, {} SAs, {} policies", file.string(),
                              c->ports.size(), c->workers.size(), c->routes.size(), c->sas.size(), c->policies.size()),
                  {{"valid", true}});
          });
    r.add("config reload", "config reload [FILE]",
          "apply a config file's routes, IPsec and XDP rules (other changes need a restart)", [this](CommandArgs args) {
              if (args.size() > 1) {
                  return no_args(args.subspan(1));
              }
              auto done = reload(args.empty() ? std::filesystem::path() : std::filesystem::path(args[0]));
              if (!done) {
                  return CommandReply::fail(std::string(code::kInvalid),
                                            done.error().message + " (running state unchanged)");
              }
              log::info("control: {}", *done);
              return ok_text(*done);
          });
    r.add("config save", "config save [FILE]", "write the running configuration (mode 0600; default: startup file)",
          [this](CommandArgs args) {
              if (args.size() > 1) {
                  return no_args(args.subspan(1));
              }
              const std::filesystem::path file = args.empty() ? path_ : std::filesystem::path(args[0]);
              if (auto st = write_private_file(file, cp::format_config(running_)); !st) {
                  return CommandReply::fail(std::string(code::kInvalid), st.error().message);
              }
              log::info("control: running config saved to '{}'", file.string());
              return ok_text(fmt::format("saved to '{}'", file.string()));
          });

    r.add("clear counters", "clear counters", "counters, port statistics and latency start again from zero",
          [this](CommandArgs args) {
              if (!args.empty()) {
                  return no_args(args);
              }
              dp_.clear_counters();
              return ok_text("counters cleared");
          });
}

}  // namespace gw
