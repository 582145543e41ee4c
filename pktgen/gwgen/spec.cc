#include "pktgen/gwgen/spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "pktgen/gwgen/signature.h"

namespace gw::gen {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::optional<double> to_double(std::string_view s) {
    double v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

template <typename T>
std::optional<T> to_uint(std::string_view s) {
    T v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) {
        return std::nullopt;
    }
    return v;
}

// "1.5M" -> 1.5e6; the multiplier is the last character when it is k, M or G.
std::optional<double> si_number(std::string_view s) {
    double mult = 1;
    if (!s.empty()) {
        switch (s.back()) {
            case 'k':
            case 'K':
                mult = 1e3;
                break;
            case 'm':
            case 'M':
                mult = 1e6;
                break;
            case 'g':
            case 'G':
                mult = 1e9;
                break;
            default:
                break;
        }
        if (mult != 1) {
            s.remove_suffix(1);
        }
    }
    auto v = to_double(s);
    if (!v) {
        return std::nullopt;
    }
    return *v * mult;
}

std::pair<std::string_view, std::string_view> split_once(std::string_view s, char sep) {
    const auto at = s.find(sep);
    if (at == std::string_view::npos) {
        return {s, {}};
    }
    return {s.substr(0, at), s.substr(at + 1)};
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        const auto at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) {
            return out;
        }
        s.remove_prefix(at + 1);
    }
}

uint32_t low32(const net::Ip6Addr& a) {
    return (uint32_t{a.bytes[12]} << 24) | (uint32_t{a.bytes[13]} << 16) | (uint32_t{a.bytes[14]} << 8) | a.bytes[15];
}

}  // namespace

uint16_t SizeSpec::min_size() const noexcept {
    if (kind != SizeKind::mix) {
        return lo;
    }
    uint16_t m = UINT16_MAX;
    for (const auto& [size, weight] : mix) {
        m = std::min(m, size);
    }
    return m;
}

uint16_t SizeSpec::max_size() const noexcept {
    if (kind != SizeKind::mix) {
        return hi;
    }
    uint16_t m = 0;
    for (const auto& [size, weight] : mix) {
        m = std::max(m, size);
    }
    return m;
}

double SizeSpec::mean_size() const noexcept {
    switch (kind) {
        case SizeKind::fixed:
            return lo;
        case SizeKind::range:
            return (static_cast<double>(lo) + hi) / 2;
        case SizeKind::mix: {
            double sum = 0;
            double weights = 0;
            for (const auto& [size, weight] : mix) {
                sum += static_cast<double>(size) * weight;
                weights += weight;
            }
            return weights > 0 ? sum / weights : 0;
        }
    }
    return 0;
}

Result<Rate> parse_rate(std::string_view s) {
    const std::string l = lower(s);
    std::string_view v = l;
    Rate r;
    if (v.ends_with('%')) {
        r.unit = RateUnit::percent;
        v.remove_suffix(1);
        auto n = to_double(v);
        if (!n) {
            return make_error("rate '{}': not a percentage", s);
        }
        r.value = *n;
    } else {
        if (v.ends_with("pps")) {
            v.remove_suffix(3);
        } else if (v.ends_with("bps")) {
            r.unit = RateUnit::bps;
            v.remove_suffix(3);
        }
        auto n = si_number(v);
        if (!n) {
            return make_error("rate '{}': expected a number with an optional k/M/G and pps, bps or %", s);
        }
        r.value = *n;
    }
    if (!(r.value > 0)) {
        return make_error("rate '{}': must be positive", s);
    }
    if (r.unit == RateUnit::percent && r.value > 100) {
        return make_error("rate '{}': more than 100% of the link", s);
    }
    if (r.unit == RateUnit::pps && r.value < 1) {
        return make_error("rate '{}': below 1 packet per second", s);
    }
    if (r.unit == RateUnit::bps && r.value < 1000) {
        return make_error("rate '{}': below 1 kbps", s);
    }
    return r;
}

