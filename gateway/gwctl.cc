// gwctl: the operator's client of gatewayd's control socket (docs/cli.md).
//
//   gwctl [options] COMMAND WORDS...   one command; tables, or --json the result
//   gwctl [options]                    interactive shell on a TTY, else a script on stdin
//   gwctl [options] -f FILE            a script from FILE
//   gwctl [options] top [--interval S] [--count N]   live rates, computed here
//
// Exit codes scripts rely on: 0 ok; 1 the gateway rejected the command
// (invalid, not-found, unavailable, internal); 2 usage (a local option error,
// or the gateway answered usage, unknown-command or bad-request); 3 cannot
// connect, timeout or protocol error. Errors go to stderr as "gwctl: <message>".
//
// Secrets: IPsec keys are write-only, so a line with a `key` word never enters
// the shell's history.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <expected>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "controlplane/control_server.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnection = 3;

constexpr int kHistoryLines = 1000;
constexpr const char* kPrompt = "gateway> ";

struct Failure {
    int exit_code = kExitConnection;
    std::string message;
};
template <typename T>
using Outcome = std::expected<T, Failure>;

std::unexpected<Failure> failure(int exit_code, std::string message) {
    return std::unexpected(Failure{exit_code, std::move(message)});
}

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

// The exit code for a reply's error code (docs/cli.md).
int exit_code_for(std::string_view code) {
    namespace rc = gw::cp::reply_code;
    if (code == rc::kUsage || code == rc::kUnknownCommand || code == rc::kBadRequest || code == rc::kTooLarge) {
        return kExitUsage;
    }
    if (code == rc::kUnsupportedVersion) {
        return kExitConnection;
    }
    return kExitRejected;
}

struct Options {
    std::string socket{gw::cp::kDefaultControlSocket};
    bool json = false;
    double timeout_s = 10;
    std::string file;
};

// ---------------------------------------------------------------------------
// Connection: one UNIX stream socket, requests answered in order.

struct Reply {
    bool ok = false;
    std::string code;
    std::string message;
    json result;
    json views;
};

class Connection {
public:
    static Outcome<Connection> open(const std::string& path, std::chrono::milliseconds timeout) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
            return failure(kExitConnection, fmt::format("invalid control socket path '{}'", path));
        }
        std::memcpy(addr.sun_path, path.data(), path.size());
        Connection c(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), timeout);
        if (c.fd_ < 0) {
            return failure(kExitConnection, fmt::format("socket: {}", errno_text(errno)));
        }
        // A UNIX connect completes at once or fails (EAGAIN: the backlog is full).
        if (::connect(c.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
            const int err = errno;
            std::string hint;
            if (err == ENOENT || err == ECONNREFUSED) {
                hint = " (is gatewayd running?)";
            } else if (err == EACCES) {
                hint = " (run as root or as a member of the socket's group)";
            } else if (err == EAGAIN) {
                hint = " (the gateway is not accepting connections)";
            }
            return failure(kExitConnection, fmt::format("cannot connect to '{}': {}{}", path, errno_text(err), hint));
        }
        return c;
    }

    Connection(Connection&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)), timeout_(o.timeout_), in_(std::move(o.in_)), next_id_(o.next_id_) {}
    Connection& operator=(Connection&& o) noexcept {
        std::swap(fd_, o.fd_);
        timeout_ = o.timeout_;
        in_ = std::move(o.in_);
        next_id_ = o.next_id_;
        return *this;
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    Outcome<Reply> call(const std::vector<std::string>& argv) {
        const int64_t id = next_id_++;
        const std::string request = json{{"v", gw::cp::kControlProtocolVersion}, {"id", id}, {"argv", argv}}.dump(
                                        -1, ' ', false, json::error_handler_t::replace) +
                                    "\n";
        const auto deadline = timeout_.count() > 0 ? Clock::now() + timeout_ : Clock::time_point::max();

        // If the gateway closes first (busy), its reply may already be waiting: read it anyway.
        std::optional<std::string> send_error;
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (auto w = wait(POLLOUT, deadline); !w) {
                    return std::unexpected(w.error());
                }
            } else {
                send_error = errno_text(errno);
                break;
            }
        }

        std::size_t nl;
        while ((nl = in_.find('\n')) == std::string::npos) {
            char buf[16384];
            const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n > 0) {
                in_.append(buf, static_cast<std::size_t>(n));
            } else if (n == 0) {
                return failure(kExitConnection, send_error ? fmt::format("connection lost: {}", *send_error)
                                                           : "the gateway closed the connection without replying");
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (auto w = wait(POLLIN, deadline); !w) {
                    return std::unexpected(w.error());
                }
            } else {
                return failure(kExitConnection, fmt::format("connection lost: {}", errno_text(errno)));
            }
        }
        const std::string line = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        return parse_reply(line, id);
    }

