// Config parser: one statement per line, each handled by one member of
// Parser that validates it against everything declared above it, so that the
// first bad line is the one reported. Cross-statement rules that need the whole
// file (a worker for every port, placement of unpolled rx queues) run in
// finish(). Nothing here throws; every failure is an Error naming
// "<source>:<line>: <object>: <cause>".

#include "controlplane/config.h"

#include <sys/stat.h>

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
#include <fmt/format.h>

namespace gw::cp {
namespace {

using Tokens = std::span<const std::string_view>;

// Limits that the grammar enforces beyond the header's k* constants.
constexpr size_t kMaxPortNameLen = 15;
constexpr uint32_t kMinMbufs = 1024;        // below this a pool cannot even fill one port's rings
constexpr uint32_t kMaxMbufs = 64u << 20;   // ~140 GiB of 2 KiB buffers per socket
constexpr uint32_t kMaxMempoolCache = 512;  // RTE_MEMPOOL_CACHE_MAX_SIZE
constexpr uint16_t kMinDataRoom = 1024;
constexpr uint16_t kMaxDataRoom = 65535;
constexpr uint32_t kMaxEalMemoryMb = 1u << 20;  // 1 TiB
constexpr uint32_t kMaxDelayUs = 100'000;
constexpr uint32_t kMaxIcmpRatePps = 1'000'000;
constexpr uint32_t kMaxWindowS = 3600;
constexpr size_t kMaxSocketPath = 108;  // sun_path
constexpr uint16_t kMinDesc = 64;
constexpr uint16_t kMaxDesc = 16384;
constexpr uint32_t kMaxReplayWindow = 4096;  // dataplane ReplayWindow::kMaxSize
constexpr uint16_t kMinMtu = 68;             // RFC 791 minimum
constexpr uint16_t kMaxMtu = 9600;

constexpr std::string_view kPciExample = "0000:3b:00.0";

bool is_whitespace(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

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

char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

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

// "192.0.2.1:9469" or "[2001:db8::1]:9469", port 0..65535 (0: any free port).
bool is_listen_address(std::string_view s) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == s.size()) {
        return false;
    }
    uint32_t port = 0;
    const auto digits = s.substr(colon + 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc{} || ptr != digits.data() + digits.size() || port > 65535) {
        return false;
    }
    auto host = s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        return net::parse_ip6(host.substr(1, host.size() - 2)).has_value();
    }
    return net::parse_ip4(host).has_value();
}