Result<SizeSpec> parse_size(std::string_view s) {
    const std::string l = lower(s);
    if (l == "imix") {
        return SizeSpec{.kind = SizeKind::mix, .lo = 64, .hi = 1500, .mix = {{64, 7}, {576, 4}, {1500, 1}}};
    }
    if (l.find(':') != std::string::npos) {
        SizeSpec spec{.kind = SizeKind::mix};
        for (auto entry : split(l, ',')) {
            auto [size_s, weight_s] = split_once(entry, ':');
            auto size = to_uint<uint16_t>(size_s);
            auto weight = to_uint<uint32_t>(weight_s);
            if (!size || !weight) {
                return make_error("size mix '{}': entry '{}' is not size:weight", s, entry);
            }
            spec.mix.emplace_back(*size, *weight);
        }
        spec.lo = spec.min_size();
        spec.hi = spec.max_size();
        return spec;
    }
    if (l.find('-') != std::string::npos) {
        auto [lo_s, hi_s] = split_once(l, '-');
        auto lo = to_uint<uint16_t>(lo_s);
        auto hi = to_uint<uint16_t>(hi_s);
        if (!lo || !hi) {
            return make_error("size range '{}': expected LO-HI in bytes", s);
        }
        return SizeSpec{.kind = SizeKind::range, .lo = *lo, .hi = *hi};
    }
    auto size = to_uint<uint16_t>(l);
    if (!size) {
        return make_error("size '{}': expected bytes, LO-HI, imix or size:weight,...", s);
    }
    return SizeSpec{.kind = SizeKind::fixed, .lo = *size, .hi = *size};
}

Result<uint64_t> parse_link_speed_mbps(std::string_view s) {
    std::string l = lower(s);
    if (l.ends_with("bps")) {
        l.resize(l.size() - 3);
    }
    auto v = si_number(l);
    if (!v || !(*v >= 1)) {
        return make_error("link speed '{}': expected a speed such as 10G or 25000M", s);
    }
    // A bare number is Mb/s (as rte_eth_link reports it); with a prefix it is bits/s.
    const bool has_prefix = !l.empty() && std::isalpha(static_cast<unsigned char>(l.back()));
    const double mbps = has_prefix ? *v / 1e6 : *v;
    if (!(mbps >= 1)) {
        return make_error("link speed '{}': below 1 Mb/s", s);
    }
    return static_cast<uint64_t>(std::llround(mbps));
}

Result<AddrRange> parse_addr_range(std::string_view s) {
    auto [first_s, last_s] = split_once(s, '-');
    auto first = net::parse_ip(first_s);
    if (!first) {
        return make_error("address '{}': not an IPv4 or IPv6 address", first_s);
    }
    if (last_s.empty()) {
        return AddrRange{.first = *first, .count = 1};
    }
    auto last = net::parse_ip(last_s);
    if (!last || net::is_v4(*last) != net::is_v4(*first)) {
        return make_error("address range '{}': '{}' is not an address of the same family", s, last_s);
    }
    uint64_t count = 0;
    if (net::is_v4(*first)) {
        const uint32_t a = std::get<net::Ip4Addr>(*first).host;
        const uint32_t b = std::get<net::Ip4Addr>(*last).host;
        if (b < a) {
            return make_error("address range '{}': last is below first", s);
        }
        count = uint64_t{b} - a + 1;
    } else {
        const auto& a = std::get<net::Ip6Addr>(*first).bytes;
        const auto& b = std::get<net::Ip6Addr>(*last).bytes;
        if (!std::equal(a.begin(), a.begin() + 12, b.begin())) {
            return make_error("address range '{}': IPv6 ranges may differ only in the last 32 bits", s);
        }
        const uint32_t la = low32(std::get<net::Ip6Addr>(*first));
        const uint32_t lb = low32(std::get<net::Ip6Addr>(*last));
        if (lb < la) {
            return make_error("address range '{}': last is below first", s);
        }
        count = uint64_t{lb} - la + 1;
    }
    if (count > kMaxFlows) {
        return make_error("address range '{}': {} addresses, more than {}", s, count, kMaxFlows);
    }
    return AddrRange{.first = *first, .count = static_cast<uint32_t>(count)};
}