private:
    Connection(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}

    Outcome<void> wait(short events, Clock::time_point deadline) const {
        for (;;) {
            int ms = -1;
            if (deadline != Clock::time_point::max()) {
                const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
                if (left <= 0) {
                    return failure(kExitConnection, fmt::format("no reply from the gateway within {:g} s",
                                                                std::chrono::duration<double>(timeout_).count()));
                }
                ms = static_cast<int>(std::min<int64_t>(left, 60'000));
            }
            pollfd p{.fd = fd_, .events = events};
            const int r = ::poll(&p, 1, ms);
            if (r > 0) {
                return {};
            }
            if (r < 0 && errno != EINTR) {
                return failure(kExitConnection, fmt::format("poll: {}", errno_text(errno)));
            }
        }
    }

    static Outcome<Reply> parse_reply(const std::string& line, int64_t id) {
        const json j = json::parse(line, nullptr, false);
        auto bad = [](std::string_view why) {
            return failure(kExitConnection, fmt::format("protocol error: {}", why));
        };
        if (j.is_discarded() || !j.is_object()) {
            return bad("the reply is not a JSON object");
        }
        if (!j.contains("v") || j["v"] != gw::cp::kControlProtocolVersion) {
            return bad("the reply has no or another protocol version");
        }
        if (!j.contains("ok") || !j["ok"].is_boolean()) {
            return bad("the reply has no 'ok'");
        }
        Reply r{.ok = j["ok"].get<bool>()};
        // An error sent before the request was read (busy) carries a null id.
        const bool id_matches = j.contains("id") && (j["id"] == id || (!r.ok && j["id"].is_null()));
        if (!id_matches) {
            return bad("the reply answers another request");
        }
        if (r.ok) {
            r.result = j.value("result", json());
            r.views = j.value("views", json::array());
            if (!r.views.is_array()) {
                return bad("'views' is not an array");
            }
            return r;
        }
        const json error = j.value("error", json::object());
        if (!error.is_object() || !error.contains("code") || !error["code"].is_string()) {
            return bad("the error reply has no code");
        }
        r.code = error["code"].get<std::string>();
        if (error.contains("message") && error["message"].is_string()) {
            r.message = error["message"].get<std::string>();
        }
        return r;
    }

    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    std::string in_;
    int64_t next_id_ = 1;
};

// Connects on first use; a lost connection is reopened by the next command
// (the shell outlives a gateway restart). Commands are never retried.
class Session {
public:
    explicit Session(Options options) : options_(std::move(options)) {}

    [[nodiscard]] const Options& options() const noexcept { return options_; }

    Outcome<void> connect() {
        if (!conn_) {
            const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_s * 1000));
            auto c = Connection::open(options_.socket, timeout);
            if (!c) {
                return std::unexpected(c.error());
            }
            conn_.emplace(std::move(*c));
        }
        return {};
    }

    // The reply if the gateway accepted the command, else why not.
    Outcome<Reply> call(const std::vector<std::string>& argv) {
        if (auto c = connect(); !c) {
            return std::unexpected(c.error());
        }
        auto reply = conn_->call(argv);
        if (!reply) {
            conn_.reset();
            return reply;
        }
        if (!reply->ok) {
            return failure(exit_code_for(reply->code), reply->message.empty() ? reply->code : reply->message);
        }
        return reply;
    }

private:
    Options options_;
    std::optional<Connection> conn_;
};

// ---------------------------------------------------------------------------
// Rendering

struct Table {
    std::string title;
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
};

