#pragma once
// Control-plane error regime: every fallible setup or config operation returns
// Result<T>; the message names the operation, the object and the cause.
// The data plane never uses this: it has verdicts and counters.

#include <expected>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace gw {

struct Error {
    std::string message;
    int code = 0;  // errno-style value where one exists (negative rte_errno / libbpf), else 0
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

template <typename... Args>
[[nodiscard]] std::unexpected<Error> make_error(fmt::format_string<Args...> f, Args&&... args) {
    return std::unexpected(Error{fmt::format(f, std::forward<Args>(args)...), 0});
}

template <typename... Args>
[[nodiscard]] std::unexpected<Error> make_errno_error(int code, fmt::format_string<Args...> f, Args&&... args) {
    return std::unexpected(Error{fmt::format(f, std::forward<Args>(args)...), code});
}

}  // namespace gw