Result<PortRange> parse_port_range(std::string_view s) {
    auto [first_s, last_s] = split_once(s, '-');
    auto first = to_uint<uint16_t>(first_s);
    if (!first) {
        return make_error("UDP port '{}': expected 0..65535 or LO-HI", s);
    }
    if (last_s.empty()) {
        return PortRange{.first = *first, .count = 1};
    }
    auto last = to_uint<uint16_t>(last_s);
    if (!last || *last < *first) {
        return make_error("UDP port range '{}': expected LO-HI with LO <= HI", s);
    }
    return PortRange{.first = *first, .count = uint32_t{*last} - *first + 1};
}

Result<std::vector<unsigned>> parse_lcore_list(std::string_view s) {
    std::vector<unsigned> out;
    for (auto item : split(s, ',')) {
        auto [a_s, b_s] = split_once(item, '-');
        auto a = to_uint<unsigned>(a_s);
        auto b = b_s.empty() ? a : to_uint<unsigned>(b_s);
        if (!a || !b || *b < *a || *b >= 128) {
            return make_error("lcore list '{}': '{}' is not an lcore or LO-HI below 128", s, item);
        }
        for (unsigned l = *a; l <= *b; ++l) {
            out.push_back(l);
        }
    }
    return out;
}

Result<StreamSpec> parse_stream(std::string_view text, std::string_view where) {
    StreamSpec s;
    bool family_v6 = false;
    bool family_given = false;
    bool have_src = false;
    bool have_dst = false;
    std::istringstream in{std::string(text)};
    std::string token;
    while (in >> token) {
        auto [key, value] = split_once(token, '=');
        if (value.empty()) {
            return make_error("{}: '{}' is not key=value", where, token);
        }
        auto fail = [&](const Error& e) { return std::unexpected(Error{fmt::format("{}: {}", where, e.message)}); };
        if (key == "name") {
            s.name = value;
        } else if (key == "rate") {
            auto r = parse_rate(value);
            if (!r) {
                return fail(r.error());
            }
            s.rate = *r;
        } else if (key == "size") {
            auto z = parse_size(value);
            if (!z) {
                return fail(z.error());
            }
            s.size = std::move(*z);
        } else if (key == "count") {
            auto n = si_number(value);
            if (!n || !(*n >= 1) || *n > 1e15) {
                return make_error("{}: count '{}' is not a packet count (1 .. 1e15)", where, value);
            }
            s.count = static_cast<uint64_t>(std::llround(*n));
        } else if (key == "start" || key == "stop") {
            auto t = to_double(value);
            if (!t || *t < 0) {
                return make_error("{}: {} '{}' is not a time in seconds", where, key, value);
            }
            (key == "start" ? s.start_s : s.stop_s) = *t;
        } else if (key == "src" || key == "dst") {
            auto r = parse_addr_range(value);
            if (!r) {
                return fail(r.error());
            }
            (key == "src" ? s.src : s.dst) = *r;
            (key == "src" ? have_src : have_dst) = true;
        } else if (key == "sport" || key == "dport") {
            auto r = parse_port_range(value);
            if (!r) {
                return fail(r.error());
            }
            (key == "sport" ? s.sport : s.dport) = *r;
        } else if (key == "flows") {
            auto n = to_uint<uint32_t>(value);
            if (!n || *n == 0 || *n > kMaxFlows) {
                return make_error("{}: flows '{}' must be 1..{}", where, value, kMaxFlows);
            }
            s.flows = *n;
        } else if (key == "payload") {
            if (value == "zeros") {
                s.payload = Payload::zeros;
            } else if (value == "text") {
                s.payload = Payload::text;
            } else if (value == "random") {
                s.payload = Payload::random;
            } else {
                return make_error("{}: payload '{}' must be zeros, text or random", where, value);
            }
        } else if (key == "ip") {
            if (value != "4" && value != "6") {
                return make_error("{}: ip '{}' must be 4 or 6", where, value);
            }
            family_v6 = value == "6";
            family_given = true;
        } else if (key == "smac" || key == "dmac") {
            auto m = net::parse_mac(value);
            if (!m) {
                return make_error("{}: {} '{}' is not a MAC address", where, key, value);
            }
            (key == "smac" ? s.src_mac : s.dst_mac) = *m;
        } else if (key == "port") {
            auto n = to_uint<uint16_t>(value);
            if (!n) {
                return make_error("{}: port '{}' is not a port index", where, value);
            }
            s.port = *n;
        } else if (key == "lane") {
            auto n = to_uint<uint16_t>(value);
            if (!n) {
                return make_error("{}: lane '{}' is not an index into --tx-lcores", where, value);
            }
            s.lane = *n;
        } else {
            return make_error("{}: unknown key '{}'", where, key);
        }
    }
    // The family: ip= if given, else that of the address given; defaults fill the rest.
    if (!family_given) {
        family_v6 = (have_src && !net::is_v4(s.src.first)) || (have_dst && !net::is_v4(s.dst.first));
    }
    if (family_v6) {
        // RFC 5180's IPv6 benchmarking prefix 2001:2::/48.
        if (!have_src) {
            s.src.first = *net::parse_ip("2001:2::1");
        }
        if (!have_dst) {
            s.dst.first = *net::parse_ip("2001:2:0:1::1");
        }
    }
    if (net::is_v4(s.src.first) != net::is_v4(s.dst.first) || s.is_v6() != family_v6) {
        return make_error("{}: src, dst and ip= name different address families", where);
    }
    return s;
}