// "12", "-3", "1,234", "0.5", "42.1%", "1.23M", "850ns", "9.8Gbps": right-aligned.
// Addresses ("10.0.0.1", "02:00:00:00:00:01") and names are not.
bool looks_numeric(std::string_view s) {
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
        ++i;
    }
    if (i == s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) {
        return false;
    }
    int dots = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == ',' || s[i] == '.')) {
        dots += s[i] == '.';
        ++i;
    }
    if (dots > 1) {
        return false;
    }
    const std::string_view unit = s.substr(i);
    return unit.size() <= 4 && std::all_of(unit.begin(), unit.end(), [](char ch) {
               return std::isalpha(static_cast<unsigned char>(ch)) || ch == '%' || ch == '/';
           });
}

// Columns in characters, not bytes (UTF-8 continuation bytes take none).
std::size_t display_width(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

std::string render_table(const Table& t) {
    std::string out;
    if (!t.title.empty()) {
        out += t.title + "\n";
    }
    std::size_t ncols = t.columns.size();
    for (const auto& row : t.rows) {
        ncols = std::max(ncols, row.size());
    }
    std::vector<std::size_t> width(ncols, 0);
    std::vector<bool> numeric_column(ncols, true);
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        width[i] = display_width(t.columns[i]);
    }
    for (const auto& row : t.rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            width[i] = std::max(width[i], display_width(row[i]));
            if (!row[i].empty() && row[i] != "-" && !looks_numeric(row[i])) {
                numeric_column[i] = false;
            }
        }
    }
    auto line = [&](const std::vector<std::string>& cells, bool header) {
        std::string l;
        for (std::size_t i = 0; i < ncols; ++i) {
            const std::string cell = i < cells.size() ? cells[i] : "";
            const std::size_t pad = width[i] - display_width(cell);
            const bool right = header ? numeric_column[i] && !t.rows.empty() : looks_numeric(cell);
            if (i > 0) {
                l += "  ";
            }
            if (right) {
                l.append(pad, ' ');
                l += cell;
            } else {
                l += cell;
                if (i + 1 < ncols) {
                    l.append(pad, ' ');
                }
            }
        }
        while (!l.empty() && l.back() == ' ') {
            l.pop_back();
        }
        return l + "\n";
    };
    if (!t.columns.empty()) {
        out += line(t.columns, true);
    }
    for (const auto& row : t.rows) {
        out += line(row, false);
    }
    return out;
}

std::string cell_text(const json& cell) {
    return cell.is_string() ? cell.get<std::string>() : cell.dump();
}

// Views as the server sent them; anything malformed is shown, not trusted.
std::string render_views(const json& views) {
    std::string out;
    for (const auto& v : views) {
        if (!out.empty()) {
            out += "\n";
        }
        if (!v.is_object()) {
            out += cell_text(v) + "\n";
            continue;
        }
        const std::string title = v.contains("title") ? cell_text(v["title"]) : "";
        if (v.contains("text")) {
            if (!title.empty()) {
                out += title + "\n";
            }
            std::string text = cell_text(v["text"]);
            if (!text.empty() && text.back() != '\n') {
                text += "\n";
            }
            out += text;
            continue;
        }
        Table t{.title = title};
        if (v.contains("columns") && v["columns"].is_array()) {
            for (const auto& c : v["columns"]) {
                t.columns.push_back(cell_text(c));
            }
        }
        if (v.contains("rows") && v["rows"].is_array()) {
            for (const auto& r : v["rows"]) {
                std::vector<std::string> row;
                if (r.is_array()) {
                    for (const auto& c : r) {
                        row.push_back(cell_text(c));
                    }
                } else {
                    row.push_back(cell_text(r));
                }
                t.rows.push_back(std::move(row));
            }
        }
        out += render_table(t);
    }
    return out;
}

