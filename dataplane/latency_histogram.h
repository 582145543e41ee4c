#pragma once
// Per-packet latency: a log-linear histogram of nanosecond values (HdrHistogram's
// bucket layout) and the per-lcore double buffer through which the control thread
// takes a worker's samples without locks or shared atomic RMW on the packet path.
//
// Bucket scheme (kSubBucketBits = 7, so 128 sub-buckets per power of two):
//   - values 0..255 have one bucket each (exact);
//   - a value v >= 256 with most significant bit m (2^m <= v < 2^(m+1)) falls into
//     one of 128 equal sub-buckets of [2^m, 2^(m+1)), each 2^(m-7) wide.
//   index(v) = (s << 7) + (v >> s), with s = max(0, msb(v) - 7) = msb(v | 128) - 7:
//   a bit scan, a subtract, two shifts and an add, no branch and no division.
//   A bucket [lo, hi] with s >= 1 has lo >= 128 * 2^s and width 2^s, so any value in
//   it is within (2^s - 1) / lo < 1/128 (0.79%) of hi; with s = 0 the bucket is exact.
//   Values are tracked up to kHighestTrackableNs = 2^34 - 1 ns (17.18 s) in
//   (34 - 7 + 1) * 128 = 3584 buckets of 8 bytes (28 KiB, fixed, no allocation).
//   Larger values are counted in the top bucket and in overflow_count(); min(), max(),
//   count() and mean() stay exact for them.
//
// Percentiles: percentile(p) is the upper bound (highest equivalent value) of the bucket
// holding the rank-th smallest sample, rank = max(1, ceil(p * count / 100)), capped at the
// exact max(). So for the exact percentile x <= kHighestTrackableNs it returns r with
//   x <= r <= x + x / 128   (never under-reports; relative error < 0.79%; exact below 256 ns),
// and kHighestTrackableNs when the rank falls among overflowed samples. p <= 0 gives min(),
// p >= 100 gives max(), both exact.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

namespace gw::dp {

// Cache line size of the targets (x86-64); kept local so this header needs no DPDK.
inline constexpr std::size_t kLatencyCacheLine = 64;

class alignas(kLatencyCacheLine) LatencyHistogram {
public:
    static constexpr unsigned kSubBucketBits = 7;
    static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
    static constexpr unsigned kValueBits = 34;
    static constexpr uint64_t kHighestTrackableNs = (uint64_t{1} << kValueBits) - 1;
    static constexpr std::size_t kBuckets = (kValueBits - kSubBucketBits + 1) * kSubBuckets;
    // Bound on (percentile(p) - exact) / exact for exact values up to kHighestTrackableNs.
    static constexpr double kMaxRelativeError = 1.0 / static_cast<double>(kSubBuckets);