Result<Profile> parse_profile(std::string_view text, std::string_view source) {
    Profile out;
    int line_no = 0;
    for (auto line : split(text, '\n')) {
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string_view::npos) {
            line = line.substr(0, hash);
        }
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos) {
            continue;
        }
        line.remove_prefix(first);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
            line.remove_suffix(1);
        }
        const std::string where = fmt::format("{}:{}", source, line_no);
        auto [word, rest] = split_once(line, ' ');
        if (word == "duration") {
            auto d = to_double(rest);
            if (!d || !(*d > 0) || *d > 86'400 || out.duration_s != 0) {
                return make_error("{}: 'duration {}': one duration, in seconds, above 0 and at most 86400", where,
                                  rest);
            }
            out.duration_s = *d;
            continue;
        }
        if (word != "stream") {
            return make_error("{}: unknown statement '{}' (expected 'stream key=value ...' or 'duration SECONDS')",
                              where, word);
        }
        auto s = parse_stream(rest, where);
        if (!s) {
            return std::unexpected(s.error());
        }
        s->line = line_no;
        if (auto st = validate_stream(*s, where); !st) {
            return std::unexpected(st.error());
        }
        out.streams.push_back(std::move(*s));
    }
    if (out.streams.empty()) {
        return make_error("{}: no stream in the profile", source);
    }
    return out;
}

Result<Profile> load_profile(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) {
        return make_error("profile '{}': cannot open", path.string());
    }
    std::stringstream buf;
    buf << in.rdbuf();
    return parse_profile(buf.str(), path.string());
}

