#include "pktgen/gwgen/rfc2544.h"

namespace gw::gen {

TrialVerdict judge(const RunResult& r, double loss_threshold) {
    const StreamResult& t = r.total;
    TrialVerdict v{.load = r.load,
                   .offered_pps = t.tx_s > 0 ? static_cast<double>(t.offered) / t.tx_s : 0,
                   .frame_loss_ratio = t.frame_loss_ratio,
                   .generator_limited = t.tx_slips != 0 || t.tx_nombuf != 0};
    v.pass = !v.generator_limited && !r.interrupted && t.offered != 0 && v.frame_loss_ratio <= loss_threshold;
    return v;
}

Result<SearchOutcome> search_throughput(const SearchParams& p, const std::function<Result<TrialVerdict>(double)>& trial,
                                        const std::function<bool()>& stop) {
    SearchOutcome out;
    unsigned counted = 0;  // trials against max_trials: a repeat after a generator stall is not one
    auto run = [&](double load) -> Result<bool> {
        auto v = trial(load);
        if (!v) {
            return std::unexpected(v.error());
        }
        out.verdicts.push_back(*v);
        if (v->generator_limited && load < 1.0 && !stop()) {
            // The generator fell behind (a stall of its own host): no verdict on the DUT,
            // so the load is tried once more. Full load often exceeds what the generator
            // can send at all, so it is not repeated.
            v = trial(load);
            if (!v) {
                return std::unexpected(v.error());
            }
            out.verdicts.push_back(*v);
        }
        ++counted;
        if (v->pass && (!out.found || load > out.load)) {
            out.found = true;
            out.load = load;
        }
        return v->pass;
    };
    if (stop()) {
        out.stopped = true;
        return out;
    }
    auto full = run(1.0);
    if (!full) {
        return std::unexpected(full.error());
    }
    if (*full) {
        return out;
    }
    double lo = p.min_load;
    double hi = 1.0;
    while (counted < p.max_trials && hi - lo > p.resolution) {
        if (stop()) {
            out.stopped = true;
            break;
        }
        const double mid = (lo + hi) / 2;
        auto pass = run(mid);
        if (!pass) {
            return std::unexpected(pass.error());
        }
        (*pass ? lo : hi) = mid;
    }
    return out;
}

}  // namespace gw::gen