bool is_file_prefix(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.')) {
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

std::string_view family_name(const net::IpAddr& a) noexcept {
    return net::is_v4(a) ? "IPv4" : "IPv6";
}

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
        if (keyword == "ipsec") {
            return ipsec(rest);
        }
        if (keyword == "xdp") {
            return xdp(rest);
        }
        if (keyword == "telemetry") {
            return telemetry(rest);
        }
        if (keyword == "control") {
            return control(rest);
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
            return fail(
                "dataplane: expected at least one of burst, drain-us, idle-sleep-us, icmp-rate, ipsec-fragment");
        }
        auto& dp = config_.dataplane;
        return pairs(kWhat, t, {"burst", "drain-us", "idle-sleep-us", "icmp-rate", "ipsec-fragment"},
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
                         if (key == "ipsec-fragment") {
                             if (value != "on" && value != "off") {
                                 return Status(fail("dataplane: ipsec-fragment '{}' is neither 'on' nor 'off'", value));
                             }
                             dp.ipsec_fragment = value == "on";
                             return Status{};
                         }
                         return assign(number<uint32_t>(kWhat, key, value, 0, kMaxIcmpRatePps), dp.icmp_rate_pps);
                     });
    }

    // telemetry latency on|off window-s <1..3600> prometheus <address>:<port>|off
    [[nodiscard]] Status telemetry(Tokens t) {
        constexpr std::string_view kWhat = "telemetry";
        if (t.empty()) {
            return fail("telemetry: expected at least one of latency, window-s, prometheus");
        }
        auto& tc = config_.telemetry;
        return pairs(
            kWhat, t, {"latency", "window-s", "prometheus"}, [&](std::string_view key, std::string_view value) {
                if (key == "latency") {
                    if (value != "on" && value != "off") {
                        return Status(fail("telemetry: latency '{}' is neither 'on' nor 'off'", value));
                    }
                    tc.latency = value == "on";
                    return Status{};
                }
                if (key == "window-s") {
                    return assign(number<uint32_t>(kWhat, key, value, 1, kMaxWindowS), tc.window_s);
                }
                if (value == "off") {
                    tc.prometheus.clear();
                    return Status{};
                }
                if (!is_listen_address(value)) {
                    return Status(fail("telemetry: prometheus '{}' is not <IPv4>:<port> or [<IPv6>]:<port>", value));
                }
                tc.prometheus = value;
                return Status{};
            });
    }

    // control socket <absolute path> group <name>
    [[nodiscard]] Status control(Tokens t) {
        constexpr std::string_view kWhat = "control";
        if (t.empty()) {
            return fail("control: expected at least one of socket, group");
        }
        auto& cc = config_.control;
        return pairs(kWhat, t, {"socket", "group"}, [&](std::string_view key, std::string_view value) {
            if (key == "socket") {
                if (!value.starts_with('/') || value.ends_with('/') || value.size() >= kMaxSocketPath) {
                    return Status(fail("control: socket '{}' must be an absolute file path shorter than {} bytes",
                                       value, kMaxSocketPath));
                }
                cc.socket = value;
                return Status{};
            }
            if (value.empty() || value.size() > 32 || std::isdigit(static_cast<unsigned char>(value.front())) ||
                value.front() == '-' || !std::ranges::all_of(value, [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                })) {
                return Status(fail("control: group '{}' is not a group name", value));
            }
            cc.group = value;
            return Status{};
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
            return fail("port: invalid name '{}' (1-{} of a-z 0-9 _ -, starting with a letter)", name, kMaxPortNameLen);
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
            return fail("{}: dev '{}' is neither a PCI address ({}) nor a vdev (net_<driver><n>,...)", what, devargs,
                        kPciExample);
        }
        for (const auto& p : config_.ports) {
            if (device_key(p.devargs) == device) {
                return fail("{}: device '{}' is already used by port '{}'", what, devargs.substr(0, devargs.find(',')),
                            p.name);
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

    [[nodiscard]] Status ipsec(Tokens t) {
        if (!t.empty() && t[0] == "sa") {
            return ipsec_sa(t.subspan(1));
        }
        if (!t.empty() && t[0] == "policy") {
            return ipsec_policy(t.subspan(1));
        }
        return fail("ipsec: expected 'sa' or 'policy'");
    }

    [[nodiscard]] Result<IpsecDirection> direction(std::string_view what, std::string_view text) const {
        if (text == "in") {
            return IpsecDirection::in;
        }
        if (text == "out") {
            return IpsecDirection::out;
        }
        return fail("{}: direction '{}' is neither 'in' nor 'out'", what, text);
    }

    // ipsec sa <name> <in|out> spi <n> <aes-gcm-128|aes-gcm-256> key <hex> tunnel <local> <remote>
    //          [esn] [replay-window <n>] [lifetime <bytes|packets|seconds> <soft> <hard>]...
    [[nodiscard]] Status ipsec_sa(Tokens t) {
        if (t.size() < 2) {
            return fail("ipsec sa: expected '<name> <in|out> spi <n> <cipher> key <hex> tunnel <local> <remote>'");
        }
        SaConfig sa{.name = std::string(t[0]), .line = line_};
        const auto what = fmt::format("ipsec sa '{}'", t[0]);
        if (!is_port_name(t[0])) {
            return fail("{}: name must be 1-15 of [a-z0-9_-], starting with a letter", what);
        }
        if (auto existing = config_.find_sa(t[0])) {
            return fail("{}: already declared at line {}", what, config_.sas[*existing].line);
        }
        if (auto st = assign(direction(what, t[1]), sa.direction); !st) {
            return st;
        }
        bool have_spi = false;
        bool have_key = false;
        bool have_tunnel = false;
        size_t cipher_key_len = 0;
        std::vector<std::string_view> seen;
        for (size_t i = 2; i < t.size();) {
            const auto key = t[i];
            const bool repeatable = key == "lifetime";
            if (!repeatable && std::ranges::find(seen, key) != seen.end()) {
                return fail("{}: '{}' given twice", what, key);
            }
            seen.push_back(key);
            const auto need = [&](size_t n) -> Status {
                if (i + n >= t.size()) {
                    return fail("{}: missing value for '{}'", what, key);
                }
                return {};
            };
            if (key == "spi") {
                if (auto st = need(1); !st) {
                    return st;
                }
                uint64_t spi = 0;
                const auto text = t[i + 1];
                const bool hex = text.starts_with("0x") || text.starts_with("0X");
                const auto digits = hex ? text.substr(2) : text;
                const auto [ptr, ec] =
                    std::from_chars(digits.data(), digits.data() + digits.size(), spi, hex ? 16 : 10);
                if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || spi > UINT32_MAX) {
                    return fail("{}: spi '{}' is not a 32-bit number", what, text);
                }
                if (spi < 256) {
                    return fail("{}: spi {} is reserved (RFC 4303: 1-255 are IANA's, 0 is local)", what, spi);
                }
                sa.spi = static_cast<uint32_t>(spi);
                have_spi = true;
                i += 2;
            } else if (key == "aes-gcm-128" || key == "aes-gcm-256") {
                if (cipher_key_len != 0) {
                    return fail("{}: cipher given twice", what);
                }
                cipher_key_len = key == "aes-gcm-128" ? 16 : 32;
                i += 1;
            } else if (key == "key") {
                if (auto st = need(1); !st) {
                    return st;
                }
                // Never echo key material in an error.
                const auto hex = t[i + 1];
                if (!all_hex(hex) || hex.size() % 2 != 0) {
                    return fail("{}: key must be hexadecimal digits (an even number of them)", what);
                }
                sa.key.clear();
                for (size_t k = 0; k < hex.size(); k += 2) {
                    sa.key.push_back(static_cast<uint8_t>(std::stoul(std::string(hex.substr(k, 2)), nullptr, 16)));
                }
                have_key = true;
                i += 2;
            } else if (key == "tunnel") {
                if (auto st = need(2); !st) {
                    return st;
                }
                auto local = net::parse_ip(t[i + 1]);
                auto remote = net::parse_ip(t[i + 2]);
                if (!local || !remote) {
                    return fail("{}: tunnel endpoints '{}' '{}' are not both addresses", what, t[i + 1], t[i + 2]);
                }
                if (local->index() != remote->index()) {
                    return fail("{}: tunnel endpoints {} and {} are of different families", what, t[i + 1], t[i + 2]);
                }
                for (const auto* a : {&*local, &*remote}) {
                    if (auto why = not_unicast_reason(*a); !why.empty()) {
                        return fail("{}: tunnel endpoint {} is {}", what, net::to_string(*a), why);
                    }
                }
                if (!owner_of(*local)) {
                    return fail("{}: tunnel local {} is not an address of any port", what, net::to_string(*local));
                }
                sa.local = *local;
                sa.remote = *remote;
                have_tunnel = true;
                i += 3;
            } else if (key == "esn") {
                sa.esn = true;
                i += 1;
            } else if (key == "replay-window") {
                if (auto st = need(1); !st) {
                    return st;
                }
                if (auto st = assign(number<uint32_t>(what, key, t[i + 1], 0, kMaxReplayWindow), sa.replay_window);
                    !st) {
                    return st;
                }
                i += 2;
            } else if (key == "lifetime") {
                if (auto st = need(3); !st) {
                    return st;
                }
                const auto kind = t[i + 1];
                uint64_t soft = 0;
                uint64_t hard = 0;
                const uint64_t max = kind == "seconds" ? UINT32_MAX : UINT64_MAX;
                if (kind != "bytes" && kind != "packets" && kind != "seconds") {
                    return fail("{}: lifetime '{}' is not bytes, packets or seconds", what, kind);
                }
                const auto lt_what = fmt::format("{} lifetime {}", what, kind);
                if (auto st = assign(number<uint64_t>(lt_what, "soft", t[i + 2], 1, max), soft); !st) {
                    return st;
                }
                if (auto st = assign(number<uint64_t>(lt_what, "hard", t[i + 3], 1, max), hard); !st) {
                    return st;
                }
                if (soft > hard) {
                    return fail("{}: soft limit {} above hard limit {}", lt_what, soft, hard);
                }
                if (kind == "bytes") {
                    sa.soft_bytes = soft;
                    sa.hard_bytes = hard;
                } else if (kind == "packets") {
                    sa.soft_packets = soft;
                    sa.hard_packets = hard;
                } else {
                    sa.soft_seconds = static_cast<uint32_t>(soft);
                    sa.hard_seconds = static_cast<uint32_t>(hard);
                }
                i += 4;
            } else {
                // A key written without its keyword lands here: never echo
                // what could be key material.
                const bool maybe_secret = key.size() > 16 || all_hex(key) ||
                                          key.find("key") != std::string_view::npos ||
                                          key.find('=') != std::string_view::npos;
                if (maybe_secret) {
                    return fail("{}: unknown keyword at token {} (not shown: it may be key material)", what, i + 3);
                }
                return fail("{}: unknown keyword '{}'", what, key);
            }
        }
        if (!have_spi || cipher_key_len == 0 || !have_key || !have_tunnel) {
            return fail("{}: needs spi, a cipher (aes-gcm-128 or aes-gcm-256), key and tunnel", what);
        }
        if (sa.key.size() != cipher_key_len + 4) {
            return fail("{}: {} wants a key of {} hex digits (key + 4-byte salt), got {}", what,
                        cipher_key_len == 16 ? "aes-gcm-128" : "aes-gcm-256", (cipher_key_len + 4) * 2,
                        sa.key.size() * 2);
        }
        for (const auto& other : config_.sas) {
            if (other.direction == sa.direction && other.spi == sa.spi) {
                return fail("{}: spi {:#x} already used by '{}' (line {})", what, sa.spi, other.name, other.line);
            }
        }
        config_.sas.push_back(std::move(sa));
        return {};
    }

    [[nodiscard]] Result<PortRange> port_range(std::string_view what, std::string_view key,
                                               std::string_view text) const {
        const auto dash = text.find('-');
        PortRange r;
        if (auto st = assign(number<uint16_t>(what, key, text.substr(0, dash), 0, 65535), r.lo); !st) {
            return std::unexpected(st.error());
        }
        r.hi = r.lo;
        if (dash != std::string_view::npos) {
            if (auto st = assign(number<uint16_t>(what, key, text.substr(dash + 1), 0, 65535), r.hi); !st) {
                return std::unexpected(st.error());
            }
        }
        if (r.lo > r.hi) {
            return fail("{}: {} range {} is empty", what, key, text);
        }
        return r;
    }

    // ipsec policy <in|out> priority <n> src <prefix> dst <prefix> [proto <p>] [sport a[-b]] [dport a[-b]]
    //              (protect <sa> | bypass | discard)
    [[nodiscard]] Status ipsec_policy(Tokens t) {
        if (t.empty()) {
            return fail("ipsec policy: expected '<in|out> priority <n> src <prefix> dst <prefix> ... <action>'");
        }
        PolicyConfig pol{.line = line_};
        const std::string what = fmt::format("ipsec policy (line {})", line_);
        if (auto st = assign(direction(what, t[0]), pol.direction); !st) {
            return st;
        }
        bool have_priority = false;
        bool have_src = false;
        bool have_dst = false;
        bool have_action = false;
        std::vector<std::string_view> seen;
        for (size_t i = 1; i < t.size();) {
            const auto key = t[i];
            if (std::ranges::find(seen, key) != seen.end()) {
                return fail("{}: '{}' given twice", what, key);
            }
            seen.push_back(key);
            if (key == "bypass" || key == "discard") {
                if (have_action) {
                    return fail("{}: more than one action", what);
                }
                pol.action = key == "bypass" ? PolicyAction::bypass : PolicyAction::discard;
                have_action = true;
                i += 1;
                continue;
            }
            if (i + 1 >= t.size()) {
                return fail("{}: missing value for '{}'", what, key);
            }
            const auto value = t[i + 1];
            i += 2;
            if (key == "priority") {
                if (auto st = assign(number<uint32_t>(what, key, value, 0, UINT32_MAX), pol.priority); !st) {
                    return st;
                }
                have_priority = true;
            } else if (key == "src" || key == "dst") {
                auto prefix = net::parse_prefix(value);
                if (!prefix) {
                    return fail("{}: {} '{}' is not a prefix (address/length)", what, key, value);
                }
                if (!prefix->is_canonical()) {
                    return fail("{}: {} {} has host bits set; did you mean {}?", what, key, value,
                                net::to_string(prefix->canonical()));
                }
                (key == "src" ? pol.src : pol.dst) = *prefix;
                (key == "src" ? have_src : have_dst) = true;
            } else if (key == "proto") {
                static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
                    {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"esp", 50}, {"icmpv6", 58}, {"sctp", 132}};
                std::optional<uint8_t> proto;
                for (const auto& [name, number_value] : kNames) {
                    if (value == name) {
                        proto = number_value;
                    }
                }
                if (!proto) {
                    uint8_t n = 0;
                    if (auto st = assign(number<uint8_t>(what, key, value, 0, 255), n); !st) {
                        return st;
                    }
                    proto = n;
                }
                pol.proto = proto;
            } else if (key == "sport" || key == "dport") {
                if (auto st = assign(port_range(what, key, value), key == "sport" ? pol.sport : pol.dport); !st) {
                    return st;
                }
            } else if (key == "protect") {
                if (have_action) {
                    return fail("{}: more than one action", what);
                }
                auto sa = config_.find_sa(value);
                if (!sa) {
                    return fail("{}: unknown sa '{}' (declare it with 'ipsec sa' first)", what, value);
                }
                if (config_.sas[*sa].direction != pol.direction) {
                    return fail("{}: sa '{}' is {}bound but the policy is {}bound", what, value,
                                config_.sas[*sa].direction == IpsecDirection::in ? "in" : "out",
                                pol.direction == IpsecDirection::in ? "in" : "out");
                }
                pol.action = PolicyAction::protect;
                pol.sa = *sa;
                have_action = true;
            } else {
                return fail("{}: unknown keyword '{}'", what, key);
            }
        }
        if (!have_priority || !have_src || !have_dst || !have_action) {
            return fail("{}: needs priority, src, dst and an action (protect <sa>, bypass or discard)", what);
        }
        if (pol.src.addr.index() != pol.dst.addr.index()) {
            return fail("{}: src and dst are of different families", what);
        }
        const bool has_ports = pol.proto && (*pol.proto == 6 || *pol.proto == 17 || *pol.proto == 132);
        if ((!pol.sport.any() || !pol.dport.any()) && !has_ports) {
            return fail("{}: sport/dport need proto tcp, udp or sctp", what);
        }
        for (const auto& other : config_.policies) {
            if (other.direction == pol.direction && other.priority == pol.priority) {
                return fail("{}: priority {} already used by the policy at line {}", what, pol.priority, other.line);
            }
        }
        config_.policies.push_back(pol);
        return {};
    }

    // xdp port <name> [mode native|generic] [replace]
    // xdp block <prefix>
    // xdp ratelimit <pps> burst <n>
    // xdp pass arp|nd|icmp | xdp pass tcp|udp <port>
    // xdp bypass <prefix> via-iface <ifname> dst-mac <mac> [src-mac <mac>]
    [[nodiscard]] Status xdp(Tokens t) {
        constexpr uint64_t kMaxXdpPps = 100'000'000;
        constexpr uint64_t kMaxXdpBurst = 10'000'000;
        constexpr size_t kMaxIfnameLen = 15;  // IFNAMSIZ - 1
        if (t.empty()) {
            return fail("xdp: expected 'port', 'block', 'ratelimit', 'pass' or 'bypass'");
        }
        const auto sub = t[0];
        if (sub != "port" && xdp_rule_line_ == 0) {
            xdp_rule_line_ = line_;
        }
        if (sub == "port") {
            if (t.size() < 2) {
                return fail("xdp port: expected '<name>'");
            }
            const auto what = fmt::format("xdp port '{}'", t[1]);
            auto idx = known_port("xdp port", t[1]);
            if (!idx) {
                return std::unexpected(std::move(idx.error()));
            }
            if (kernel_iface(config_.ports[*idx].devargs).empty()) {
                return fail("{}: not a net_af_xdp or net_af_packet port with iface=<kernel interface>", what);
            }
            for (const auto& x : config_.xdp.ports) {
                if (x.port == *idx) {
                    return fail("{}: declared twice", what);
                }
            }
            XdpPortConfig xp{.port = *idx};
            bool mode_seen = false;
            bool replace_seen = false;
            for (size_t i = 2; i < t.size(); ++i) {
                if (t[i] == "mode" && !mode_seen) {
                    if (i + 1 >= t.size()) {
                        return fail("{}: missing value for 'mode'", what);
                    }
                    if (t[i + 1] != "native" && t[i + 1] != "generic") {
                        return fail("{}: mode '{}' is not native or generic", what, t[i + 1]);
                    }
                    xp.mode = t[i + 1] == "native" ? XdpMode::native : XdpMode::generic;
                    mode_seen = true;
                    ++i;
                } else if (t[i] == "replace" && !replace_seen) {
                    xp.replace = true;
                    replace_seen = true;
                } else if (t[i] == "mode" || t[i] == "replace") {
                    return fail("{}: '{}' given twice", what, t[i]);
                } else {
                    return fail("{}: unknown keyword '{}'", what, t[i]);
                }
            }
            config_.xdp.ports.push_back(xp);
            return {};
        }
        auto canonical_prefix = [&](std::string_view what, std::string_view text) -> Result<net::IpPrefix> {
            const auto p = net::parse_prefix(text);
            if (!p) {
                return fail("{}: invalid prefix '{}'", what, text);
            }
            if (!p->is_canonical()) {
                return fail("{} {}: host bits set, did you mean {}?", what, text, net::to_string(p->canonical()));
            }
            return *p;
        };
        if (sub == "block") {
            if (t.size() < 2) {
                return fail("xdp block: expected '<prefix>'");
            }
            auto p = canonical_prefix("xdp block", t[1]);
            if (!p) {
                return std::unexpected(std::move(p.error()));
            }
            const auto what = fmt::format("xdp block {}", net::to_string(*p));
            if (auto st = no_more(what, t.subspan(2)); !st) {
                return st;
            }
            if (std::ranges::find(config_.xdp.blocks, *p) != config_.xdp.blocks.end()) {
                return fail("{}: declared twice", what);
            }
            config_.xdp.blocks.push_back(*p);
            return {};
        }
        if (sub == "ratelimit") {
            constexpr std::string_view kWhat = "xdp ratelimit";
            if (t.size() != 4 || t[2] != "burst") {
                return fail("{}: expected '<pps> burst <packets>'", kWhat);
            }
            if (config_.xdp.rate_pps != 0) {
                return fail("{}: given twice", kWhat);
            }
            auto pps = number<uint64_t>(kWhat, "pps", t[1], 1, kMaxXdpPps);
            if (!pps) {
                return std::unexpected(std::move(pps.error()));
            }
            auto burst = number<uint64_t>(kWhat, "burst", t[3], 1, kMaxXdpBurst);
            if (!burst) {
                return std::unexpected(std::move(burst.error()));
            }
            config_.xdp.rate_pps = *pps;
            config_.xdp.rate_burst = *burst;
            return {};
        }
        if (sub == "pass") {
            if (t.size() == 2 && (t[1] == "arp" || t[1] == "nd" || t[1] == "icmp")) {
                bool& flag =
                    t[1] == "arp" ? config_.xdp.pass_arp : (t[1] == "nd" ? config_.xdp.pass_nd : config_.xdp.pass_icmp);
                if (flag) {
                    return fail("xdp pass {}: declared twice", t[1]);
                }
                flag = true;
                return {};
            }
            if (t.size() >= 2 && (t[1] == "tcp" || t[1] == "udp")) {
                const auto what = fmt::format("xdp pass {}", t[1]);
                if (t.size() < 3) {
                    return fail("{}: expected '<port>'", what);
                }
                auto port = number<uint16_t>(what, "port", t[2], 1, 65535);
                if (!port) {
                    return std::unexpected(std::move(port.error()));
                }
                if (auto st = no_more(what, t.subspan(3)); !st) {
                    return st;
                }
                auto& list = t[1] == "tcp" ? config_.xdp.pass_tcp : config_.xdp.pass_udp;
                if (std::ranges::find(list, *port) != list.end()) {
                    return fail("{} {}: declared twice", what, *port);
                }
                list.push_back(*port);
                return {};
            }
            return fail("xdp pass: expected 'arp', 'nd', 'icmp', 'tcp <port>' or 'udp <port>'");
        }
        if (sub == "bypass") {
            if (t.size() < 2) {
                return fail("xdp bypass: expected '<prefix> via-iface <ifname> dst-mac <mac> [src-mac <mac>]'");
            }
            auto p = canonical_prefix("xdp bypass", t[1]);
            if (!p) {
                return std::unexpected(std::move(p.error()));
            }
            const auto what = fmt::format("xdp bypass {}", net::to_string(*p));
            XdpBypassConfig b{.prefix = *p, .via_iface = {}, .dst_mac = {}, .src_mac = {}};
            bool has_dst = false;
            auto mac = [&](std::string_view key, std::string_view value) -> Result<net::MacAddr> {
                const auto m = net::parse_mac(value);
                if (!m) {
                    return fail("{}: invalid {} '{}'", what, key, value);
                }
                if (m->is_zero() || m->is_multicast()) {
                    return fail("{}: {} {} is not a unicast MAC", what, key, value);
                }
                return *m;
            };
            auto st = pairs(what, t.subspan(2), {"via-iface", "dst-mac", "src-mac"},
                            [&](std::string_view key, std::string_view value) -> Status {
                                if (key == "via-iface") {
                                    if (value.empty() || value.size() > kMaxIfnameLen ||
                                        value.find('/') != std::string_view::npos) {
                                        return fail("{}: invalid interface name '{}'", what, value);
                                    }
                                    b.via_iface = std::string(value);
                                    return {};
                                }
                                auto m = mac(key, value);
                                if (!m) {
                                    return std::unexpected(std::move(m.error()));
                                }
                                if (key == "dst-mac") {
                                    b.dst_mac = *m;
                                    has_dst = true;
                                } else {
                                    b.src_mac = *m;
                                }
                                return {};
                            });
            if (!st) {
                return st;
            }
            if (b.via_iface.empty() || !has_dst) {
                return fail("{}: 'via-iface' and 'dst-mac' are required", what);
            }
            for (const auto& other : config_.xdp.bypass) {
                if (other.prefix == b.prefix) {
                    return fail("{}: declared twice", what);
                }
            }
            config_.xdp.bypass.push_back(std::move(b));
            return {};
        }
        return fail("xdp: unknown keyword '{}'", sub);
    }

    // Cross-statement rules, then round-robin placement of unpolled rx queues.
    [[nodiscard]] Status finish() {
        if (xdp_rule_line_ != 0 && config_.xdp.ports.empty()) {
            line_ = xdp_rule_line_;
            return fail("xdp: rules given but no 'xdp port <name>' to attach them to");
        }
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
    int xdp_rule_line_ = 0;  // first xdp rule statement (finish() needs an xdp port for it)
};

}  // namespace

Config without_lines(Config c) {
    for (auto& p : c.ports) {
        p.line = 0;
    }
    for (auto& w : c.workers) {
        w.line = 0;
    }
    for (auto& r : c.routes) {
        r.line = 0;
    }
    for (auto& n : c.neighbors) {
        n.line = 0;
    }
    for (auto& s : c.sas) {
        s.line = 0;
    }
    for (auto& p : c.policies) {
        p.line = 0;
    }
    return c;
}

std::optional<uint16_t> Config::find_sa(std::string_view name) const {
    for (size_t i = 0; i < sas.size(); ++i) {
        if (sas[i].name == name) {
            return static_cast<uint16_t>(i);
        }
    }
    return std::nullopt;
}

std::optional<uint16_t> Config::find_port(std::string_view name) const {
    for (size_t i = 0; i < ports.size(); ++i) {
        if (ports[i].name == name) {
            return static_cast<uint16_t>(i);
        }
    }
    return std::nullopt;
}

std::string kernel_iface(std::string_view devargs) {
    const auto comma = devargs.find(',');
    const auto dev = devargs.substr(0, comma);
    if (!dev.starts_with("net_af_xdp") && !dev.starts_with("net_af_packet")) {
        return {};
    }
    std::string_view rest = comma == std::string_view::npos ? std::string_view{} : devargs.substr(comma + 1);
    while (!rest.empty()) {
        const auto next = rest.find(',');
        const auto kv = rest.substr(0, next);
        if (kv.starts_with("iface=") && kv.size() > 6) {
            return std::string(kv.substr(6));
        }
        rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    }
    return {};
}

Result<Config> parse_config(std::string_view text, std::string_view source) {
    return Parser(source).run(text);
}

Result<Config> load_config(const std::filesystem::path& path) {
    const auto path_text = path.string();
    std::FILE* f = std::fopen(path_text.c_str(), "rb");
    if (f == nullptr) {
        const int err = errno;
        return make_errno_error(err, "cannot read config '{}': {}", path_text, std::generic_category().message(err));
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
        return make_errno_error(err, "cannot read config '{}': {}", path_text, std::generic_category().message(err));
    }
    auto config = parse_config(text, path_text);
    if (config && !config->sas.empty()) {
        struct stat st {};
        if (::stat(path_text.c_str(), &st) == 0 && (st.st_mode & S_IRWXO) != 0) {
            return make_error(
                "config '{}' holds IPsec keys but is accessible to all users (mode {:04o}); "
                "run: chmod o-rwx '{}'",
                path_text, st.st_mode & 07777, path_text);
        }
    }
    return config;
}

std::string control_socket_path(const Config& config) {
    return config.control.socket.empty() ? "/run/gatewayd/" + config.eal.file_prefix + ".sock" : config.control.socket;
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
        line("dataplane burst {} drain-us {} idle-sleep-us {} icmp-rate {}{}", dp.burst, dp.drain_us, dp.idle_sleep_us,
             dp.icmp_rate_pps, dp.ipsec_fragment ? " ipsec-fragment on" : "");
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
    const SaConfig sa_default;
    for (const auto& sa : config.sas) {
        std::string key_hex;
        for (auto b : sa.key) {
            key_hex += fmt::format("{:02x}", b);
        }
        std::string decl = fmt::format("ipsec sa {} {} spi {:#x} aes-gcm-{} key {} tunnel {} {}", sa.name,
                                       sa.direction == IpsecDirection::in ? "in" : "out", sa.spi, sa.key_bits(),
                                       key_hex, net::to_string(sa.local), net::to_string(sa.remote));
        if (sa.esn) {
            decl += " esn";
        }
        if (sa.replay_window != sa_default.replay_window) {
            decl += fmt::format(" replay-window {}", sa.replay_window);
        }
        if (sa.hard_bytes != 0) {
            decl += fmt::format(" lifetime bytes {} {}", sa.soft_bytes, sa.hard_bytes);
        }
        if (sa.hard_packets != 0) {
            decl += fmt::format(" lifetime packets {} {}", sa.soft_packets, sa.hard_packets);
        }
        if (sa.hard_seconds != 0) {
            decl += fmt::format(" lifetime seconds {} {}", sa.soft_seconds, sa.hard_seconds);
        }
        line("{}", decl);
    }
    for (const auto& p : config.policies) {
        std::string decl =
            fmt::format("ipsec policy {} priority {} src {} dst {}", p.direction == IpsecDirection::in ? "in" : "out",
                        p.priority, net::to_string(p.src), net::to_string(p.dst));
        if (p.proto) {
            decl += fmt::format(" proto {}", *p.proto);
        }
        if (!p.sport.any()) {
            decl += fmt::format(" sport {}-{}", p.sport.lo, p.sport.hi);
        }
        if (!p.dport.any()) {
            decl += fmt::format(" dport {}-{}", p.dport.lo, p.dport.hi);
        }
        switch (p.action) {
            case PolicyAction::protect:
                decl += fmt::format(" protect {}", p.sa < config.sas.size() ? config.sas[p.sa].name : "?");
                break;
            case PolicyAction::bypass:
                decl += " bypass";
                break;
            case PolicyAction::discard:
                decl += " discard";
                break;
        }
        line("{}", decl);
    }
    const auto& xdp = config.xdp;
    for (const auto& x : xdp.ports) {
        line("xdp port {} mode {}{}", port_name(x.port), x.mode == XdpMode::native ? "native" : "generic",
             x.replace ? " replace" : "");
    }
    for (const auto& b : xdp.blocks) {
        line("xdp block {}", net::to_string(b));
    }
    if (xdp.rate_pps != 0) {
        line("xdp ratelimit {} burst {}", xdp.rate_pps, xdp.rate_burst);
    }
    if (xdp.pass_arp) {
        line("xdp pass arp");
    }
    if (xdp.pass_nd) {
        line("xdp pass nd");
    }
    if (xdp.pass_icmp) {
        line("xdp pass icmp");
    }
    for (auto p : xdp.pass_tcp) {
        line("xdp pass tcp {}", p);
    }
    for (auto p : xdp.pass_udp) {
        line("xdp pass udp {}", p);
    }
    for (const auto& b : xdp.bypass) {
        std::string decl = fmt::format("xdp bypass {} via-iface {} dst-mac {}", net::to_string(b.prefix), b.via_iface,
                                       net::to_string(b.dst_mac));
        if (b.src_mac) {
            decl += fmt::format(" src-mac {}", net::to_string(*b.src_mac));
        }
        line("{}", decl);
    }

    const TelemetryConfig tm_default;
    const auto& tm = config.telemetry;
    if (tm != tm_default) {
        line("telemetry latency {} window-s {} prometheus {}", tm.latency ? "on" : "off", tm.window_s,
             tm.prometheus.empty() ? std::string("off") : tm.prometheus);
    }
    const ControlConfig cc_default;
    const auto& cc = config.control;
    if (cc != cc_default) {
        std::string decl = "control";
        if (!cc.socket.empty()) {
            decl += " socket " + cc.socket;
        }
        if (!cc.group.empty()) {
            decl += " group " + cc.group;
        }
        line("{}", decl);
    }
    return out;
}

}  // namespace gw::cp