Status validate_stream(const StreamSpec& s, std::string_view where) {
    const uint16_t min_frame = s.is_v6() ? kMinFrameV6 : kMinFrameV4;
    const char* family = s.is_v6() ? "IPv6" : "IPv4";
    if (s.size.kind == SizeKind::mix) {
        if (s.size.mix.empty() || s.size.mix.size() > kMaxMixEntries) {
            return make_error("{}: a size mix has 1 to {} entries", where, kMaxMixEntries);
        }
        for (const auto& [size, weight] : s.size.mix) {
            if (weight == 0 || weight > kMaxMixWeight) {
                return make_error("{}: size mix weight {} must be 1..{}", where, weight, kMaxMixWeight);
            }
        }
    }
    if (s.size.min_size() < min_frame) {
        return make_error("{}: size {} is below {}'s minimum of {} bytes (headers, signature and FCS){}", where,
                          s.size.min_size(), family, min_frame,
                          s.is_v6() ? "; for IPv6 IMIX use e.g. size=84:7,576:4,1500:1" : "");
    }
    if (s.size.max_size() > kMaxFrame) {
        return make_error("{}: size {} exceeds {} bytes", where, s.size.max_size(), kMaxFrame);
    }
    if (s.size.kind == SizeKind::range && s.size.lo > s.size.hi) {
        return make_error("{}: size range {}-{} is empty", where, s.size.lo, s.size.hi);
    }
    if (uint32_t{s.sport.first} + s.sport.count > 65536 || uint32_t{s.dport.first} + s.dport.count > 65536) {
        return make_error("{}: UDP port range beyond 65535", where);
    }
    if (s.flows == 0 && s.combinations() > kMaxFlows) {
        return make_error("{}: the ranges make {} flows, more than {}; set flows=", where, s.combinations(), kMaxFlows);
    }
    if (s.flows > s.combinations()) {
        return make_error("{}: flows={} but the address and port ranges make only {} distinct flows", where, s.flows,
                          s.combinations());
    }
    if (s.stop_s != 0 && s.stop_s <= s.start_s) {
        return make_error("{}: stop={} is not after start={}", where, s.stop_s, s.start_s);
    }
    return {};
}

