#pragma once
// Minimal leveled logging for the control plane (never called per packet).
// Lines go to stderr as "gatewayd[LEVEL]: message"; the level is set once at startup.

#include <cstdio>
#include <string_view>

#include <fmt/core.h>

namespace gw::log {

enum class Level : int { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level level) noexcept;
[[nodiscard]] Level level() noexcept;
void write(Level level, std::string_view message) noexcept;

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (level() >= Level::warn) {
        write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    if (level() >= Level::info) {
        write(Level::info, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (level() >= Level::debug) {
        write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
    }
}

}  // namespace gw::log