    static_assert(kHighestTrackableNs >= 10'000'000'000ULL, "must track at least 10 s");

    [[nodiscard]] static constexpr std::size_t bucket_index(uint64_t ns) noexcept {
        const uint64_t v = std::min(ns, kHighestTrackableNs);
        const auto shift = static_cast<unsigned>(std::bit_width(v | kSubBuckets)) - 1 - kSubBucketBits;
        return (std::size_t{shift} << kSubBucketBits) + static_cast<std::size_t>(v >> shift);
    }
    [[nodiscard]] static constexpr uint64_t bucket_lowest_ns(std::size_t index) noexcept {
        const unsigned shift = bucket_shift(index);
        return (uint64_t{index} - (uint64_t{shift} << kSubBucketBits)) << shift;
    }
    [[nodiscard]] static constexpr uint64_t bucket_highest_ns(std::size_t index) noexcept {
        return bucket_lowest_ns(index) + (uint64_t{1} << bucket_shift(index)) - 1;
    }
    // The rank (1-based, in ascending order) whose sample is the p-th percentile of count.
    [[nodiscard]] static uint64_t rank_of(double p, uint64_t count) noexcept {
        const double exact = std::ceil(p * static_cast<double>(count) / 100.0);
        if (!(exact >= 1.0)) {
            return 1;
        }
        return exact >= static_cast<double>(count) ? count : static_cast<uint64_t>(exact);
    }

    // Hot path: no branch beyond the clamp (a cmov), no division, no allocation.
    void record(uint64_t ns) noexcept {
        ++counts_[bucket_index(ns)];
        ++count_;
        sum_ += ns;
        min_ = std::min(min_, ns);
        max_ = std::max(max_, ns);
        overflow_ += ns > kHighestTrackableNs ? 1 : 0;
    }
    // A burst's samples at once. The scalars stay in registers across the burst: record()
    // called between other packet work makes them round-trip through memory every time,
    // and their store-to-load forwarding chains then bound the per-sample cost.
    void record_burst(const uint64_t* ns, std::size_t n) noexcept {
        uint64_t count = count_;
        uint64_t overflow = overflow_;
        uint64_t lo = min_;
        uint64_t hi = max_;
        Sum sum = sum_;
        for (std::size_t i = 0; i < n; ++i) {
            const uint64_t v = ns[i];
            ++counts_[bucket_index(v)];
            sum += v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            overflow += v > kHighestTrackableNs ? 1 : 0;
        }
        count_ = count + n;
        overflow_ = overflow;
        min_ = lo;
        max_ = hi;
        sum_ = sum;
    }
    // n samples of the same value; n == 0 changes nothing.
    void record_n(uint64_t ns, uint64_t n) noexcept {
        if (n == 0) {
            return;
        }
        counts_[bucket_index(ns)] += n;
        count_ += n;
        sum_ += static_cast<Sum>(ns) * n;
        min_ = std::min(min_, ns);
        max_ = std::max(max_, ns);
        overflow_ += ns > kHighestTrackableNs ? n : 0;
    }

    void merge(const LatencyHistogram& o) noexcept {
        for (std::size_t i = 0; i < kBuckets; ++i) {
            counts_[i] += o.counts_[i];
        }
        count_ += o.count_;
        overflow_ += o.overflow_;
        sum_ += o.sum_;
        min_ = std::min(min_, o.min_);
        max_ = std::max(max_, o.max_);
    }
    void reset() noexcept {
        counts_.fill(0);
        count_ = 0;
        overflow_ = 0;
        min_ = std::numeric_limits<uint64_t>::max();
        max_ = 0;
        sum_ = 0;
    }

    [[nodiscard]] uint64_t count() const noexcept { return count_; }
    [[nodiscard]] uint64_t overflow_count() const noexcept { return overflow_; }
    // Exact; 0 when empty.
    [[nodiscard]] uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    [[nodiscard]] uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double sum_ns() const noexcept { return static_cast<double>(sum_); }
    // Exact, saturating at 2^64 - 1 (584 years of nanoseconds).
    [[nodiscard]] uint64_t sum() const noexcept {
        return sum_ > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                           : static_cast<uint64_t>(sum_);
    }
    // Exact up to double rounding (the sum is kept in 128 bits); 0 when empty.
    [[nodiscard]] double mean() const noexcept {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }
    // 0 when empty; see the header comment for the definition and error bound.
    [[nodiscard]] uint64_t percentile(double p) const noexcept {
        if (count_ == 0) {
            return 0;
        }
        if (!(p > 0.0)) {
            return min_;
        }
        if (p >= 100.0) {
            return max_;
        }
        const uint64_t rank = rank_of(p, count_);
        uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                return std::min(bucket_highest_ns(i), max_);
            }
        }
        return max_;
    }
    // Raw buckets, for exporters (Prometheus buckets are cumulative sums of these).
    [[nodiscard]] uint64_t bucket_count(std::size_t index) const noexcept { return counts_[index]; }

    friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;

private:
    __extension__ using Sum = unsigned __int128;  // 2^64 samples of any uint64_t value fit

    [[nodiscard]] static constexpr unsigned bucket_shift(std::size_t index) noexcept {
        const auto octave = static_cast<unsigned>(index >> kSubBucketBits);
        return octave == 0 ? 0 : octave - 1;
    }

    // Scalars first: record() touches this line and one bucket line.
    uint64_t count_ = 0;
    uint64_t overflow_ = 0;
    uint64_t min_ = std::numeric_limits<uint64_t>::max();
    uint64_t max_ = 0;
    Sum sum_ = 0;
    std::array<uint64_t, kBuckets> counts_{};
};

// One worker's latency samples, double-buffered so that the control thread can take
// them while the worker goes on recording. Owned by one worker (the writer) and the
// control thread (the collector); 86 KiB plus 28 KiB per window interval, so allocate it on the heap
// (on the worker's NUMA node) before the worker starts.
//
// Protocol (no locks; the worker does two plain loads/stores per burst, no RMW):
//   worker, each poll round (empty ones too):
//     h = begin_burst();   // idx = active_.load(acquire); h = buffers_[idx]
//     h.record(...) ...    // only into h, only within the round
//     end_burst();         // ack_.store((++bursts << 1) | idx, release)
//   control, try_collect():
//     1. if no flip is pending: active_.store(other, release) — publishes the reset of the
//        buffer being handed to the worker;
//     2. ack = ack_.load(acquire); if its index bit is not the new index: return not_yet
//        (the caller polls again later; nothing spins);
//     3. else the worker has finished a round that loaded the new index. Every round that
//        used the old buffer ended (release) before it in program order, so all their
//        writes are visible, and no later round can load the old index until the next flip
//        (read-read coherence). The old buffer is merged into the window and the since-start
//        total, reset, and the call returns done.
//   The acknowledgement carries the index rather than a bare epoch on purpose: waiting for
//   "epoch advanced past the value read after the flip" is the store-buffering pattern, and
//   under acquire/release (and on x86, without an mfence) the control thread may read a
//   stale epoch while the worker reads the stale index, so an epoch alone could let the
//   control thread read a buffer the worker is still writing. The epoch (bursts) rides along
//   in the upper bits for stall detection.
class LatencyRecorder {
public:
    enum class Collect { done, not_yet };