Result<Options> validate(Options o) {
    if (o.ports.empty()) {
        return make_error("no port: give at least one --port DEVARGS");
    }
    if (o.ports.size() > 32) {
        return make_error("{} ports: at most 32", o.ports.size());
    }
    if (o.streams.empty()) {
        return make_error("no stream: give --stream or --profile");
    }
    if (o.streams.size() > kMaxStreams) {
        return make_error("{} streams: at most {}", o.streams.size(), kMaxStreams);
    }
    if (o.tx_lcores.empty()) {
        return make_error("--tx-lcores: at least one lcore");
    }
    std::set<unsigned> tx(o.tx_lcores.begin(), o.tx_lcores.end());
    if (tx.size() != o.tx_lcores.size()) {
        return make_error("--tx-lcores: an lcore is listed twice");
    }
    if (tx.contains(o.main_lcore) || o.rx_lcore == o.main_lcore) {
        return make_error("main lcore {} must not also be a tx or rx lcore (it runs the control loop)", o.main_lcore);
    }
    if (o.main_lcore >= 128 || o.rx_lcore >= 128) {
        return make_error("lcores are numbered below 128");
    }
    if (o.burst == 0 || o.burst > 256) {
        return make_error("--burst {}: must be 1..256", o.burst);
    }
    if (o.rx_queues == 0 || o.rx_queues > 16) {
        return make_error("--rx-queues {}: must be 1..16", o.rx_queues);
    }
    if (!(o.interval_s >= 0.1 && o.interval_s <= 60)) {
        return make_error("--interval {}: must be 0.1..60 s", o.interval_s);
    }
    if (!(o.drain_s >= 0 && o.drain_s <= 60)) {
        return make_error("--drain {}: must be 0..60 s", o.drain_s);
    }
    if (o.max_lag_us == 0 || o.max_lag_us > 10'000'000) {
        return make_error("--max-lag-us {}: must be 1..10000000", o.max_lag_us);
    }
    std::set<std::string> names;
    bool all_counted = true;
    double counted_s = 0;
    for (std::size_t i = 0; i < o.streams.size(); ++i) {
        auto& s = o.streams[i];
        const std::string where =
            s.line != 0 ? fmt::format("stream {} (profile line {})", i, s.line) : fmt::format("stream {}", i);
        if (s.name.empty()) {
            s.name = fmt::format("s{}", i);
        }
        if (!names.insert(s.name).second) {
            return make_error("{}: name '{}' is used twice", where, s.name);
        }
        if (auto st = validate_stream(s, where); !st) {
            return std::unexpected(st.error());
        }
        if (s.port >= o.ports.size()) {
            return make_error("{}: port={} but only {} ports are given", where, s.port, o.ports.size());
        }
        if (s.lane >= static_cast<int>(o.tx_lcores.size())) {
            return make_error("{}: lane={} but only {} tx lcores are given", where, s.lane, o.tx_lcores.size());
        }
        if (s.count == 0 || s.rate.unit == RateUnit::percent) {
            all_counted = false;
        } else {
            const double pps =
                s.rate.unit == RateUnit::pps ? s.rate.value : s.rate.value / ((s.size.mean_size() + kWireOverhead) * 8);
            counted_s = std::max(counted_s, s.start_s + static_cast<double>(s.count) / pps);
        }
    }
    if (o.duration_s == 0) {
        o.duration_s = all_counted ? counted_s * 1.05 + 0.5 : 10;
    }
    if (!(o.duration_s > 0 && o.duration_s <= 86'400)) {
        return make_error("--duration {}: must be above 0 and at most 86400 s", o.duration_s);
    }
    auto& r = o.rfc2544;
    if (r.enabled) {
        if (!(r.loss_threshold_pct >= 0 && r.loss_threshold_pct < 100)) {
            return make_error("--loss-threshold {}: must be 0..100 %", r.loss_threshold_pct);
        }
        if (!(r.trial_s > 0 && r.trial_s <= 3600)) {
            return make_error("--trial-duration {}: must be above 0 and at most 3600 s", r.trial_s);
        }
        if (r.max_trials == 0 || r.max_trials > 64) {
            return make_error("--max-trials {}: must be 1..64", r.max_trials);
        }
        if (!(r.resolution_pct > 0 && r.resolution_pct < 100)) {
            return make_error("--resolution {}: must be above 0 and below 100 %", r.resolution_pct);
        }
        if (!(r.min_load_pct >= 0 && r.min_load_pct < 100)) {
            return make_error("--min-load {}: must be 0..100 %", r.min_load_pct);
        }
        for (double l : r.latency_loads_pct) {
            if (!(l > 0 && l <= 100)) {
                return make_error("--latency-loads: {} is not in (0, 100] %", l);
            }
        }
    }
    if (o.file_prefix.empty()) {
        o.file_prefix = fmt::format("gwgen-{}", ::getpid());
    }
    return o;
}

namespace {

// 50000 -> "50kpps", 1.5e9 -> "1.5Gbps": what parse_rate reads back.
std::string si_string(double v, const char* unit) {
    if (v >= 1e9) {
        return fmt::format("{:.6g}G{}", v / 1e9, unit);
    }
    if (v >= 1e6) {
        return fmt::format("{:.6g}M{}", v / 1e6, unit);
    }
    if (v >= 1e3) {
        return fmt::format("{:.6g}k{}", v / 1e3, unit);
    }
    return fmt::format("{:.6g}{}", v, unit);
}

}  // namespace

std::string to_string(const Rate& r) {
    switch (r.unit) {
        case RateUnit::pps:
            return si_string(r.value, "pps");
        case RateUnit::bps:
            return si_string(r.value, "bps");
        case RateUnit::percent:
            return fmt::format("{:g}%", r.value);
    }
    return {};
}

std::string to_string(const SizeSpec& s) {
    switch (s.kind) {
        case SizeKind::fixed:
            return std::to_string(s.lo);
        case SizeKind::range:
            return fmt::format("{}-{}", s.lo, s.hi);
        case SizeKind::mix: {
            std::string out;
            for (const auto& [size, weight] : s.mix) {
                out += fmt::format("{}{}:{}", out.empty() ? "" : ",", size, weight);
            }
            return out;
        }
    }
    return {};
}

std::string_view to_string(Payload p) noexcept {
    switch (p) {
        case Payload::zeros:
            return "zeros";
        case Payload::text:
            return "text";
        case Payload::random:
            return "random";
    }
    return "?";
}

}  // namespace gw::gen
