// gw-histogram-bench: what recording one latency sample costs a worker (issue 5's
// "measure what recording costs per packet").
//
// Records N values (default 10^8) from a precomputed table of 4096 (so neither an RNG
// nor a TSC read is in the loop) in these shapes:
//   baseline   the same loop summing the values instead (loop + table load overhead)
//   spread     LatencyHistogram::record of lognormal values (median ~10 us, many buckets)
//   same       record of one value (every increment hits the same bucket: the
//              store-to-load dependency chain, the worst case for a quiet link)
//   memory     spread, with a compiler barrier after each record so the histogram's
//              count/sum/min/max go through memory every time, as they do when other
//              packet work runs between records (the loops above keep them in registers)
//   burst      record_burst of 32 values, barrier per burst (state in registers per burst)
//   run        record_n of one value for 32 samples, barrier per call (the worker's tx
//              flush: the packets of one rx burst share a stamp and a tx burst's send time)
//   recorder   LatencyRecorder::begin_burst, record_burst(32), end_burst
//
// usage: gw-histogram-bench [--records N]
// output: one line per shape: "<shape> records <n> ns_per_record <x> tsc_per_record <y>"
// TSC cycles are reference cycles at the invariant TSC rate, not core cycles.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <x86intrin.h>

#include "dataplane/latency_histogram.h"

namespace {

constexpr std::size_t kTable = 4096;
constexpr unsigned kBurst = 32;

struct Result {
    double ns = 0;
    uint64_t tsc = 0;
};

template <typename F>
Result timed(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t c0 = __rdtsc();
    f();
    const uint64_t c1 = __rdtsc();
    const auto t1 = std::chrono::steady_clock::now();
    return {std::chrono::duration<double, std::nano>(t1 - t0).count(), c1 - c0};
}

void report(const char* shape, uint64_t n, Result r, uint64_t sink) {
    std::printf("%-9s records %llu ns_per_record %.3f tsc_per_record %.3f (check %llu)\n", shape,
                static_cast<unsigned long long>(n), r.ns / static_cast<double>(n),
                static_cast<double>(r.tsc) / static_cast<double>(n), static_cast<unsigned long long>(sink));
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t records = 100'000'000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--records" && i + 1 < argc) {
            records = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: gw-histogram-bench [--records N]\n");
            return 2;
        }
    }
    records = (records + kBurst - 1) / kBurst * kBurst;

    std::vector<uint64_t> table(kTable);
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> d(std::log(10'000.0), 0.8);
    for (auto& v : table) {
        v = static_cast<uint64_t>(d(rng));
    }
    const uint64_t* values = table.data();

    uint64_t sum = 0;
    const Result base = timed([&] {
        for (uint64_t i = 0; i < records; ++i) {
            sum += values[i & (kTable - 1)];
            asm volatile("" : "+r"(sum));
        }
    });
    report("baseline", records, base, sum);

    auto h = std::make_unique<gw::dp::LatencyHistogram>();
    const Result spread = timed([&] {
        for (uint64_t i = 0; i < records; ++i) {
            h->record(values[i & (kTable - 1)]);
        }
    });
    report("spread", records, spread, h->percentile(50));

    h->reset();
    const uint64_t one = values[0];
    const Result same = timed([&] {
        for (uint64_t i = 0; i < records; ++i) {
            uint64_t v = one;
            asm volatile("" : "+r"(v));
            h->record(v);
        }
    });
    report("same", records, same, h->percentile(50));

    h->reset();
    const Result memory = timed([&] {
        for (uint64_t i = 0; i < records; ++i) {
            h->record(values[i & (kTable - 1)]);
            asm volatile("" ::: "memory");
        }
    });
    report("memory", records, memory, h->percentile(50));

    h->reset();
    const Result burst_only = timed([&] {
        for (uint64_t i = 0; i < records; i += kBurst) {
            h->record_burst(values + (i & (kTable - 1)), kBurst);
            asm volatile("" ::: "memory");
        }
    });
    report("burst", records, burst_only, h->percentile(50));

    h->reset();
    const Result run = timed([&] {
        for (uint64_t i = 0; i < records; i += kBurst) {
            h->record_n(values[(i / kBurst) & (kTable - 1)], kBurst);
            asm volatile("" ::: "memory");
        }
    });
    report("run", records, run, h->percentile(50));

    auto rec = std::make_unique<gw::dp::LatencyRecorder>(1);
    const Result burst = timed([&] {
        for (uint64_t i = 0; i < records; i += kBurst) {
            gw::dp::LatencyHistogram& bh = rec->begin_burst();
            bh.record_burst(values + (i & (kTable - 1)), kBurst);
            rec->end_burst();
            asm volatile("" ::: "memory");
        }
    });
    rec->collect_stopped();
    report("recorder", records, burst, rec->since_start().count());
    return 0;
}