void print_reply(const Reply& r, bool as_json) {
    std::string out;
    if (as_json) {
        out = r.result.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    } else if (!r.views.empty()) {
        out = render_views(r.views);
    } else if (!r.result.is_null()) {
        out = r.result.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
}

void print_error(std::string_view message) {
    std::fflush(stdout);
    std::fprintf(stderr, "gwctl: %.*s\n", static_cast<int>(message.size()), message.data());
}

// ---------------------------------------------------------------------------
// Command lines typed or scripted: words split on blanks; '...' and "..."
// quote, backslash escapes one character.

Outcome<std::vector<std::string>> split_line(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (quote != 0) {
            if (ch == quote) {
                quote = 0;
            } else if (ch == '\\' && quote == '"' && i + 1 < line.size()) {
                word += line[++i];
            } else {
                word += ch;
            }
        } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            if (in_word) {
                words.push_back(std::move(word));
                word.clear();
                in_word = false;
            }
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
            in_word = true;
        } else if (ch == '\\' && i + 1 < line.size()) {
            word += line[++i];
            in_word = true;
        } else {
            word += ch;
            in_word = true;
        }
    }
    if (quote != 0) {
        return failure(kExitUsage, fmt::format("unterminated {} quote", quote));
    }
    if (in_word) {
        words.push_back(std::move(word));
    }
    return words;
}

// IPsec keys are write-only: a line that may carry one is kept out of history.
bool carries_secret(std::string_view line) {
    auto words = split_line(line);
    if (!words) {
        return line.find("key") != std::string_view::npos;
    }
    return std::any_of(words->begin(), words->end(),
                       [](const std::string& w) { return w == "key" || w.starts_with("key="); });
}

bool is_blank_or_comment(std::string_view line) {
    const auto first = line.find_first_not_of(" \t\r\n");
    return first == std::string_view::npos || line[first] == '#';
}

// ---------------------------------------------------------------------------
// top: rates computed here from two successive `show interface` / `show runtime`.

volatile std::sig_atomic_t g_stop = 0;  // set by SIGINT/SIGTERM during `top`

void on_stop_signal(int) {
    g_stop = 1;
}

