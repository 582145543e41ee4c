#include "log.h"

#include <atomic>

namespace gw::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
constexpr std::string_view kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level l) noexcept {
    g_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

Level level() noexcept {
    return static_cast<Level>(g_level.load(std::memory_order_relaxed));
}

void write(Level l, std::string_view message) noexcept {
    const auto name = kNames[static_cast<int>(l)];
    std::fprintf(stderr, "gatewayd[%.*s]: %.*s\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(message.size()), message.data());
}

}  // namespace gw::log
