// Config parser: one statement per line, each handled by one member of
// Parser that validates it against everything declared above it, so that the
// first bad line is the one reported. Cross-statement rules that need the whole
// file (a worker for every port, placement of unpolled rx queues) run in
// finish(). Nothing here throws; every failure is an Error naming
// "<source>:<line>: <object>: <cause>".

#include "controlplane/config.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <initializer_list>
#include <span>
#include <system_error>
#include <utility>

#include <fmt/core.h>

namespace gw::cp {
namespace {

using Tokens = std::span<const std::string_view>;

// Limits that the grammar enforces beyond the header's k* constants.
constexpr size_t kMaxPortNameLen = 15;
constexpr uint32_t kMinMbufs = 1024;            // below this a pool cannot even fill one port's rings
constexpr uint32_t kMaxMbufs = 64u << 20;       // ~140 GiB of 2 KiB buffers per socket
constexpr uint32_t kMaxMempoolCache = 512;      // RTE_MEMPOOL_CACHE_MAX_SIZE
constexpr uint16_t kMinDataRoom = 1024;
constexpr uint16_t kMaxDataRoom = 65535;
constexpr uint32_t kMaxEalMemoryMb = 1u << 20;  // 1 TiB
constexpr uint32_t kMaxDelayUs = 100'000;
constexpr uint32_t kMaxIcmpRatePps = 1'000'000;
constexpr uint16_t kMinDesc = 64;
constexpr uint16_t kMaxDesc = 16384;
constexpr uint16_t kMinMtu = 68;  // RFC 791 minimum
constexpr uint16_t kMaxMtu = 9600;

constexpr std::string_view kPciExample = "0000:3b:00.0";

bool is_whitespace(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits one line into tokens, dropping everything from '#' on.
void tokenize(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
        line = line.substr(0, hash);
    }
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_whitespace(line[i])) {
            ++i;
        }
        const size_t start = i;
        while (i < line.size() && !is_whitespace(line[i])) {
            ++i;
        }
        if (i > start) {
            out.push_back(line.substr(start, i - start));
        }
    }
}

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool all_hex(std::string_view s) noexcept {
    for (char c : s) {
        if (!is_hex(c)) {
            return false;
        }
    }
    return true;
}

char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// "0000:3b:00.0" or "3b:00.0" (domain:bus:device.function, device <= 0x1f,
// function <= 7). Returns the full lower-case form so that both spellings of
// one device compare equal, or nothing when `s` is not a PCI address.
std::optional<std::string> normalize_pci(std::string_view s) {
    std::string full;
    if (s.size() == 7) {
        full = "0000:";
    } else if (s.size() != 12) {
        return std::nullopt;
    }
    for (char c : s) {
        full.push_back(to_lower(c));
    }
    // full: dddd:bb:ss.f
    const std::string_view v = full;
    if (v[4] != ':' || v[7] != ':' || v[10] != '.' || !all_hex(v.substr(0, 4)) || !all_hex(v.substr(5, 2)) ||
        !all_hex(v.substr(8, 2)) || v[11] < '0' || v[11] > '7') {
        return std::nullopt;
    }
    // Two hex digits: the first is at most 1 for a 5-bit device number.
    if (v[8] != '0' && v[8] != '1') {
        return std::nullopt;
    }
    return full;
}

