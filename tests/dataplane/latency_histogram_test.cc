// LatencyHistogram against exact percentiles of the recorded samples, and the
// LatencyRecorder's flip protocol (stepped by hand, then under two threads).

#include "dataplane/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace gw::dp {
namespace {

using H = LatencyHistogram;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr double kPercentiles[] = {0, 0.01, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

std::unique_ptr<H> histogram_of(const std::vector<uint64_t>& samples) {
    auto h = std::make_unique<H>();
    for (uint64_t v : samples) {
        h->record(v);
    }
    return h;
}

// Checks every percentile, count, min, max and mean against the sorted samples.
void expect_matches_exact(const H& h, std::vector<uint64_t> samples) {
    ASSERT_FALSE(samples.empty());
    std::sort(samples.begin(), samples.end());
    const uint64_t n = samples.size();
    EXPECT_EQ(h.count(), n);
    EXPECT_EQ(h.min(), samples.front());
    EXPECT_EQ(h.max(), samples.back());
    long double sum = 0;
    for (uint64_t v : samples) {
        sum += static_cast<long double>(v);
    }
    EXPECT_DOUBLE_EQ(h.mean(), static_cast<double>(sum / static_cast<long double>(n)));
    EXPECT_EQ(h.overflow_count(), static_cast<uint64_t>(std::count_if(samples.begin(), samples.end(), [](uint64_t v) {
                  return v > H::kHighestTrackableNs;
              })));
    for (double p : kPercentiles) {
        const uint64_t exact = p <= 0 ? samples.front() : samples[H::rank_of(p, n) - 1];
        const uint64_t got = h.percentile(p);
        if (exact > H::kHighestTrackableNs) {
            EXPECT_EQ(got, p >= 100 ? samples.back() : H::kHighestTrackableNs) << "p" << p;
            continue;
        }
        // Never under-reports; over-reports by less than 1/128 of the value (exact below 256).
        EXPECT_GE(got, exact) << "p" << p;
        EXPECT_LE(got - exact, exact / H::kSubBuckets) << "p" << p << " exact " << exact;
        EXPECT_LE(static_cast<double>(got - exact), static_cast<double>(exact) * H::kMaxRelativeError);
        if (exact < 2 * H::kSubBuckets) {
            EXPECT_EQ(got, exact) << "p" << p;
        }
    }
}

TEST(LatencyHistogram, BucketLayoutIsContiguousMonotoneAndWithinErrorBound) {
    static_assert(H::kBuckets == 3584);
    static_assert(H::kHighestTrackableNs >= 10'000'000'000ULL);
    EXPECT_EQ(H::bucket_lowest_ns(0), 0u);
    EXPECT_EQ(H::bucket_highest_ns(H::kBuckets - 1), H::kHighestTrackableNs);
    for (std::size_t i = 0; i < H::kBuckets; ++i) {
        const uint64_t lo = H::bucket_lowest_ns(i);
        const uint64_t hi = H::bucket_highest_ns(i);
        ASSERT_LE(lo, hi);
        ASSERT_EQ(H::bucket_index(lo), i);
        ASSERT_EQ(H::bucket_index(hi), i);
        if (i + 1 < H::kBuckets) {
            ASSERT_EQ(hi + 1, H::bucket_lowest_ns(i + 1)) << i;
        }
        // Width relative to the smallest value in the bucket: exact or < 1/128.
        ASSERT_TRUE(lo == hi || static_cast<double>(hi - lo) < static_cast<double>(lo) * H::kMaxRelativeError) << i;
    }
    EXPECT_EQ(H::bucket_index(H::kHighestTrackableNs + 1), H::kBuckets - 1);
    EXPECT_EQ(H::bucket_index(kU64Max), H::kBuckets - 1);
}

TEST(LatencyHistogram, RankDefinition) {
    EXPECT_EQ(H::rank_of(50, 10), 5u);
    EXPECT_EQ(H::rank_of(50, 11), 6u);
    EXPECT_EQ(H::rank_of(99, 100), 99u);
    EXPECT_EQ(H::rank_of(99.9, 1000), 999u);
    EXPECT_EQ(H::rank_of(99.9, 1001), 1000u);
    EXPECT_EQ(H::rank_of(0.1, 1000), 1u);
    EXPECT_EQ(H::rank_of(0.001, 1000), 1u);
    EXPECT_EQ(H::rank_of(100, 7), 7u);
    EXPECT_EQ(H::rank_of(0, 7), 1u);
}

TEST(LatencyHistogram, EmptyReportsZeros) {
    const auto h = std::make_unique<H>();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->min(), 0u);
    EXPECT_EQ(h->max(), 0u);
    EXPECT_EQ(h->mean(), 0.0);
    EXPECT_EQ(h->percentile(50), 0u);
    EXPECT_EQ(h->percentile(100), 0u);
}

TEST(LatencyHistogram, UniformMatchesExactPercentiles) {
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<uint64_t> d(0, 2'000'000);
    std::vector<uint64_t> s(100'003);
    for (auto& v : s) {
        v = d(rng);
    }
    expect_matches_exact(*histogram_of(s), s);
}

TEST(LatencyHistogram, ExponentialMatchesExactPercentiles) {
    std::mt19937_64 rng(2);
    std::exponential_distribution<double> d(1.0 / 20'000.0);  // mean 20 us above a 3 us floor
    std::vector<uint64_t> s(200'000);
    for (auto& v : s) {
        v = 3'000 + static_cast<uint64_t>(d(rng));
    }
    expect_matches_exact(*histogram_of(s), s);
}

TEST(LatencyHistogram, BimodalMatchesExactPercentiles) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> fast(5'000, 300);      // forwarded
    std::normal_distribution<double> slow(2'000'000, 5e4);  // held for neighbor resolution
    std::bernoulli_distribution is_slow(0.02);
    std::vector<uint64_t> s(150'000);
    for (auto& v : s) {
        v = static_cast<uint64_t>(std::max(0.0, is_slow(rng) ? slow(rng) : fast(rng)));
    }
    expect_matches_exact(*histogram_of(s), s);
}

TEST(LatencyHistogram, SingleValue) {
    for (uint64_t v :
         {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{12'345}, uint64_t{999'999'937}}) {
        const std::vector<uint64_t> s(1000, v);
        const auto h = histogram_of(s);
        expect_matches_exact(*h, s);
        // Capped at the exact max: a single value reports itself at every percentile.
        for (double p : kPercentiles) {
            EXPECT_EQ(h->percentile(p), v) << v << " p" << p;
        }
    }
}

TEST(LatencyHistogram, BucketEdgesAndZero) {
    std::vector<uint64_t> s = {0, 0, 0};
    for (std::size_t i = 0; i < H::kBuckets; i += 37) {
        const uint64_t lo = H::bucket_lowest_ns(i);
        const uint64_t hi = H::bucket_highest_ns(i);
        s.insert(s.end(), {lo, hi, hi + 1});
        if (lo > 0) {
            s.push_back(lo - 1);
        }
    }
    for (unsigned b = 0; b < H::kValueBits; ++b) {
        s.push_back(uint64_t{1} << b);
        s.push_back((uint64_t{1} << b) - 1);
    }
    expect_matches_exact(*histogram_of(s), s);
}

TEST(LatencyHistogram, HugeValuesClampIntoTopBucketAndCountAsOverflow) {
    std::vector<uint64_t> s = {
        1'000,   2'000,  10'000'000'000ULL, H::kHighestTrackableNs, H::kHighestTrackableNs + 1, uint64_t{1} << 40,
        kU64Max, kU64Max};
    const auto h = histogram_of(s);
    expect_matches_exact(*h, s);
    EXPECT_EQ(h->overflow_count(), 4u);
    EXPECT_EQ(h->max(), kU64Max);
    EXPECT_EQ(h->bucket_count(H::kBuckets - 1), 5u);  // the top value itself and the four above it
    // 10 s is tracked within the bound.
    const uint64_t p = h->percentile(37.5);  // rank 3 of 8: 10^10 ns
    EXPECT_GE(p, 10'000'000'000ULL);
    EXPECT_LE(static_cast<double>(p), 1e10 * (1 + H::kMaxRelativeError));
}

TEST(LatencyHistogram, RecordNEqualsRepeatedRecord) {
    auto a = std::make_unique<H>();
    auto b = std::make_unique<H>();
    for (uint64_t v : {uint64_t{0}, uint64_t{77}, uint64_t{4'096}, uint64_t{123'456'789}, kU64Max}) {
        a->record_n(v, 5);
        for (int i = 0; i < 5; ++i) {
            b->record(v);
        }
    }
    a->record_n(42, 0);
    EXPECT_TRUE(*a == *b);
    EXPECT_EQ(a->count(), 25u);
}

TEST(LatencyHistogram, RecordBurstEqualsRecordingEach) {
    std::mt19937_64 rng(6);
    std::uniform_int_distribution<uint64_t> d(0, 1'000'000);
    std::vector<uint64_t> s(1000);
    for (auto& v : s) {
        v = d(rng);
    }
    s[17] = kU64Max;
    s[18] = 0;
    auto a = std::make_unique<H>();
    a->record(5);
    a->record_burst(s.data(), 600);
    a->record_burst(s.data() + 600, 0);
    a->record_burst(s.data() + 600, s.size() - 600);
    auto b = std::make_unique<H>();
    b->record(5);
    for (uint64_t v : s) {
        b->record(v);
    }
    EXPECT_TRUE(*a == *b);
    s.push_back(5);
    expect_matches_exact(*a, s);
}

TEST(LatencyHistogram, MergeEqualsRecordingTheUnion) {
    std::mt19937_64 rng(4);
    std::lognormal_distribution<double> d(10, 2);
    auto a = std::make_unique<H>();
    auto b = std::make_unique<H>();
    auto all = std::make_unique<H>();
    std::vector<uint64_t> s;
    for (int i = 0; i < 50'000; ++i) {
        const uint64_t v = static_cast<uint64_t>(d(rng));
        (i % 3 == 0 ? *a : *b).record(v);
        all->record(v);
        s.push_back(v);
    }
    a->record(kU64Max);
    all->record(kU64Max);
    s.push_back(kU64Max);
    auto merged = std::make_unique<H>();
    merged->merge(*a);
    merged->merge(*b);
    EXPECT_TRUE(*merged == *all);
    expect_matches_exact(*merged, s);
    // Merging an empty histogram changes nothing, min included.
    merged->merge(H{});
    EXPECT_TRUE(*merged == *all);
}

TEST(LatencyHistogram, ResetForgetsEverything) {
    auto h = std::make_unique<H>();
    for (uint64_t v : {uint64_t{5}, uint64_t{5'000}, kU64Max}) {
        h->record(v);
    }
    h->reset();
    EXPECT_TRUE(*h == H{});
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->percentile(99), 0u);
    h->record(300);
    EXPECT_EQ(h->min(), 300u);
    EXPECT_EQ(h->max(), 300u);
    EXPECT_EQ(h->percentile(50), 300u);
}

TEST(LatencyRecorder, FlipProtocolSteppedByHand) {
    using C = LatencyRecorder::Collect;
    LatencyRecorder r(3);

    // The control thread flips while the worker is mid-round on buffer 0.
    H& first = r.begin_burst();
    EXPECT_EQ(r.try_collect(), C::not_yet);
    first.record(100);  // still legal: this round loaded the old index
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::not_yet);  // that round used the old buffer
    EXPECT_EQ(r.since_start().count(), 0u);

    H& second = r.begin_burst();  // loads the new index
    EXPECT_NE(&second, &first);
    second.record(200);
    EXPECT_EQ(r.try_collect(), C::not_yet);  // round not finished yet
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::done);
    EXPECT_EQ(r.last_interval().count(), 1u);
    EXPECT_EQ(r.last_interval().max(), 100u);
    EXPECT_EQ(r.since_start().count(), 1u);
    EXPECT_EQ(first.count(), 0u);  // reset for its next turn

    // Next interval: 200 is in the now-active buffer; collecting needs another round.
    EXPECT_EQ(r.try_collect(), C::not_yet);
    H& third = r.begin_burst();
    EXPECT_EQ(&third, &first);
    third.record(300);
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::done);
    EXPECT_EQ(r.last_interval().count(), 1u);
    EXPECT_EQ(r.last_interval().min(), 200u);
    EXPECT_EQ(r.since_start().count(), 2u);
    EXPECT_EQ(r.worker_bursts(), 3u);

    // Empty rounds still acknowledge, so an idle worker does not stall collection.
    EXPECT_EQ(r.try_collect(), C::not_yet);
    (void)r.begin_burst();
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::done);
    EXPECT_EQ(r.last_interval().count(), 1u);  // 300
    EXPECT_EQ(r.since_start().count(), 3u);
    EXPECT_EQ(r.since_start().mean(), 200.0);
}

TEST(LatencyRecorder, SlidingWindowKeepsTheLastIntervals) {
    LatencyRecorder r(2);
    for (uint64_t v = 1; v <= 4; ++v) {
        r.begin_burst().record(v * 1000);
        r.end_burst();
        r.collect_stopped();  // stepping by hand: nothing runs concurrently
    }
    EXPECT_EQ(r.window_filled(), 2u);
    auto w = std::make_unique<H>();
    r.merge_window_into(*w);
    EXPECT_EQ(w->count(), 2u);
    EXPECT_EQ(w->min(), 3000u);
    EXPECT_EQ(w->max(), 4000u);
    EXPECT_EQ(r.since_start().count(), 4u);
    EXPECT_EQ(r.since_start().min(), 1000u);
}

TEST(LatencyRecorder, CollectStoppedTakesBothBuffersMidFlip) {
    using C = LatencyRecorder::Collect;
    LatencyRecorder r(4);
    r.begin_burst().record(10);
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::not_yet);  // flipped, worker not yet round again
    r.begin_burst().record(20);
    // The worker stops mid-round (its thread joined): both buffers are collected.
    r.collect_stopped();
    EXPECT_EQ(r.since_start().count(), 2u);
    EXPECT_EQ(r.last_interval().count(), 2u);
    // A restarted worker and the protocol carry on.
    r.begin_burst().record(30);
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::not_yet);
    (void)r.begin_burst();
    r.end_burst();
    EXPECT_EQ(r.try_collect(), C::done);
    EXPECT_EQ(r.since_start().count(), 3u);
}

// A worker records bursts as fast as it can while the control thread collects; after the
// worker stops, what was collected must equal what it recorded: nothing lost, nothing twice.
TEST(LatencyRecorder, TwoThreadStressLosesAndDuplicatesNothing) {
    using C = LatencyRecorder::Collect;
    auto r = std::make_unique<LatencyRecorder>(8);
    auto reference = std::make_unique<H>();
    std::atomic<bool> stop{false};
    std::thread worker([&] {
        std::mt19937_64 rng(5);
        std::uniform_int_distribution<uint64_t> d(0, 50'000);
        uint64_t round = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            H& h = r->begin_burst();
            const unsigned n = static_cast<unsigned>(round++ % 33);  // empty rounds too
            for (unsigned i = 0; i < n; ++i) {
                const uint64_t v = d(rng) << (i % 12);
                h.record(v);
                reference->record(v);
            }
            r->end_burst();
        }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    uint64_t collections = 0;
    uint64_t last_count = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (r->try_collect() == C::done) {
            ++collections;
            // Collected intervals only grow the total; each is internally consistent.
            const H& last = r->last_interval();
            EXPECT_EQ(r->since_start().count(), last_count + last.count());
            uint64_t buckets = 0;
            for (std::size_t i = 0; i < H::kBuckets; ++i) {
                buckets += last.bucket_count(i);
            }
            EXPECT_EQ(buckets, last.count());
            last_count = r->since_start().count();
        } else {
            std::this_thread::yield();
        }
    }
    stop.store(true, std::memory_order_relaxed);
    worker.join();
    r->collect_stopped();
    EXPECT_GT(collections, 0u);
    EXPECT_GT(reference->count(), 0u);
    EXPECT_TRUE(r->since_start() == *reference) << "collected " << r->since_start().count() << " of "
                                                << reference->count() << " in " << collections << " intervals";
}

}  // namespace
}  // namespace gw::dp
