#pragma once
// Address value types shared by config, control plane and data plane setup.
// IPv4 addresses are kept in host byte order (as rte_lpm wants them); IPv6
// addresses as 16 network-order bytes (as rte_lpm6 wants them).

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace gw::net {

struct MacAddr {
    std::array<uint8_t, 6> bytes{};
    auto operator<=>(const MacAddr&) const = default;
    [[nodiscard]] bool is_zero() const noexcept;
    [[nodiscard]] bool is_multicast() const noexcept { return (bytes[0] & 1) != 0; }
};

struct Ip4Addr {
    uint32_t host = 0;  // host byte order
    auto operator<=>(const Ip4Addr&) const = default;
};

struct Ip6Addr {
    std::array<uint8_t, 16> bytes{};  // network byte order
    auto operator<=>(const Ip6Addr&) const = default;
};

using IpAddr = std::variant<Ip4Addr, Ip6Addr>;

[[nodiscard]] inline bool is_v4(const IpAddr& a) noexcept {
    return std::holds_alternative<Ip4Addr>(a);
}

struct IpPrefix {
    IpAddr addr;
    uint8_t len = 0;
    auto operator<=>(const IpPrefix&) const = default;

    [[nodiscard]] bool is_v4() const noexcept { return net::is_v4(addr); }
    [[nodiscard]] uint8_t max_len() const noexcept { return is_v4() ? 32 : 128; }
    // True when no bit beyond `len` is set (10.0.0.0/8, not 10.0.0.1/8).
    [[nodiscard]] bool is_canonical() const noexcept;
    [[nodiscard]] IpPrefix canonical() const noexcept;
    [[nodiscard]] bool contains(const IpAddr& a) const noexcept;
};

[[nodiscard]] std::optional<MacAddr> parse_mac(std::string_view s) noexcept;
[[nodiscard]] std::optional<Ip4Addr> parse_ip4(std::string_view s) noexcept;
[[nodiscard]] std::optional<Ip6Addr> parse_ip6(std::string_view s) noexcept;
[[nodiscard]] std::optional<IpAddr> parse_ip(std::string_view s) noexcept;
// "a.b.c.d/len" or "x::y/len"; the address part is kept as written (see is_canonical).
[[nodiscard]] std::optional<IpPrefix> parse_prefix(std::string_view s) noexcept;

[[nodiscard]] std::string to_string(const MacAddr& m);
[[nodiscard]] std::string to_string(const Ip4Addr& a);
[[nodiscard]] std::string to_string(const Ip6Addr& a);
[[nodiscard]] std::string to_string(const IpAddr& a);
[[nodiscard]] std::string to_string(const IpPrefix& p);

}  // namespace gw::net