// A DPDK virtual ethdev name: "net_" followed by a driver name and instance.
bool is_vdev_name(std::string_view s) noexcept {
    if (!s.starts_with("net_") || s.size() == 4) {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

bool is_port_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > kMaxPortNameLen || s[0] < 'a' || s[0] > 'z') {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

bool is_file_prefix(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

bool is_v6_link_local(const net::IpAddr& a) noexcept {
    const auto* a6 = std::get_if<net::Ip6Addr>(&a);
    return a6 != nullptr && a6->bytes[0] == 0xfe && (a6->bytes[1] & 0xc0) == 0x80;
}

// Why `a` cannot be a unicast host address (ours, a gateway's or a neighbor's);
// empty when it can.
std::string_view not_unicast_reason(const net::IpAddr& a) noexcept {
    if (const auto* a4 = std::get_if<net::Ip4Addr>(&a)) {
        if (a4->host == 0) {
            return "the unspecified address";
        }
        if (a4->host == 0xffffffffu) {
            return "the broadcast address";
        }
        if ((a4->host >> 28) == 0xe) {
            return "a multicast address";
        }
        if ((a4->host >> 24) == 127) {
            return "a loopback address";
        }
        return {};
    }
    const auto& b = std::get<net::Ip6Addr>(a).bytes;
    if (b[0] == 0xff) {
        return "a multicast address";
    }
    bool zero_head = true;
    for (unsigned i = 0; i < 15; ++i) {
        zero_head = zero_head && b[i] == 0;
    }
    if (zero_head && b[15] == 0) {
        return "the unspecified address";
    }
    if (zero_head && b[15] == 1) {
        return "the loopback address";
    }
    return {};
}

// Stores a parsed value, or passes its error on. (g++ 12's std::expected has
// no transform(); this is its one use here.)
template <typename T, typename U>
Status assign(Result<T> parsed, U& dst) {
    if (!parsed) {
        return std::unexpected(std::move(parsed.error()));
    }
    dst = *parsed;
    return {};
}

std::string_view family_name(const net::IpAddr& a) noexcept { return net::is_v4(a) ? "IPv4" : "IPv6"; }

class Parser {
public:
    explicit Parser(std::string_view source) : source_(source) {}

    Result<Config> run(std::string_view text) {
        std::vector<std::string_view> tokens;
        size_t pos = 0;
        while (pos <= text.size()) {
            auto end = text.find('\n', pos);
            if (end == std::string_view::npos) {
                end = text.size();
            }
            ++line_;
            tokenize(text.substr(pos, end - pos), tokens);
            if (!tokens.empty()) {
                if (auto st = statement(tokens); !st) {
                    return std::unexpected(std::move(st.error()));
                }
            }
            pos = end + 1;
        }
        if (auto st = finish(); !st) {
            return std::unexpected(std::move(st.error()));
        }
        return std::move(config_);
    }

private:
    // "<source>:<line>: <reason>", or "<source>: <reason>" for line 0.
    template <typename... Args>
    [[nodiscard]] std::unexpected<Error> fail(fmt::format_string<Args...> f, Args&&... args) const {
        const auto reason = fmt::format(f, std::forward<Args>(args)...);
        if (line_ <= 0) {
            return make_error("{}: {}", source_, reason);
        }
        return make_error("{}:{}: {}", source_, line_, reason);
    }

    // A decimal number in [min, max]; `what` and `key` name it ("port 'lan'", "rxq").
    template <typename T>
    [[nodiscard]] Result<T> number(std::string_view what, std::string_view key, std::string_view text, uint64_t min,
                                   uint64_t max) const {
        uint64_t value = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc::invalid_argument || ptr != text.data() + text.size()) {
            return fail("{}: {} '{}' is not a number", what, key, text);
        }
        if (ec == std::errc::result_out_of_range || value < min || value > max) {
            return fail("{}: {} {} out of range {}..{}", what, key, text, min, max);
        }
        return static_cast<T>(value);
    }

    // A descriptor ring size: a power of two in [kMinDesc, kMaxDesc].
    [[nodiscard]] Result<uint16_t> desc_count(std::string_view what, std::string_view key,
                                              std::string_view text) const {
        auto n = number<uint16_t>(what, key, text, kMinDesc, kMaxDesc);
        if (n && !std::has_single_bit(*n)) {
            return fail("{}: {} {} is not a power of two ({}..{})", what, key, *n, kMinDesc, kMaxDesc);
        }
        return n;
    }

    [[nodiscard]] Status no_more(std::string_view what, Tokens rest) const {
        if (!rest.empty()) {
            return fail("{}: unexpected token '{}'", what, rest.front());
        }
        return {};
    }

    // Walks `<key> <value>` pairs: each key must be one of `keys` and appear at
    // most once; apply(key, value) stores the value and returns Status.
    template <typename Apply>
    [[nodiscard]] Status pairs(std::string_view what, Tokens tokens, std::initializer_list<std::string_view> keys,
                               Apply&& apply) const {
        std::vector<std::string_view> seen;
        for (size_t i = 0; i < tokens.size(); i += 2) {
            const auto key = tokens[i];
            if (std::ranges::find(keys, key) == keys.end()) {
                return fail("{}: unknown keyword '{}'", what, key);
            }
            if (std::ranges::find(seen, key) != seen.end()) {
                return fail("{}: '{}' given twice", what, key);
            }
            seen.push_back(key);
            if (i + 1 >= tokens.size()) {
                return fail("{}: missing value for '{}'", what, key);
            }
            if (auto st = apply(key, tokens[i + 1]); !st) {
                return st;
            }
        }
        return {};
    }

    [[nodiscard]] Status statement(Tokens t) {
        const auto keyword = t.front();
        const auto rest = t.subspan(1);
        if (keyword == "eal") {
            return eal(rest);
        }
        if (keyword == "mempool") {
            return mempool(rest);
        }
        if (keyword == "dataplane") {
            return dataplane(rest);
        }
        if (keyword == "port") {
            return port(rest);
        }
        if (keyword == "worker") {
            return worker(rest);
        }
        if (keyword == "route") {
            return route(rest);
        }
        if (keyword == "neighbor") {
            return neighbor(rest);
        }
        return fail("unknown statement '{}'", keyword);
    }

    [[nodiscard]] Status eal(Tokens t) {
        constexpr std::string_view kWhat = "eal";
        if (t.empty()) {
            return fail("eal: missing setting (main-lcore, file-prefix, no-huge, in-memory, memory or arg)");
        }
        const auto key = t.front();
        auto& eal = config_.eal;
        if (key == "no-huge" || key == "in-memory") {
            if (auto st = no_more(kWhat, t.subspan(1)); !st) {
                return st;
            }
            (key == "no-huge" ? eal.no_huge : eal.in_memory) = true;
            return {};
        }
        if (key != "main-lcore" && key != "file-prefix" && key != "memory" && key != "arg") {
            return fail("eal: unknown keyword '{}'", key);
        }
        if (t.size() < 2) {
            return fail("eal: missing value for '{}'", key);
        }
        const auto value = t[1];
        if (auto st = no_more(kWhat, t.subspan(2)); !st) {
            return st;
        }
        if (key == "main-lcore") {
            auto n = number<unsigned>(kWhat, key, value, 0, kMaxLcores - 1);
            if (!n) {
                return std::unexpected(std::move(n.error()));
            }
            for (const auto& w : config_.workers) {
                if (w.lcore == *n) {
                    return fail("eal: main-lcore {} is already a worker lcore (line {})", *n, w.line);
                }
            }
            eal.main_lcore = *n;
            return {};
        }
        if (key == "file-prefix") {
            if (!is_file_prefix(value)) {
                return fail("eal: file-prefix '{}' must be 1-64 of A-Z a-z 0-9 _ - .", value);
            }
            eal.file_prefix = value;
            return {};
        }
        if (key == "memory") {
            return assign(number<unsigned>(kWhat, key, value, 1, kMaxEalMemoryMb), eal.memory_mb);
        }
        eal.extra_args.emplace_back(value);
        return {};
    }

    [[nodiscard]] Status mempool(Tokens t) {
        constexpr std::string_view kWhat = "mempool";
        if (t.empty()) {
            return fail("mempool: expected at least one of mbufs, cache, data-room");
        }
        auto& mp = config_.mempool;
        return pairs(kWhat, t, {"mbufs", "cache", "data-room"}, [&](std::string_view key, std::string_view value) {
            if (key == "mbufs") {
                if (value == "auto") {
                    mp.mbufs = 0;
                    return Status{};
                }
                return assign(number<uint32_t>(kWhat, key, value, kMinMbufs, kMaxMbufs), mp.mbufs);
            }
            if (key == "cache") {
                return assign(number<uint32_t>(kWhat, key, value, 0, kMaxMempoolCache), mp.cache);
            }
            return assign(number<uint16_t>(kWhat, key, value, kMinDataRoom, kMaxDataRoom), mp.data_room);
        });
    }

    [[nodiscard]] Status dataplane(Tokens t) {
        constexpr std::string_view kWhat = "dataplane";
        if (t.empty()) {
            return fail("dataplane: expected at least one of burst, drain-us, idle-sleep-us, icmp-rate");
        }
        auto& dp = config_.dataplane;
        return pairs(kWhat, t, {"burst", "drain-us", "idle-sleep-us", "icmp-rate"},
                     [&](std::string_view key, std::string_view value) {
                         if (key == "burst") {
                             return assign(number<uint16_t>(kWhat, key, value, 1, kMaxBurst), dp.burst);
                         }
                         if (key == "drain-us") {
                             return assign(number<uint32_t>(kWhat, key, value, 0, kMaxDelayUs), dp.drain_us);
                         }
                         if (key == "idle-sleep-us") {
                             return assign(number<uint32_t>(kWhat, key, value, 0, kMaxDelayUs), dp.idle_sleep_us);
                         }
                         return assign(number<uint32_t>(kWhat, key, value, 0, kMaxIcmpRatePps), dp.icmp_rate_pps);
                     });
    }

    [[nodiscard]] Result<uint16_t> known_port(std::string_view what, std::string_view name) const {
        if (auto idx = config_.find_port(name)) {
            return *idx;
        }
        if (what.empty()) {
            return fail("unknown port '{}'", name);
        }
        return fail("{}: unknown port '{}'", what, name);
    }

    // Where `a` is already one of our interface addresses: the port's name.
    [[nodiscard]] std::optional<std::string_view> owner_of(const net::IpAddr& a) const {
        for (const auto& p : config_.ports) {
            for (const auto& ia : p.addresses) {
                if (ia.addr == a) {
                    return p.name;
                }
            }
        }
        return std::nullopt;
    }

    [[nodiscard]] static bool on_link(const PortConfig& p, const net::IpAddr& a) noexcept {
        for (const auto& ia : p.addresses) {
            if (ia.subnet().contains(a)) {
                return true;
            }
        }
        return false;
    }

    [[nodiscard]] Status port(Tokens t) {
        if (t.empty()) {
            return fail("port: missing name");
        }
        const auto name = t.front();
        if (!is_port_name(name)) {
            return fail("port: invalid name '{}' (1-{} of a-z 0-9 _ -, starting with a letter)", name,
                        kMaxPortNameLen);
        }
        const auto what = fmt::format("port '{}'", name);
        if (t.size() < 2) {
            return fail("{}: expected 'dev <devargs>' or 'address <ip>/<len>'", what);
        }
        if (t[1] == "dev") {
            return port_declare(what, name, t.subspan(2));
        }
        if (t[1] == "address") {
            return port_address(name, t.subspan(2));
        }
        return fail("{}: unknown keyword '{}'", what, t[1]);
    }

    [[nodiscard]] Status port_declare(const std::string& what, std::string_view name, Tokens t) {
        for (const auto& p : config_.ports) {
            if (p.name == name) {
                return fail("{}: already declared at line {}", what, p.line);
            }
        }
        if (t.empty()) {
            return fail("{}: missing value for 'dev'", what);
        }
        const auto devargs = t.front();
        const auto device = device_key(devargs);
        if (device.empty()) {
            return fail("{}: dev '{}' is neither a PCI address ({}) nor a vdev (net_<driver><n>,...)", what,
                        devargs, kPciExample);
        }
        for (const auto& p : config_.ports) {
            if (device_key(p.devargs) == device) {
                return fail("{}: device '{}' is already used by port '{}'", what,
                            devargs.substr(0, devargs.find(',')), p.name);
            }
        }
        if (config_.ports.size() >= kMaxPorts) {
            return fail("{}: too many ports (at most {})", what, kMaxPorts);
        }
        PortConfig port;
        port.name = name;
        port.devargs = devargs;
        port.line = line_;
        auto st = pairs(what, t.subspan(1), {"rxq", "rx-desc", "tx-desc", "mtu", "promisc", "mac"},
                        [&](std::string_view key, std::string_view value) -> Status {
                            if (key == "rxq") {
                                return assign(number<uint16_t>(what, key, value, 1, kMaxRxQueues), port.rx_queues);
                            }
                            if (key == "rx-desc") {
                                return assign(desc_count(what, key, value), port.rx_desc);
                            }
                            if (key == "tx-desc") {
                                return assign(desc_count(what, key, value), port.tx_desc);
                            }
                            if (key == "mtu") {
                                return assign(number<uint16_t>(what, key, value, kMinMtu, kMaxMtu), port.mtu);
                            }
                            if (key == "promisc") {
                                if (value != "on" && value != "off") {
                                    return fail("{}: promisc '{}' must be 'on' or 'off'", what, value);
                                }
                                port.promiscuous = value == "on";
                                return {};
                            }
                            const auto mac = net::parse_mac(value);
                            if (!mac) {
                                return fail("{}: invalid mac '{}'", what, value);
                            }
                            if (mac->is_zero() || mac->is_multicast()) {
                                return fail("{}: mac {} is not a unicast address", what, value);
                            }
                            port.mac = *mac;
                            return {};
                        });
        if (!st) {
            return st;
        }
        config_.ports.push_back(std::move(port));
        return {};
    }

    // The device part of devargs (before the first comma), normalized so that
    // two spellings of one PCI address are equal; empty when it is invalid.
    [[nodiscard]] static std::string device_key(std::string_view devargs) {
        const auto device = devargs.substr(0, devargs.find(','));
        if (auto pci = normalize_pci(device)) {
            return *pci;
        }
        if (is_vdev_name(device)) {
            return std::string(device);
        }
        return {};
    }

    [[nodiscard]] Status port_address(std::string_view name, Tokens t) {
        auto idx = known_port("", name);
        if (!idx) {
            return std::unexpected(std::move(idx.error()));
        }
        const auto what = fmt::format("port '{}'", name);
        if (t.empty()) {
            return fail("{}: missing value for 'address'", what);
        }
        const auto text = t.front();
        if (auto st = no_more(what, t.subspan(1)); !st) {
            return st;
        }
        if (text.find('/') == std::string_view::npos) {
            return fail("{}: address '{}' needs a prefix length (e.g. {}/24 or {}/64)", what, text, text, text);
        }
        const auto prefix = net::parse_prefix(text);
        if (!prefix) {
            return fail("{}: invalid address '{}'", what, text);
        }
        const auto& addr = prefix->addr;
        if (prefix->len == 0) {
            return fail("{}: address {} has prefix length 0", what, text);
        }
        if (auto why = not_unicast_reason(addr); !why.empty()) {
            return fail("{}: address {} is {}", what, text, why);
        }
        if (const auto* a4 = std::get_if<net::Ip4Addr>(&addr); a4 != nullptr && prefix->len < 31) {
            const uint32_t host_mask = ~uint32_t{0} >> prefix->len;
            if ((a4->host & host_mask) == 0) {
                return fail("{}: address {} is the network address of its subnet", what, text);
            }
            if ((a4->host & host_mask) == host_mask) {
                return fail("{}: address {} is the broadcast address of its subnet", what, text);
            }
        }
        if (auto owner = owner_of(addr)) {
            return fail("{}: address {} is already assigned to port '{}'", what, net::to_string(addr), *owner);
        }
        config_.ports[*idx].addresses.push_back(InterfaceAddress{addr, prefix->len});
        return {};
    }

    [[nodiscard]] Status worker(Tokens t) {
        if (t.empty()) {
            return fail("worker: missing lcore");
        }
        auto lcore = number<unsigned>("worker", "lcore", t.front(), 0, kMaxLcores - 1);
        if (!lcore) {
            return std::unexpected(std::move(lcore.error()));
        }
        const auto what = fmt::format("worker {}", *lcore);
        if (*lcore == config_.eal.main_lcore) {
            return fail("{}: lcore {} is the eal main-lcore", what, *lcore);
        }
        for (const auto& w : config_.workers) {
            if (w.lcore == *lcore) {
                return fail("{}: already declared at line {}", what, w.line);
            }
        }
        WorkerConfig worker;
        worker.lcore = *lcore;
        worker.line = line_;
        if (t.size() > 1) {
            if (t[1] != "poll") {
                return fail("{}: unknown keyword '{}'", what, t[1]);
            }
            if (t.size() == 2) {
                return fail("{}: missing value for 'poll'", what);
            }
            for (const auto ref_text : t.subspan(2)) {
                auto ref = queue_ref(what, worker, ref_text);
                if (!ref) {
                    return std::unexpected(std::move(ref.error()));
                }
                worker.rx_queues.push_back(*ref);
            }
        }
        config_.workers.push_back(std::move(worker));
        return {};
    }

    // "<port>:<queue>", polled neither by a declared worker nor already by
    // `building`, the worker whose statement is being parsed.
    [[nodiscard]] Result<RxQueueRef> queue_ref(const std::string& what, const WorkerConfig& building,
                                               std::string_view text) const {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return fail("{}: expected <port>:<queue>, got '{}'", what, text);
        }
        const auto name = text.substr(0, colon);
        auto idx = known_port(what, name);
        if (!idx) {
            return std::unexpected(std::move(idx.error()));
        }
        const auto& port = config_.ports[*idx];
        auto queue = number<uint16_t>(what, fmt::format("port '{}' queue", name), text.substr(colon + 1), 0,
                                      port.rx_queues - 1u);
        if (!queue) {
            return std::unexpected(std::move(queue.error()));
        }
        const RxQueueRef ref{*idx, *queue};
        const auto polled_by = [&ref](const WorkerConfig& w) {
            return std::ranges::find(w.rx_queues, ref) != w.rx_queues.end();
        };
        for (const auto& w : config_.workers) {
            if (polled_by(w)) {
                return fail("{}: rx queue {} is already polled by worker {} (line {})", what, text, w.lcore, w.line);
            }
        }
        if (polled_by(building)) {
            return fail("{}: rx queue {} is listed twice", what, text);
        }
        return ref;
    }

    [[nodiscard]] Status route(Tokens t) {
        if (t.empty()) {
            return fail("route: missing prefix");
        }
        const auto prefix = net::parse_prefix(t.front());
        if (!prefix) {
            return fail("route: invalid prefix '{}'", t.front());
        }
        const auto what = fmt::format("route {}", t.front());
        if (!prefix->is_canonical()) {
            return fail("{}: host bits set, did you mean {}?", what, net::to_string(prefix->canonical()));
        }
        RouteConfig route;
        route.prefix = *prefix;
        route.line = line_;
        std::optional<std::string_view> port_name;
        bool seen_via = false;
        bool seen_port = false;
        for (size_t i = 1; i < t.size(); ++i) {
            const auto key = t[i];
            if (key == "blackhole") {
                if (route.blackhole) {
                    return fail("{}: 'blackhole' given twice", what);
                }
                route.blackhole = true;
                continue;
            }
            if (key != "via" && key != "port") {
                return fail("{}: unknown keyword '{}'", what, key);
            }
            bool& seen = key == "via" ? seen_via : seen_port;
            if (seen) {
                return fail("{}: '{}' given twice", what, key);
            }
            seen = true;
            if (i + 1 >= t.size()) {
                return fail("{}: missing value for '{}'", what, key);
            }
            const auto value = t[++i];
            if (key == "port") {
                port_name = value;
                continue;
            }
            route.via = net::parse_ip(value);
            if (!route.via) {
                return fail("{}: invalid via '{}'", what, value);
            }
        }
        if (route.blackhole && (seen_via || seen_port)) {
            return fail("{}: a blackhole route takes no via or port", what);
        }
        if (!route.blackhole && !seen_via && !seen_port) {
            return fail("{}: expected 'via <ip>', 'port <name>' or 'blackhole'", what);
        }
        if (port_name) {
            auto idx = known_port(what, *port_name);
            if (!idx) {
                return std::unexpected(std::move(idx.error()));
            }
            route.port = *idx;
        }
        if (route.via) {
            if (auto st = check_via(what, route, port_name.has_value()); !st) {
                return st;
            }
        }
        for (const auto& r : config_.routes) {
            if (r.prefix == route.prefix) {
                return fail("{}: already declared at line {}", what, r.line);
            }
        }
        config_.routes.push_back(route);
        return {};
    }

    // Validates `route.via` and, when no port was named, picks the port whose
    // most specific subnet holds it.
    [[nodiscard]] Status check_via(const std::string& what, RouteConfig& route, bool port_given) const {
        const auto& via = *route.via;
        const auto via_text = net::to_string(via);
        if (via.index() != route.prefix.addr.index()) {
            return fail("{}: via {} is {} but the prefix is {}", what, via_text, family_name(via),
                        family_name(route.prefix.addr));
        }
        if (auto why = not_unicast_reason(via); !why.empty()) {
            return fail("{}: via {} is {}", what, via_text, why);
        }
        if (auto owner = owner_of(via)) {
            return fail("{}: via {} is our own address on port '{}'", what, via_text, *owner);
        }
        if (port_given) {
            const auto& port = config_.ports[route.port];
            // Link-local next hops are on-link on every IPv6 interface.
            if (!is_v6_link_local(via) && !on_link(port, via)) {
                return fail("{}: via {} is not inside a subnet of port '{}'", what, via_text, port.name);
            }
            return {};
        }
        if (is_v6_link_local(via)) {
            return fail("{}: via {} is link-local; name the port with 'port <name>'", what, via_text);
        }
        int best_len = -1;
        std::optional<uint16_t> best;
        bool ambiguous = false;
        for (uint16_t i = 0; i < config_.ports.size(); ++i) {
            for (const auto& ia : config_.ports[i].addresses) {
                if (!ia.subnet().contains(via)) {
                    continue;
                }
                if (ia.prefix_len > best_len) {
                    best_len = ia.prefix_len;
                    best = i;
                    ambiguous = false;
                } else if (ia.prefix_len == best_len && best != i) {
                    ambiguous = true;
                }
            }
        }
        if (!best) {
            return fail("{}: no port has a subnet containing via {}; add 'port <name>'", what, via_text);
        }
        if (ambiguous) {
            return fail("{}: via {} is on-link on more than one port; add 'port <name>'", what, via_text);
        }
        route.port = *best;
        return {};
    }

    [[nodiscard]] Status neighbor(Tokens t) {
        if (t.size() < 3) {
            return fail("neighbor: expected '<port> <ip> <mac>'");
        }
        auto idx = known_port("neighbor", t[0]);
        if (!idx) {
            return std::unexpected(std::move(idx.error()));
        }
        const auto addr = net::parse_ip(t[1]);
        if (!addr) {
            return fail("neighbor {}: invalid address '{}'", t[0], t[1]);
        }
        const auto what = fmt::format("neighbor {} {}", t[0], net::to_string(*addr));
        const auto mac = net::parse_mac(t[2]);
        if (!mac) {
            return fail("{}: invalid mac '{}'", what, t[2]);
        }
        if (mac->is_zero()) {
            return fail("{}: mac {} is zero", what, t[2]);
        }
        if (mac->is_multicast()) {
            return fail("{}: mac {} is multicast", what, t[2]);
        }
        if (auto st = no_more(what, t.subspan(3)); !st) {
            return st;
        }
        if (auto why = not_unicast_reason(*addr); !why.empty()) {
            return fail("{}: address is {}", what, why);
        }
        if (auto owner = owner_of(*addr)) {
            return fail("{}: address is our own address on port '{}'", what, *owner);
        }
        const auto& port = config_.ports[*idx];
        if (!is_v6_link_local(*addr) && !on_link(port, *addr)) {
            return fail("{}: address is not inside a subnet of port '{}'", what, port.name);
        }
        for (const auto& n : config_.neighbors) {
            if (n.port == *idx && n.addr == *addr) {
                return fail("{}: already declared at line {}", what, n.line);
            }
        }
        config_.neighbors.push_back(NeighborConfig{.port = *idx, .addr = *addr, .mac = *mac, .line = line_});
        return {};
    }

    // Cross-statement rules, then round-robin placement of unpolled rx queues.
    [[nodiscard]] Status finish() {
        if (config_.ports.empty()) {
            return {};
        }
        if (config_.workers.empty()) {
            const auto& first = config_.ports.front();
            line_ = first.line;
            return fail("port '{}': no worker lcore declared to poll its rx queues", first.name);
        }
        std::vector<std::vector<bool>> placed(config_.ports.size());
        for (size_t p = 0; p < config_.ports.size(); ++p) {
            placed[p].resize(config_.ports[p].rx_queues, false);
        }
        for (const auto& w : config_.workers) {
            for (const auto& r : w.rx_queues) {
                placed[r.port][r.queue] = true;
            }
        }
        size_t next = 0;
        for (uint16_t p = 0; p < config_.ports.size(); ++p) {
            for (uint16_t q = 0; q < config_.ports[p].rx_queues; ++q) {
                if (!placed[p][q]) {
                    config_.workers[next].rx_queues.push_back(RxQueueRef{p, q});
                    next = (next + 1) % config_.workers.size();
                }
            }
        }
        return {};
    }

    std::string_view source_;
    Config config_;
    int line_ = 0;
};

}  // namespace

