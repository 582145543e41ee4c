#pragma once
// RFC 2544 (section 26.1) throughput search: the highest load at which the frame loss
// ratio stays within a threshold, by binary search over fractions of the streams'
// configured rates, with a bounded number of trials. The trials themselves are a
// callback, so the search is tested without ports.

#include <functional>
#include <vector>

#include "common/error.h"
#include "pktgen/gwgen/results.h"

namespace gw::gen {

struct SearchParams {
    double loss_threshold = 0;  // ratio, not percent
    double resolution = 0.01;   // stop when hi - lo is below this (fraction of full load)
    unsigned max_trials = 10;   // including the first, at full load; repeats not counted
    double min_load = 0;        // the floor: assumed to pass, never tried
};

struct SearchOutcome {
    bool found = false;  // a tried load passed
    double load = 0;     // the highest that passed
    std::vector<TrialVerdict> verdicts;
    bool stopped = false;  // `stop` said so before the search converged
};

// The verdict on one trial: frame loss (refusals and losses over what was offered)
// against the threshold. A trial in which the generator itself fell behind (schedule
// slips, no mbufs) or that was interrupted fails: it says nothing about the DUT.
[[nodiscard]] TrialVerdict judge(const RunResult& r, double loss_threshold);

// trial(load) runs one trial; an error from it ends the search with that error.
// stop() is asked before every trial. Below full load, a trial in which the generator
// fell behind is run once more at the same load before it counts as a failure; the
// repeat is in `verdicts` but not counted against max_trials.
[[nodiscard]] Result<SearchOutcome> search_throughput(const SearchParams& p,
                                                      const std::function<Result<TrialVerdict>(double)>& trial,
                                                      const std::function<bool()>& stop);

}  // namespace gw::gen
