#include "gateway/dpdk_telemetry.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>
#include <rte_telemetry.h>

#include "common/log.h"

namespace gw::dpdk_telemetry {
namespace {

std::mutex g_mutex;
telemetry::SnapshotPtr g_snapshot;  // guarded by g_mutex
bool g_pdump = false;

telemetry::SnapshotPtr latest() {
    std::lock_guard lock(g_mutex);
    return g_snapshot;
}

void add(rte_tel_data* d, const char* name, uint64_t v) {
    rte_tel_data_add_dict_u64(d, name, v);
}

void add_latency(rte_tel_data* d, const telemetry::LatencySummary& l) {
    add(d, "latency_count", l.count);
    add(d, "latency_p50_ns", l.p50_ns);
    add(d, "latency_p90_ns", l.p90_ns);
    add(d, "latency_p99_ns", l.p99_ns);
    add(d, "latency_p999_ns", l.p999_ns);
    add(d, "latency_max_ns", l.max_ns);
}

int no_data(rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "status", "no snapshot yet");
    return 0;
}

int summary(const char*, const char*, rte_tel_data* d) {
    const auto s = latest();
    if (!s) {
        return no_data(d);
    }
    rte_tel_data_start_dict(d);
    uint64_t rx = 0;
    uint64_t tx = 0;
    uint64_t drops = 0;
    for (const auto& l : s->lcores) {
        rx += l.rx_packets;
        tx += l.tx_packets;
        for (const auto& r : l.drops) {
            drops += r.packets;
        }
    }
    add(d, "rx_packets", rx);
    add(d, "tx_packets", tx);
    add(d, "drops", drops);
    add(d, "mbufs_in_use", s->mbufs_in_use);
    add(d, "mbufs_total", s->mbufs_total);
    add(d, "latency_window_s", s->window_s);
    add_latency(d, s->latency.window);
    return 0;
}

int drops(const char*, const char*, rte_tel_data* d) {
    const auto s = latest();
    if (!s) {
        return no_data(d);
    }
    rte_tel_data_start_dict(d);
    if (s->lcores.empty()) {
        return 0;
    }
    for (std::size_t i = 0; i < s->lcores.front().drops.size(); ++i) {
        uint64_t sum = 0;
        for (const auto& l : s->lcores) {
            sum += i < l.drops.size() ? l.drops[i].packets : 0;
        }
        if (sum != 0) {
            // Telemetry names allow [A-Za-z0-9_/.]: "no-route" -> "no_route".
            std::string name = s->lcores.front().drops[i].reason;
            std::ranges::replace(name, '-', '_');
            add(d, name.c_str(), sum);
        }
    }
    return 0;
}

int lcore(const char*, const char* params, rte_tel_data* d) {
    const auto s = latest();
    if (!s) {
        return no_data(d);
    }
    if (params == nullptr || *params == '\0') {
        rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
        for (const auto& l : s->lcores) {
            rte_tel_data_add_array_int(d, static_cast<int>(l.lcore));
        }
        return 0;
    }
    char* end = nullptr;
    const unsigned long id = std::strtoul(params, &end, 10);
    for (const auto& l : s->lcores) {
        if (end != params && *end == '\0' && l.lcore == id) {
            rte_tel_data_start_dict(d);
            rte_tel_data_add_dict_string(d, "role", l.role.c_str());
            add(d, "rx_packets", l.rx_packets);
            add(d, "tx_packets", l.tx_packets);
            add(d, "polls", l.polls);
            add(d, "empty_polls", l.empty_polls);
            add(d, "busy_cycles", l.busy_cycles);
            add(d, "total_cycles", l.total_cycles);
            add(d, "punted", l.punted);
            add_latency(d, l.latency.window);
            return 0;
        }
    }
    return -EINVAL;
}

int sa(const char*, const char* params, rte_tel_data* d) {
    const auto s = latest();
    if (!s) {
        return no_data(d);
    }
    if (params == nullptr || *params == '\0') {
        rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
        for (const auto& a : s->sas) {
            rte_tel_data_add_array_string(d, a.name.c_str());
        }
        return 0;
    }
    for (const auto& a : s->sas) {
        if (a.name == params) {
            rte_tel_data_start_dict(d);
            add(d, "spi", a.spi);
            rte_tel_data_add_dict_string(d, "direction", a.direction.c_str());
            add(d, "packets", a.packets);
            add(d, "bytes", a.bytes);
            add(d, "replay_drops", a.replay_drops);
            add(d, "auth_drops", a.auth_drops);
            add(d, "seq", a.seq);
            return 0;
        }
    }
    return -EINVAL;
}

}  // namespace

void register_commands() {
    rte_telemetry_register_cmd("/gateway/summary", summary,
                               "Gateway totals and latency percentiles of the window. Takes no parameters");
    rte_telemetry_register_cmd("/gateway/drops", drops, "Drops by reason (non-zero), all lcores. Takes no parameters");
    rte_telemetry_register_cmd("/gateway/lcore", lcore, "Lcore ids, or one lcore's counters. Parameters: int lcore_id");
    rte_telemetry_register_cmd("/gateway/sa", sa, "SA names, or one SA's counters. Parameters: string sa_name");
}

void publish(telemetry::SnapshotPtr snapshot) {
    telemetry::SnapshotPtr old;
    {
        std::lock_guard lock(g_mutex);
        old = std::exchange(g_snapshot, std::move(snapshot));
    }
    // `old` is released here, outside the lock.
}

void enable_pdump() {
    if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
        return;
    }
    if (rte_pdump_init() != 0) {
        log::info("pdump: not available ({}); dpdk-dumpcap needs a gateway without 'eal in-memory'/'no-huge'",
                  rte_strerror(rte_errno));
        return;
    }
    g_pdump = true;
    log::info("pdump: enabled (dpdk-dumpcap --file-prefix=<eal file-prefix> -i <port>)");
}

void disable_pdump() {
    if (g_pdump) {
        rte_pdump_uninit();
        g_pdump = false;
    }
}

}  // namespace gw::dpdk_telemetry