std::optional<uint16_t> Config::find_port(std::string_view name) const {
    for (size_t i = 0; i < ports.size(); ++i) {
        if (ports[i].name == name) {
            return static_cast<uint16_t>(i);
        }
    }
    return std::nullopt;
}

Result<Config> parse_config(std::string_view text, std::string_view source) { return Parser(source).run(text); }

Result<Config> load_config(const std::filesystem::path& path) {
    const auto path_text = path.string();
    std::FILE* f = std::fopen(path_text.c_str(), "rb");
    if (f == nullptr) {
        const int err = errno;
        return make_errno_error(err, "cannot read config '{}': {}", path_text,
                                std::generic_category().message(err));
    }
    std::string text;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        text.append(buf, n);
    }
    const int err = std::ferror(f) != 0 ? errno : 0;
    std::fclose(f);
    if (err != 0) {
        return make_errno_error(err, "cannot read config '{}': {}", path_text,
                                std::generic_category().message(err));
    }
    return parse_config(text, path_text);
}

std::string format_config(const Config& config) {
    std::string out;
    const auto line = [&out]<typename... Args>(fmt::format_string<Args...> f, Args&&... args) {
        out += fmt::format(f, std::forward<Args>(args)...);
        out += '\n';
    };
    const EalConfig eal_default;
    const auto& eal = config.eal;
    if (eal.main_lcore != eal_default.main_lcore) {
        line("eal main-lcore {}", eal.main_lcore);
    }
    if (eal.file_prefix != eal_default.file_prefix) {
        line("eal file-prefix {}", eal.file_prefix);
    }
    if (eal.no_huge) {
        line("eal no-huge");
    }
    if (eal.in_memory) {
        line("eal in-memory");
    }
    if (eal.memory_mb != eal_default.memory_mb) {
        line("eal memory {}", eal.memory_mb);
    }
    for (const auto& arg : eal.extra_args) {
        line("eal arg {}", arg);
    }

    const MempoolConfig mp_default;
    const auto& mp = config.mempool;
    if (mp != mp_default) {
        line("mempool mbufs {} cache {} data-room {}", mp.mbufs == 0 ? std::string("auto") : std::to_string(mp.mbufs),
             mp.cache, mp.data_room);
    }
    const DataplaneConfig dp_default;
    const auto& dp = config.dataplane;
    if (dp != dp_default) {
        line("dataplane burst {} drain-us {} idle-sleep-us {} icmp-rate {}", dp.burst, dp.drain_us, dp.idle_sleep_us,
             dp.icmp_rate_pps);
    }

    const PortConfig port_default;
    for (const auto& p : config.ports) {
        std::string decl = fmt::format("port {} dev {}", p.name, p.devargs);
        if (p.rx_queues != port_default.rx_queues) {
            decl += fmt::format(" rxq {}", p.rx_queues);
        }
        if (p.rx_desc != port_default.rx_desc) {
            decl += fmt::format(" rx-desc {}", p.rx_desc);
        }
        if (p.tx_desc != port_default.tx_desc) {
            decl += fmt::format(" tx-desc {}", p.tx_desc);
        }
        if (p.mtu != port_default.mtu) {
            decl += fmt::format(" mtu {}", p.mtu);
        }
        if (p.promiscuous != port_default.promiscuous) {
            decl += fmt::format(" promisc {}", p.promiscuous ? "on" : "off");
        }
        if (p.mac) {
            decl += fmt::format(" mac {}", net::to_string(*p.mac));
        }
        line("{}", decl);
        for (const auto& a : p.addresses) {
            line("port {} address {}/{}", p.name, net::to_string(a.addr), a.prefix_len);
        }
    }

    const auto port_name = [&config](uint16_t idx) -> std::string_view {
        return idx < config.ports.size() ? std::string_view(config.ports[idx].name) : std::string_view("?");
    };
    for (const auto& w : config.workers) {
        std::string decl = fmt::format("worker {}", w.lcore);
        if (!w.rx_queues.empty()) {
            decl += " poll";
            for (const auto& r : w.rx_queues) {
                decl += fmt::format(" {}:{}", port_name(r.port), r.queue);
            }
        }
        line("{}", decl);
    }
    for (const auto& r : config.routes) {
        if (r.blackhole) {
            line("route {} blackhole", net::to_string(r.prefix));
        } else if (r.via) {
            line("route {} via {} port {}", net::to_string(r.prefix), net::to_string(*r.via), port_name(r.port));
        } else {
            line("route {} port {}", net::to_string(r.prefix), port_name(r.port));
        }
    }
    for (const auto& n : config.neighbors) {
        line("neighbor {} {} {}", port_name(n.port), net::to_string(n.addr), net::to_string(n.mac));
    }
    return out;
}

}  // namespace gw::cp