// Puts the terminal in non-canonical, no-echo mode (so 'q' is read at once)
// and restores it on every way out. Ctrl-C still raises SIGINT.
class RawTerminal {
public:
    explicit RawTerminal(int fd) : fd_(fd) {
        if (::isatty(fd_) && ::tcgetattr(fd_, &saved_) == 0) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            raw.c_cc[VMIN] = 0;
            raw.c_cc[VTIME] = 0;
            active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
        }
    }
    ~RawTerminal() {
        if (active_) {
            ::tcsetattr(fd_, TCSANOW, &saved_);
        }
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    [[nodiscard]] bool active() const noexcept { return active_; }

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

// Installs the stop handlers for the scope (no SA_RESTART: poll wakes up).
class StopSignals {
public:
    StopSignals() {
        g_stop = 0;
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
    }
    ~StopSignals() {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

uint64_t u64(const json& j, const char* key) {
    if (!j.is_object()) {
        return 0;
    }
    const auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

std::string si(double v, std::string_view unit = "") {
    static constexpr const char* kPrefix[] = {"", "k", "M", "G", "T", "P"};
    std::size_t p = 0;
    while (v >= 999.5 && p + 1 < std::size(kPrefix)) {
        v /= 1000;
        ++p;
    }
    if (p == 0) {
        return fmt::format("{:.0f}{}", v, unit);
    }
    return fmt::format("{:.{}f}{}{}", v, v < 9.995 ? 2 : v < 99.95 ? 1 : 0, kPrefix[p], unit);
}

std::string duration_ns(uint64_t ns) {
    if (ns < 1'000) {
        return fmt::format("{}ns", ns);
    }
    if (ns < 1'000'000) {
        return fmt::format("{:.1f}us", static_cast<double>(ns) / 1e3);
    }
    if (ns < 1'000'000'000) {
        return fmt::format("{:.1f}ms", static_cast<double>(ns) / 1e6);
    }
    return fmt::format("{:.2f}s", static_cast<double>(ns) / 1e9);
}

struct TopSample {
    Clock::time_point at;
    json ports;   // show interface: result.ports
    json lcores;  // show runtime: result.lcores
};

const json* find_by(const json& array, const char* key, const json& value) {
    if (!array.is_array()) {
        return nullptr;
    }
    for (const auto& e : array) {
        if (e.is_object() && e.contains(key) && e[key] == value) {
            return &e;
        }
    }
    return nullptr;
}

std::string render_top(const TopSample& cur, const TopSample* prev, const std::string& socket, double interval_s) {
    const double dt = prev != nullptr ? std::chrono::duration<double>(cur.at - prev->at).count() : 0;
    auto rate = [dt](uint64_t now, uint64_t before) {
        return now >= before && dt > 0 ? static_cast<double>(now - before) / dt : 0.0;
    };

    const std::time_t wall = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&wall, &local);
    char clock[16];
    std::strftime(clock, sizeof(clock), "%H:%M:%S", &local);
    std::string out = fmt::format("gwctl top  {}  {}  every {:g} s{}\n\n", socket, clock, interval_s,
                                  ::isatty(STDIN_FILENO) ? "  (q quits)" : "");

    Table ports{.columns = {"port", "rx pps", "rx bps", "tx pps", "tx bps", "missed/s", "rx packets", "tx packets"}};
    if (cur.ports.is_array()) {
        for (const auto& p : cur.ports) {
            const json name = p.is_object() && p.contains("name") ? p["name"] : json("?");
            const json* before = prev != nullptr ? find_by(prev->ports, "name", name) : nullptr;
            std::vector<std::string> row{cell_text(name)};
            if (before != nullptr) {
                row.push_back(si(rate(u64(p, "ipackets"), u64(*before, "ipackets"))));
                row.push_back(si(8 * rate(u64(p, "ibytes"), u64(*before, "ibytes"))));
                row.push_back(si(rate(u64(p, "opackets"), u64(*before, "opackets"))));
                row.push_back(si(8 * rate(u64(p, "obytes"), u64(*before, "obytes"))));
                row.push_back(si(rate(u64(p, "imissed"), u64(*before, "imissed"))));
            } else {
                row.insert(row.end(), 5, "-");
            }
            row.push_back(std::to_string(u64(p, "ipackets")));
            row.push_back(std::to_string(u64(p, "opackets")));
            ports.rows.push_back(std::move(row));
        }
    }
    out += render_table(ports);

    Table lcores{.columns = {"lcore", "role", "load", "rx pps", "p50", "p99"}};
    if (cur.lcores.is_array()) {
        for (const auto& l : cur.lcores) {
            const json id = l.is_object() && l.contains("lcore") ? l["lcore"] : json("?");
            const json* before = prev != nullptr ? find_by(prev->lcores, "lcore", id) : nullptr;
            uint64_t busy = u64(l, "busy_cycles");
            uint64_t total = u64(l, "total_cycles");
            if (before != nullptr && total > u64(*before, "total_cycles")) {
                busy -= std::min(busy, u64(*before, "busy_cycles"));
                total -= u64(*before, "total_cycles");
            }
            const std::string load =
                total > 0 ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(busy) / static_cast<double>(total))
                          : "-";
            const json window =
                l.is_object() ? l.value("latency", json::object()).value("window", json::object()) : json::object();
            const uint64_t p50 = u64(window, "p50_ns");
            const uint64_t p99 = u64(window, "p99_ns");
            lcores.rows.push_back({cell_text(id), l.is_object() ? cell_text(l.value("role", json(""))) : "", load,
                                   before != nullptr ? si(rate(u64(l, "rx_packets"), u64(*before, "rx_packets"))) : "-",
                                   u64(window, "count") > 0 || p50 > 0 ? duration_ns(p50) : "-",
                                   u64(window, "count") > 0 || p99 > 0 ? duration_ns(p99) : "-"});
        }
    }
    out += "\n" + render_table(lcores);
    return out;
}

int run_top(Session& session, std::span<const std::string> args) {
    CLI::App app{"live per-port rates and per-lcore load, refreshed every interval", "gwctl top"};
    double interval_s = 1.0;
    unsigned count = 0;
    app.add_option("--interval", interval_s, "seconds between frames")->check(CLI::PositiveNumber);
    app.add_option("--count", count, "stop after this many frames (0: until q or Ctrl-C)");
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes a vector back to front
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        print_error(fmt::format("top: {}", e.what()));
        return kExitUsage;
    }

    StopSignals signals;
    RawTerminal terminal(STDIN_FILENO);
    const bool clear = ::isatty(STDOUT_FILENO) != 0;
    std::optional<TopSample> prev;
    for (unsigned frame = 1;; ++frame) {
        auto ifs = session.call({"show", "interface"});
        if (!ifs) {
            print_error(ifs.error().message);
            return ifs.error().exit_code;
        }
        auto rt = session.call({"show", "runtime"});
        if (!rt) {
            print_error(rt.error().message);
            return rt.error().exit_code;
        }
        TopSample cur{.at = Clock::now(),
                      .ports = ifs->result.is_object() ? ifs->result.value("ports", json::array()) : json::array(),
                      .lcores = rt->result.is_object() ? rt->result.value("lcores", json::array()) : json::array()};
        std::string out = render_top(cur, prev ? &*prev : nullptr, session.options().socket, interval_s);
        out = clear ? "\x1b[H\x1b[2J" + out : (frame > 1 ? "\n" : "") + out;
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        prev = std::move(cur);
        if (count != 0 && frame >= count) {
            return kExitOk;
        }

        const auto until = Clock::now() + std::chrono::duration<double>(interval_s);
        for (;;) {
            if (g_stop != 0) {
                return kExitOk;
            }
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
            if (left <= 0) {
                break;
            }
            pollfd p{.fd = STDIN_FILENO, .events = POLLIN};
            const int r = ::poll(&p, terminal.active() ? 1 : 0, static_cast<int>(left));
            if (r > 0 && terminal.active()) {
                char key = 0;
                if (::read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q')) {
                    return kExitOk;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// One command, a script, the shell

// Runs one command (or `top`) and prints what it shows.
Outcome<void> execute(Session& session, const std::vector<std::string>& words) {
    if (!words.empty() && words.front() == "top") {
        const int rc = run_top(session, std::span(words).subspan(1));
        if (rc != kExitOk) {
            return failure(rc, "");  // run_top said why
        }
        return {};
    }
    auto reply = session.call(words);
    if (!reply) {
        return std::unexpected(reply.error());
    }
    print_reply(*reply, session.options().json);
    return {};
}

// Commands one a line; blank lines and '#' comments are skipped; stops at the
// first failure with its exit code.
int run_script(Session& session, std::istream& in, std::string_view source) {
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
        if (is_blank_or_comment(line)) {
            continue;
        }
        auto words = split_line(line);
        if (!words) {
            print_error(fmt::format("{}:{}: {}", source, lineno, words.error().message));
            return words.error().exit_code;
        }
        if (words->front() == "quit" || words->front() == "exit") {
            return kExitOk;
        }
        if (auto done = execute(session, *words); !done) {
            if (!done.error().message.empty()) {
                print_error(fmt::format("{}:{}: {}", source, lineno, done.error().message));
            }
            return done.error().exit_code;
        }
    }
    return kExitOk;
}

// Completion state for libedit's C callbacks, set only while the shell runs.
std::vector<std::vector<std::string>>* g_completion_commands = nullptr;
std::vector<std::string> g_completion_matches;
std::size_t g_completion_next = 0;

char* completion_generator(const char*, int state) {
    if (state == 0) {
        g_completion_next = 0;
    }
    if (g_completion_next < g_completion_matches.size()) {
        return ::strdup(g_completion_matches[g_completion_next++].c_str());
    }
    return nullptr;
}

char* no_file_completion(const char*, int) {
    return nullptr;
}

// The next command word, given the words before the cursor.
char** complete_command(const char* text, int start, int) {
    rl_attempted_completion_over = 1;
    g_completion_matches.clear();
    const auto before = split_line(std::string_view(rl_line_buffer, static_cast<std::size_t>(start)));
    if (!before || g_completion_commands == nullptr) {
        return nullptr;
    }
    const std::string_view prefix(text);
    for (const auto& words : *g_completion_commands) {
        if (words.size() > before->size() && std::equal(before->begin(), before->end(), words.begin()) &&
            words[before->size()].starts_with(prefix)) {
            g_completion_matches.push_back(words[before->size()]);
        }
    }
    std::sort(g_completion_matches.begin(), g_completion_matches.end());
    g_completion_matches.erase(std::unique(g_completion_matches.begin(), g_completion_matches.end()),
                               g_completion_matches.end());
    if (g_completion_matches.empty()) {
        return nullptr;
    }
    return rl_completion_matches(text, completion_generator);
}

std::string history_path() {
    const char* home = std::getenv("HOME");
    return home != nullptr && *home != '\0' ? std::string(home) + "/.gwctl_history" : std::string();
}

// The history file may hold addresses and SA names: readable by its owner only.
void save_history(const std::string& path) {
    if (path.empty()) {
        return;
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ::close(fd);
    }
    write_history(path.c_str());
}

int run_shell(Session& session) {
    if (auto c = session.connect(); !c) {
        print_error(c.error().message);
        return c.error().exit_code;
    }
    // Command words for completion, from the gateway itself; plus the local ones.
    std::vector<std::vector<std::string>> commands{{"quit"}, {"exit"}, {"top"}};
    if (auto list = session.call({"commands"}); list && list->result.is_array()) {
        for (const auto& c : list->result) {
            if (c.is_object() && c.contains("words") && c["words"].is_string()) {
                if (auto words = split_line(c["words"].get<std::string>()); words && !words->empty()) {
                    commands.push_back(std::move(*words));
                }
            }
        }
    }
    g_completion_commands = &commands;
    rl_attempted_completion_function = complete_command;
    rl_completion_entry_function = no_file_completion;

    const std::string history = history_path();
    using_history();
    stifle_history(kHistoryLines);
    if (!history.empty()) {
        read_history(history.c_str());
    }

    for (;;) {
        char* raw = readline(kPrompt);
        if (raw == nullptr) {
            std::fputc('\n', stdout);
            break;
        }
        const std::string line(raw);
        std::free(raw);
        if (is_blank_or_comment(line)) {
            continue;
        }
        if (!carries_secret(line)) {
            add_history(line.c_str());
            save_history(history);
        }
        auto words = split_line(line);
        if (!words) {
            print_error(words.error().message);
            continue;
        }
        if (words->front() == "quit" || words->front() == "exit") {
            break;
        }
        if (auto done = execute(session, *words); !done && !done.error().message.empty()) {
            print_error(done.error().message);
        }
    }
    g_completion_commands = nullptr;
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"operator CLI of gatewayd's control socket (docs/cli.md)", "gwctl"};
    Options opt;
    app.add_option("-s,--socket", opt.socket, "control socket")->envname("GWCTL_SOCKET")->capture_default_str();
    app.add_flag("--json", opt.json, "print the result as JSON instead of tables");
    app.add_option("--timeout", opt.timeout_s, "seconds to wait for each reply (0: no limit)")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    app.add_option("-f,--file", opt.file, "run the commands in FILE, one a line; stop at the first failure");
    app.prefix_command();  // the first word that is not an option starts the command
    app.footer(
        "Commands: 'gwctl help' lists what the gateway answers; 'gwctl top' shows live rates.\n"
        "With no command: an interactive shell on a terminal, else commands read from stdin.\n"
        "Exit codes: 0 ok, 1 rejected by the gateway, 2 usage, 3 connection or protocol error.");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        print_error(e.what());
        return kExitUsage;
    }
    std::vector<std::string> words = app.remaining();
    if (!words.empty() && words.front() == "--") {
        words.erase(words.begin());
    } else if (!words.empty() && words.front().starts_with("-")) {
        // prefix_command() hands unknown options over as words; no command starts with '-'.
        print_error(fmt::format("unknown option '{}' (options come before the command words)", words.front()));
        return kExitUsage;
    }

    Session session(opt);
    if (!opt.file.empty()) {
        if (!words.empty()) {
            print_error("-f FILE and command words are exclusive");
            return kExitUsage;
        }
        std::ifstream in(opt.file);
        if (!in) {
            print_error(fmt::format("cannot read '{}': {}", opt.file, errno_text(errno)));
            return kExitUsage;
        }
        return run_script(session, in, opt.file);
    }
    if (!words.empty()) {
        if (auto done = execute(session, words); !done) {
            if (!done.error().message.empty()) {
                print_error(done.error().message);
            }
            return done.error().exit_code;
        }
        return kExitOk;
    }
    if (::isatty(STDIN_FILENO)) {
        return run_shell(session);
    }
    return run_script(session, std::cin, "stdin");
}