    // window_intervals: how many collected intervals the sliding window keeps (>= 1).
    explicit LatencyRecorder(std::size_t window_intervals)
        : window_(std::make_unique<LatencyHistogram[]>(std::max<std::size_t>(1, window_intervals))),
          window_slots_(std::max<std::size_t>(1, window_intervals)) {}
    LatencyRecorder(const LatencyRecorder&) = delete;
    LatencyRecorder& operator=(const LatencyRecorder&) = delete;

    // --- worker side ---
    [[nodiscard]] LatencyHistogram& begin_burst() noexcept {
        worker_.index = active_.value.load(std::memory_order_acquire);
        return buffers_[worker_.index];
    }
    void end_burst() noexcept {
        ++worker_.bursts;
        worker_.ack.store((worker_.bursts << 1) | worker_.index, std::memory_order_release);
    }

    // --- control side ---
    // Non-blocking: flips if needed and collects once the worker has moved to the new buffer.
    [[nodiscard]] Collect try_collect() noexcept {
        if (!control_.flip_pending) {
            control_.active ^= 1;
            active_.value.store(control_.active, std::memory_order_release);
            control_.flip_pending = true;
        }
        const uint64_t ack = worker_.ack.load(std::memory_order_acquire);
        if ((ack & 1) != control_.active) {
            return Collect::not_yet;
        }
        take(buffers_[control_.active ^ 1]);
        control_.flip_pending = false;
        return Collect::done;
    }
    // For a worker that has stopped, with its last round happening-before this call
    // (joined, rte_eal_wait_lcore): collects both buffers as one interval.
    void collect_stopped() noexcept {
        LatencyHistogram& old = buffers_[control_.active ^ 1];
        old.merge(buffers_[control_.active]);
        buffers_[control_.active].reset();
        take(old);
        control_.flip_pending = false;
    }
    // Rounds the worker has completed (racy read; for detecting a stalled worker).
    [[nodiscard]] uint64_t worker_bursts() const noexcept { return worker_.ack.load(std::memory_order_relaxed) >> 1; }

    [[nodiscard]] const LatencyHistogram& since_start() const noexcept { return total_; }
    // The most recently collected interval (empty before the first collection).
    [[nodiscard]] const LatencyHistogram& last_interval() const noexcept {
        return window_[(control_.window_next + window_slots_ - 1) % window_slots_];
    }
    // Merges the last min(collected, window_intervals) intervals into out.
    void merge_window_into(LatencyHistogram& out) const noexcept {
        for (std::size_t i = 0; i < control_.window_filled; ++i) {
            out.merge(window_[i]);
        }
    }
    [[nodiscard]] std::size_t window_filled() const noexcept { return control_.window_filled; }
    // Forgets what was collected (since-start total and window) and what the
    // worker recorded before this call: the next collected interval is
    // discarded. Call try_collect() right after, so that the worker moves to a
    // fresh buffer at once and what it records from then on is kept.
    void clear_collected() noexcept {
        total_.reset();
        for (std::size_t i = 0; i < window_slots_; ++i) {
            window_[i].reset();
        }
        control_.window_next = 0;
        control_.window_filled = 0;
        control_.discard_next = true;
    }

private:
    void take(LatencyHistogram& h) noexcept {
        if (control_.discard_next) {
            control_.discard_next = false;
            h.reset();
            return;
        }
        window_[control_.window_next] = h;
        control_.window_next = (control_.window_next + 1) % window_slots_;
        control_.window_filled = std::min(control_.window_filled + 1, window_slots_);
        total_.merge(h);
        h.reset();
    }

    // Written by the worker every round; read by the control thread when it collects.
    struct alignas(kLatencyCacheLine) WorkerLine {
        std::atomic<uint64_t> ack{0};  // (completed rounds << 1) | index the last round used
        uint64_t bursts = 0;
        uint32_t index = 0;
    } worker_;
    // Written by the control thread once per flip; read by the worker every round.
    struct alignas(kLatencyCacheLine) ActiveLine {
        std::atomic<uint32_t> value{0};
    } active_;
    // Control thread only.
    struct alignas(kLatencyCacheLine) ControlLine {
        uint32_t active = 0;
        bool flip_pending = false;
        bool discard_next = false;  // clear_collected(): the interval being recorded predates it
        std::size_t window_next = 0;
        std::size_t window_filled = 0;
    } control_;
    std::array<LatencyHistogram, 2> buffers_{};
    std::unique_ptr<LatencyHistogram[]> window_;
    std::size_t window_slots_;
    LatencyHistogram total_{};
};

}  // namespace gw::dp
