#include "net.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace gw::net {

bool MacAddr::is_zero() const noexcept {
    for (auto b : bytes) {
        if (b != 0) {
            return false;
        }
    }
    return true;
}

namespace {

std::array<uint8_t, 16> mask_bytes(const std::array<uint8_t, 16>& in, uint8_t len) noexcept {
    std::array<uint8_t, 16> out{};
    for (unsigned i = 0; i < 16; ++i) {
        const int bits = static_cast<int>(len) - static_cast<int>(i * 8);
        if (bits >= 8) {
            out[i] = in[i];
        } else if (bits > 0) {
            out[i] = static_cast<uint8_t>(in[i] & (0xffu << (8 - bits)));
        }
    }
    return out;
}

uint32_t mask4(uint8_t len) noexcept {
    return len == 0 ? 0 : ~uint32_t{0} << (32 - len);
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

IpPrefix IpPrefix::canonical() const noexcept {
    if (const auto* a4 = std::get_if<Ip4Addr>(&addr)) {
        return IpPrefix{Ip4Addr{a4->host & mask4(len)}, len};
    }
    return IpPrefix{Ip6Addr{mask_bytes(std::get<Ip6Addr>(addr).bytes, len)}, len};
}

bool IpPrefix::is_canonical() const noexcept {
    return canonical().addr == addr;
}

bool IpPrefix::contains(const IpAddr& a) const noexcept {
    if (a.index() != addr.index()) {
        return false;
    }
    return IpPrefix{a, len}.canonical().addr == canonical().addr;
}

std::optional<MacAddr> parse_mac(std::string_view s) noexcept {
    // Six hex octets separated by ':' or '-'.
    if (s.size() != 17) {
        return std::nullopt;
    }
    MacAddr m;
    for (unsigned i = 0; i < 6; ++i) {
        const int hi = hex_digit(s[i * 3]);
        const int lo = hex_digit(s[i * 3 + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-') {
            return std::nullopt;
        }
        m.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return m;
}

std::optional<Ip4Addr> parse_ip4(std::string_view s) noexcept {
    if (s.empty() || s.size() >= INET_ADDRSTRLEN) {
        return std::nullopt;
    }
    char buf[INET_ADDRSTRLEN] = {};
    s.copy(buf, s.size());
    in_addr a{};
    if (inet_pton(AF_INET, buf, &a) != 1) {
        return std::nullopt;
    }
    return Ip4Addr{ntohl(a.s_addr)};
}

std::optional<Ip6Addr> parse_ip6(std::string_view s) noexcept {
    if (s.empty() || s.size() >= INET6_ADDRSTRLEN) {
        return std::nullopt;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    s.copy(buf, s.size());
    Ip6Addr out;
    if (inet_pton(AF_INET6, buf, out.bytes.data()) != 1) {
        return std::nullopt;
    }
    return out;
}

std::optional<IpAddr> parse_ip(std::string_view s) noexcept {
    if (s.find(':') != std::string_view::npos) {
        if (auto a = parse_ip6(s)) {
            return IpAddr{*a};
        }
        return std::nullopt;
    }
    if (auto a = parse_ip4(s)) {
        return IpAddr{*a};
    }
    return std::nullopt;
}

std::optional<IpPrefix> parse_prefix(std::string_view s) noexcept {
    const auto slash = s.find('/');
    if (slash == std::string_view::npos) {
        return std::nullopt;
    }
    auto addr = parse_ip(s.substr(0, slash));
    if (!addr) {
        return std::nullopt;
    }
    const auto len_text = s.substr(slash + 1);
    unsigned len = 0;
    const auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (len_text.empty() || ec != std::errc{} || ptr != len_text.data() + len_text.size()) {
        return std::nullopt;
    }
    IpPrefix p{*addr, 0};
    if (len > p.max_len()) {
        return std::nullopt;
    }
    p.len = static_cast<uint8_t>(len);
    return p;
}

std::string to_string(const MacAddr& m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m.bytes[0], m.bytes[1], m.bytes[2], m.bytes[3],
                  m.bytes[4], m.bytes[5]);
    return buf;
}

std::string to_string(const Ip4Addr& a) {
    char buf[INET_ADDRSTRLEN];
    const in_addr n{htonl(a.host)};
    inet_ntop(AF_INET, &n, buf, sizeof buf);
    return buf;
}

std::string to_string(const Ip6Addr& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
    return buf;
}

std::string to_string(const IpAddr& a) {
    return std::visit([](const auto& v) { return to_string(v); }, a);
}

std::string to_string(const IpPrefix& p) {
    return to_string(p.addr) + "/" + std::to_string(p.len);
}

}  // namespace gw::net
