#pragma once
// The control socket: runtime commands (`show interface`, `ipsec sa add` ...)
// from operators (gwctl) and scripts, as line-delimited JSON over a UNIX stream
// socket. docs/cli.md is the protocol reference.
//
// CommandRegistry maps command words to handlers; ControlServer owns the
// socket and its clients and is polled by the gateway's control thread, so
// handlers run on that thread and may read and change control-side state
// without locks. Nothing here blocks: a slow or vanished client costs the
// control loop nothing.
//
// Request lines are never logged: they may carry IPsec keys.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace gw::cp {

inline constexpr int kControlProtocolVersion = 1;
inline constexpr std::string_view kDefaultControlSocket = "/run/gatewayd/gatewayd.sock";

// Error codes of a failed reply (docs/cli.md says what gwctl's exit code is for each).
namespace reply_code {
inline constexpr std::string_view kBadRequest = "bad-request";  // not JSON, not an object, wrong member types
inline constexpr std::string_view kUnsupportedVersion = "unsupported-version";
inline constexpr std::string_view kTooLarge = "too-large";              // request line over the limit; then closed
inline constexpr std::string_view kUnknownCommand = "unknown-command";  // message lists the closest commands
inline constexpr std::string_view kUsage = "usage";                     // message ends with the usage line
inline constexpr std::string_view kInvalid = "invalid";  // well-formed but rejected; running state unchanged
inline constexpr std::string_view kNotFound = "not-found";
inline constexpr std::string_view kUnavailable = "unavailable";  // feature not configured, or server busy
inline constexpr std::string_view kInternal = "internal";
}  // namespace reply_code

// What a command shows an operator. A table's cells are already formatted;
// gwctl aligns them. A non-empty `text` makes this a text view (title optional).
struct View {
    std::string title;
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
    std::string text;
};

// A handler's answer. On success, `result` is the machine-readable answer
// (gwctl --json prints it) and `views` its rendering for people.
struct CommandReply {
    bool ok = true;
    std::string error_code;  // one of reply_code when !ok
    std::string message;     // one line saying why, when !ok
    nlohmann::json result;
    std::vector<View> views;

    // A failed reply. With code "usage" the registry appends the command's
    // usage line, so handlers only say what was wrong.
    [[nodiscard]] static CommandReply fail(std::string code, std::string message);
};

using CommandArgs = std::span<const std::string>;  // the words after the matched command words
using CommandHandler = std::function<CommandReply(CommandArgs)>;

class CommandRegistry {
public:
    // `gateway_version` is what the built-in `version` command reports.
    explicit CommandRegistry(std::string gateway_version);

    // words: "show interface"; usage: "show interface [NAME]"; help: one line.
    // Throws std::invalid_argument on empty words or words already registered
    // (including the built-ins `help`, `commands`, `version`): a programming
    // error, caught by the first test that builds the registry.
    void add(std::string words, std::string usage, std::string help, CommandHandler handler);

    // The command whose words are the longest prefix of argv runs with the
    // remaining words. Never throws: a handler's exception becomes an
    // "internal" reply, no match an "unknown-command" reply naming the closest
    // commands.
    [[nodiscard]] CommandReply dispatch(std::span<const std::string> argv) const;

    [[nodiscard]] const std::string& gateway_version() const noexcept { return gateway_version_; }

private:
    enum class Builtin { none, help, commands, version };
    struct Command {
        std::vector<std::string> words;
        std::string name;  // words joined by one space
        std::string usage;
        std::string help;
        CommandHandler handler;  // empty for the built-ins, which the registry answers itself
        Builtin builtin = Builtin::none;
    };

    [[nodiscard]] const Command* match(std::span<const std::string> argv) const noexcept;
    [[nodiscard]] std::vector<const Command*> closest(std::span<const std::string> typed) const;
    [[nodiscard]] CommandReply run(const Command& command, CommandArgs args) const;
    [[nodiscard]] CommandReply help(CommandArgs args) const;
    [[nodiscard]] CommandReply list() const;
    [[nodiscard]] std::vector<const Command*> sorted() const;
    void insert(Command command);

    std::string gateway_version_;
    std::vector<Command> commands_;
    std::size_t max_words_ = 0;
};

// Answers one request line (without its '\n') with one reply line (without
// '\n'). The server's whole protocol except framing and limits; exposed for
// tests and for other transports.
[[nodiscard]] std::string answer_request(const CommandRegistry& registry, std::string_view line);

struct ControlServerOptions {
    std::filesystem::path path{kDefaultControlSocket};
    mode_t mode = 0660;                               // socket file mode
    std::string group;                                // chgrp to this group when not empty; unknown group -> error
    std::size_t max_request = 64 * 1024;              // bytes per request line
    std::size_t max_clients = 16;                     // beyond: accepted, answered "unavailable" (busy) and closed
    std::size_t max_output = 4 * 1024 * 1024;         // bytes queued to one client; see ControlServer
    std::chrono::milliseconds idle_timeout{300'000};  // a client with no progress this long is closed
};

// Serves the registry's commands on a UNIX stream socket. Each client's
// requests are answered in order; several may be pipelined. Output to one
// client is bounded by backpressure: while `max_output` bytes are queued to
// it, its further requests wait unread; a single reply larger than
// `max_output` is replaced by an "internal" error. A client that neither reads
// nor writes for `idle_timeout` is closed.
class ControlServer {
public:
    // Creates the socket's directory (0755) if missing, refuses to replace a
    // path that is not a socket, replaces a stale socket (nobody listening),
    // refuses if another process listens on it ("already running?"), binds,
    // sets mode and group, then listens.
    [[nodiscard]] static Result<std::unique_ptr<ControlServer>> listen(ControlServerOptions options,
                                                                       const CommandRegistry& registry);
    ~ControlServer();  // closes the clients and unlinks the socket (if it is still ours)

    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Accepts, reads, answers complete request lines and writes replies for
    // all clients, without blocking longer than timeout_ms (0: only what is
    // ready now; negative is treated as 0). Returns how many requests were
    // answered.
    unsigned poll(int timeout_ms) noexcept;

    [[nodiscard]] std::size_t clients() const noexcept;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return options_.path; }

private:
    struct Client;

    ControlServer(ControlServerOptions options, const CommandRegistry& registry, int listen_fd, ino_t inode);
    void accept_clients() noexcept;
    void read_from(Client& c) noexcept;
    unsigned serve_lines(Client& c) noexcept;
    void write_to(Client& c) noexcept;
    void close_client(Client& c, std::string_view why) noexcept;

    ControlServerOptions options_;
    const CommandRegistry& registry_;
    int listen_fd_ = -1;
    ino_t inode_ = 0;  // the socket file we bound: the destructor unlinks only that
    std::vector<std::unique_ptr<Client>> clients_;
    uint64_t next_client_id_ = 1;
};

}  // namespace gw::cp
