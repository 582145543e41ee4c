#include "controlplane/control_server.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/log.h"

namespace gw::cp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr unsigned kMaxAcceptsPerPoll = 64;  // a connect storm cannot starve the clients already served
constexpr int kListenBacklog = 64;
constexpr std::size_t kMaxSuggestions = 5;

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') {
            ++i;
        }
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ') {
            ++i;
        }
        if (i > start) {
            words.emplace_back(s.substr(start, i - start));
        }
    }
    return words;
}

std::string join(std::span<const std::string> words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) {
            out += ' ';
        }
        out += w;
    }
    return out;
}

// Replies are one line each, and so are their messages.
std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    return s;
}

// Edit distance where swapping two adjacent letters ("shwo") is one edit
// (optimal string alignment).
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> before(b.size() + 1);
    std::vector<std::size_t> prev(b.size() + 1);
    std::vector<std::size_t> cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        prev[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                cur[j] = std::min(cur[j], before[j - 2] + 1);
            }
        }
        std::swap(before, prev);
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// How far a typed word is from a command word, if it could be meant as that
// word: an abbreviation ("int" for "interface") counts as 0, a typo of one
// letter (two in long words) as its edit distance.
std::optional<std::size_t> word_distance(std::string_view typed, std::string_view word) {
    if (!typed.empty() && word.starts_with(typed)) {
        return 0;
    }
    const std::size_t limit = word.size() >= 6 ? 2 : 1;
    const std::size_t d = edit_distance(typed, word);
    if (d <= limit) {
        return d;
    }
    return std::nullopt;
}

std::string dump(const json& j) {
    // Handlers may put arbitrary bytes in strings: never throw on invalid UTF-8.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json view_to_json(const View& v) {
    json j = json::object();
    if (!v.title.empty()) {
        j["title"] = v.title;
    }
    if (!v.text.empty()) {
        j["text"] = v.text;
        return j;
    }
    j["columns"] = v.columns;
    j["rows"] = v.rows;
    return j;
}

json reply_to_json(const json& id, const CommandReply& r) {
    json j = {{"v", kControlProtocolVersion}, {"id", id}, {"ok", r.ok}};
    if (r.ok) {
        j["result"] = r.result;
        json views = json::array();
        for (const auto& v : r.views) {
            views.push_back(view_to_json(v));
        }
        j["views"] = std::move(views);
    } else {
        j["error"] = {{"code", r.error_code}, {"message", r.message}};
    }
    return j;
}

std::string error_line(const json& id, std::string_view code, std::string message) {
    return dump(reply_to_json(id, CommandReply::fail(std::string(code), std::move(message))));
}

// One answered request: the reply line and what the server logs about it.
struct Answer {
    json id;
    std::string line;  // without '\n'
    bool ok = true;
    std::string code;
    std::string message;
};

Answer answer(const CommandRegistry& registry, std::string_view text) {
    Answer a{.id = nullptr};
    auto reject = [&a](std::string_view code, std::string message) {
        a.ok = false;
        a.code = code;
        a.message = std::move(message);
        a.line = error_line(a.id, a.code, a.message);
        return std::move(a);
    };

    const json request = json::parse(text.begin(), text.end(), nullptr, false);
    if (request.is_discarded()) {
        return reject(reply_code::kBadRequest, "request is not valid JSON");
    }
    if (!request.is_object()) {
        return reject(reply_code::kBadRequest, "request must be a JSON object");
    }
    if (const auto id = request.find("id"); id != request.end()) {
        if (id->is_structured()) {
            return reject(reply_code::kBadRequest, "'id' must be a number, string, boolean or null");
        }
        a.id = *id;
    }
    const auto version = request.find("v");
    if (version == request.end()) {
        return reject(reply_code::kBadRequest, "missing 'v' (protocol version)");
    }
    if (!version->is_number_integer()) {
        return reject(reply_code::kBadRequest, "'v' must be an integer");
    }
    if (*version != kControlProtocolVersion) {
        return reject(reply_code::kUnsupportedVersion,
                      fmt::format("protocol version {} is not supported; this gateway speaks version {}",
                                  version->dump(), kControlProtocolVersion));
    }
    const auto words = request.find("argv");
    if (words == request.end()) {
        return reject(reply_code::kBadRequest, "missing 'argv' (the command words)");
    }
    if (!words->is_array()) {
        return reject(reply_code::kBadRequest, "'argv' must be an array of strings");
    }
    std::vector<std::string> argv;
    argv.reserve(words->size());
    for (const auto& w : *words) {
        if (!w.is_string()) {
            return reject(reply_code::kBadRequest, "'argv' must be an array of strings");
        }
        argv.push_back(w.get<std::string>());
    }

    const CommandReply reply = registry.dispatch(argv);
    a.ok = reply.ok;
    a.code = reply.error_code;
    a.message = reply.message;
    a.line = dump(reply_to_json(a.id, reply));
    return a;
}

// Closes the descriptor on every early return of listen().
class FdGuard {
public:
    explicit FdGuard(int fd) noexcept : fd_(fd) {}
    ~FdGuard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_;
};

Result<gid_t> lookup_group(const std::string& name) {
    long size = sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
    for (;;) {
        group gr{};
        group* found = nullptr;
        const int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0) {
            return make_errno_error(rc, "cannot look up group '{}' for the control socket: {}", name, errno_text(rc));
        }
        if (found == nullptr) {
            return make_error("control socket group '{}' does not exist", name);
        }
        return found->gr_gid;
    }
}

// An existing socket file: a live gateway's (refuse) or a stale one left by a
// crash (remove).
Status remove_stale_socket(const std::string& path, const sockaddr_un& addr) {
    FdGuard probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (probe.get() < 0) {
        return make_errno_error(errno, "cannot probe control socket '{}': socket: {}", path, errno_text(errno));
    }
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 || errno == EAGAIN) {
        return make_error("control socket '{}' is in use by another process (gatewayd already running?)", path);
    }
    if (errno != ECONNREFUSED) {
        return make_errno_error(errno, "cannot probe existing control socket '{}': {}", path, errno_text(errno));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return make_errno_error(errno, "cannot remove stale control socket '{}': {}", path, errno_text(errno));
    }
    log::info("control: removed stale socket '{}' (nobody listening)", path);
    return {};
}

}  // namespace

CommandReply CommandReply::fail(std::string code, std::string message) {
    return CommandReply{.ok = false, .error_code = std::move(code), .message = std::move(message)};
}

// ---------------------------------------------------------------------------
// CommandRegistry

CommandRegistry::CommandRegistry(std::string gateway_version) : gateway_version_(std::move(gateway_version)) {
    insert(Command{.words = {"help"},
                   .usage = "help [COMMAND WORDS...]",
                   .help = "list the commands, or show one command's usage",
                   .builtin = Builtin::help});
    insert(Command{.words = {"commands"},
                   .usage = "commands",
                   .help = "list the commands for programs (gwctl's completion)",
                   .builtin = Builtin::commands});
    insert(Command{.words = {"version"},
                   .usage = "version",
                   .help = "show the gateway and control protocol versions",
                   .builtin = Builtin::version});
}

void CommandRegistry::add(std::string words, std::string usage, std::string help, CommandHandler handler) {
    if (!handler) {
        throw std::invalid_argument(fmt::format("command '{}' registered without a handler", words));
    }
    insert(Command{.words = split_words(words),
                   .usage = std::move(usage),
                   .help = std::move(help),
                   .handler = std::move(handler)});
}

void CommandRegistry::insert(Command command) {
    if (command.words.empty()) {
        throw std::invalid_argument("command registered with no words");
    }
    command.name = join(command.words);
    for (const auto& c : commands_) {
        if (c.words == command.words) {
            throw std::invalid_argument(fmt::format("command '{}' registered twice", command.name));
        }
    }
    if (command.usage.empty()) {
        command.usage = command.name;
    }
    max_words_ = std::max(max_words_, command.words.size());
    commands_.push_back(std::move(command));
}

const CommandRegistry::Command* CommandRegistry::match(std::span<const std::string> argv) const noexcept {
    const Command* best = nullptr;
    for (const auto& c : commands_) {
        if (c.words.size() <= argv.size() && std::equal(c.words.begin(), c.words.end(), argv.begin()) &&
            (best == nullptr || c.words.size() > best->words.size())) {
            best = &c;
        }
    }
    return best;
}

// Commands the operator may have meant by `typed`: every typed word an
// abbreviation or a near miss of the command's word; failing that, the
// commands that share the longest run of leading words with it ("show foo"
// -> every "show ..." command).
std::vector<const CommandRegistry::Command*> CommandRegistry::closest(std::span<const std::string> typed) const {
    std::vector<std::pair<std::size_t, const Command*>> near;
    for (const auto& c : commands_) {
        const std::size_t n = std::min(typed.size(), c.words.size());
        std::size_t total = 0;
        bool close = n > 0;
        for (std::size_t i = 0; i < n && close; ++i) {
            const auto d = word_distance(typed[i], c.words[i]);
            close = d.has_value();
            total += d.value_or(0);
        }
        if (close) {
            near.emplace_back(total, &c);
        }
    }
    if (near.empty()) {
        std::size_t longest = 0;
        for (const auto& c : commands_) {
            const std::size_t n = std::min(typed.size(), c.words.size());
            const auto shared = static_cast<std::size_t>(
                std::mismatch(c.words.begin(), c.words.begin() + n, typed.begin()).first - c.words.begin());
            if (shared > longest) {
                longest = shared;
                near.clear();
            }
            if (shared == longest && shared > 0) {
                near.emplace_back(0, &c);
            }
        }
    }
    std::sort(near.begin(), near.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first, a.second->name) < std::tie(b.first, b.second->name);
    });
    std::vector<const Command*> out;
    for (const auto& [d, c] : near) {
        out.push_back(c);
    }
    return out;
}

std::vector<const CommandRegistry::Command*> CommandRegistry::sorted() const {
    std::vector<const Command*> out;
    for (const auto& c : commands_) {
        out.push_back(&c);
    }
    std::sort(out.begin(), out.end(), [](const Command* a, const Command* b) { return a->words < b->words; });
    return out;
}

CommandReply CommandRegistry::dispatch(std::span<const std::string> argv) const {
    if (argv.empty()) {
        return CommandReply::fail(std::string(reply_code::kUsage), "no command given; 'help' lists the commands");
    }
    const Command* command = match(argv);
    if (command == nullptr) {
        // Echo only as many words as a command can have: what follows may be a key.
        const auto typed = argv.first(std::min(argv.size(), max_words_));
        std::string message = fmt::format("unknown command '{}'", one_line(join(typed)));
        const auto near = closest(typed);
        if (near.empty()) {
            message += "; 'help' lists the commands";
        } else {
            message += "; closest: ";
            for (std::size_t i = 0; i < near.size() && i < kMaxSuggestions; ++i) {
                message += fmt::format("{}'{}'", i == 0 ? "" : ", ", near[i]->name);
            }
            if (near.size() > kMaxSuggestions) {
                message += ", ...";
            }
        }
        return CommandReply::fail(std::string(reply_code::kUnknownCommand), std::move(message));
    }

    CommandReply reply;
    try {
        reply = run(*command, argv.subspan(command->words.size()));
    } catch (const std::exception& e) {
        log::warn("control: command '{}' failed: {}", command->name, e.what());
        return CommandReply::fail(std::string(reply_code::kInternal),
                                  one_line(fmt::format("command '{}' failed: {}", command->name, e.what())));
    } catch (...) {
        log::warn("control: command '{}' failed with a non-standard exception", command->name);
        return CommandReply::fail(std::string(reply_code::kInternal),
                                  fmt::format("command '{}' failed: unknown exception", command->name));
    }
    if (!reply.ok) {
        if (reply.error_code.empty()) {
            reply.error_code = reply_code::kInternal;
        }
        if (reply.error_code == reply_code::kUsage && reply.message.find(command->usage) == std::string::npos) {
            reply.message = reply.message.empty() ? fmt::format("usage: {}", command->usage)
                                                  : fmt::format("{}; usage: {}", reply.message, command->usage);
        }
        reply.message = one_line(std::move(reply.message));
        reply.result = nullptr;
        reply.views.clear();
    }
    return reply;
}

CommandReply CommandRegistry::run(const Command& command, CommandArgs args) const {
    switch (command.builtin) {
        case Builtin::help:
            return help(args);
        case Builtin::commands:
            if (!args.empty()) {
                return CommandReply::fail(std::string(reply_code::kUsage), "takes no arguments");
            }
            return list();
        case Builtin::version:
            if (!args.empty()) {
                return CommandReply::fail(std::string(reply_code::kUsage), "takes no arguments");
            }
            return CommandReply{.result = {{"protocol", kControlProtocolVersion}, {"gateway", gateway_version_}},
                                .views = {View{.text = fmt::format("gateway {}, control protocol {}", gateway_version_,
                                                                   kControlProtocolVersion)}}};
        case Builtin::none:
            break;
    }
    return command.handler(args);
}

CommandReply CommandRegistry::help(CommandArgs args) const {
    std::vector<const Command*> selected;
    for (const Command* c : sorted()) {
        if (c->words.size() >= args.size() && std::equal(args.begin(), args.end(), c->words.begin())) {
            selected.push_back(c);
        }
    }
    if (selected.empty()) {
        std::string message = fmt::format("no command '{}'", one_line(join(args)));
        const auto near = closest(args);
        if (!near.empty()) {
            message += "; closest: ";
            for (std::size_t i = 0; i < near.size() && i < kMaxSuggestions; ++i) {
                message += fmt::format("{}'{}'", i == 0 ? "" : ", ", near[i]->name);
            }
        }
        return CommandReply::fail(std::string(reply_code::kNotFound), std::move(message));
    }
    auto entry = [](const Command* c) { return json{{"words", c->name}, {"usage", c->usage}, {"help", c->help}}; };
    if (selected.size() == 1 && selected.front()->words.size() == args.size()) {
        const Command* c = selected.front();
        return CommandReply{.result = entry(c),
                            .views = {View{.text = fmt::format("usage: {}\n{}", c->usage, c->help)}}};
    }
    CommandReply reply{.result = {{"commands", json::array()}}};
    View table{.columns = {"command", "description"}};
    for (const Command* c : selected) {
        reply.result["commands"].push_back(entry(c));
        table.rows.push_back({c->usage, c->help});
    }
    reply.views.push_back(std::move(table));
    return reply;
}

CommandReply CommandRegistry::list() const {
    CommandReply reply{.result = json::array()};
    View table{.columns = {"words", "usage", "help"}};
    for (const Command* c : sorted()) {
        reply.result.push_back({{"words", c->name}, {"usage", c->usage}, {"help", c->help}});
        table.rows.push_back({c->name, c->usage, c->help});
    }
    reply.views.push_back(std::move(table));
    return reply;
}

std::string answer_request(const CommandRegistry& registry, std::string_view line) {
    return answer(registry, line).line;
}

// ---------------------------------------------------------------------------
// ControlServer

struct ControlServer::Client {
    int fd = -1;
    uint64_t id = 0;
    std::string in;           // received bytes not yet answered
    std::size_t scanned = 0;  // in[0, scanned) holds no '\n'
    std::string out;          // reply bytes; out[0, sent) are sent
    std::size_t sent = 0;
    Clock::time_point last_progress;
    bool read_closed = false;  // the peer shut down its side: answer what came, then close
    bool closing = false;      // close once `out` is sent (after "too-large")
    bool dead = false;         // remove at the end of this poll

    [[nodiscard]] std::size_t pending() const noexcept { return out.size() - sent; }
};

ControlServer::ControlServer(ControlServerOptions options, const CommandRegistry& registry, int listen_fd, ino_t inode)
    : options_(std::move(options)), registry_(registry), listen_fd_(listen_fd), inode_(inode) {}

Result<std::unique_ptr<ControlServer>> ControlServer::listen(ControlServerOptions options,
                                                             const CommandRegistry& registry) {
    const std::string path = options.path.string();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty()) {
        return make_error("control socket path is empty");
    }
    if (path.size() >= sizeof(addr.sun_path)) {
        return make_error("control socket path '{}' is too long ({} bytes, at most {})", path, path.size(),
                          sizeof(addr.sun_path) - 1);
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (options.max_request == 0 || options.max_clients == 0 || options.max_output == 0) {
        return make_error("control socket '{}': max_request, max_clients and max_output must be positive", path);
    }

    std::optional<gid_t> gid;
    if (!options.group.empty()) {
        auto g = lookup_group(options.group);
        if (!g) {
            return std::unexpected(g.error());
        }
        gid = *g;
    }

    if (const auto dir = options.path.parent_path(); !dir.empty()) {
        std::error_code ec;
        if (!std::filesystem::exists(dir, ec)) {
            std::filesystem::create_directories(dir, ec);
            if (!ec) {
                std::filesystem::permissions(dir, std::filesystem::perms(0755), ec);
            }
            if (ec) {
                return make_errno_error(ec.value(), "cannot create directory '{}' for the control socket: {}",
                                        dir.string(), ec.message());
            }
        }
    }

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return make_error("refusing to replace '{}' with the control socket: it exists and is not a socket", path);
        }
        if (auto removed = remove_stale_socket(path, addr); !removed) {
            return std::unexpected(removed.error());
        }
    } else if (errno != ENOENT) {
        return make_errno_error(errno, "cannot check control socket path '{}': {}", path, errno_text(errno));
    }

    FdGuard fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        return make_errno_error(errno, "cannot create control socket: {}", errno_text(errno));
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        return make_errno_error(errno, "cannot bind control socket '{}': {}", path, errno_text(errno));
    }
    // Mode and group are set before listen(): until then nobody can connect.
    auto fail_bound = [&path](std::string what, int err) -> std::unexpected<Error> {
        ::unlink(path.c_str());
        return make_errno_error(err, "{}: {}", what, errno_text(err));
    };
    if (::chmod(path.c_str(), options.mode) != 0) {
        return fail_bound(fmt::format("cannot set mode {:04o} on control socket '{}'", options.mode, path), errno);
    }
    if (gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
        return fail_bound(fmt::format("cannot set group '{}' on control socket '{}'", options.group, path), errno);
    }
    if (::stat(path.c_str(), &st) != 0) {
        return fail_bound(fmt::format("cannot stat control socket '{}'", path), errno);
    }
    if (::listen(fd.get(), kListenBacklog) != 0) {
        return fail_bound(fmt::format("cannot listen on control socket '{}'", path), errno);
    }
    log::info("control: listening on '{}'", path);
    return std::unique_ptr<ControlServer>(new ControlServer(std::move(options), registry, fd.release(), st.st_ino));
}

ControlServer::~ControlServer() {
    for (auto& c : clients_) {
        ::close(c->fd);
    }
    ::close(listen_fd_);
    struct stat st {};
    if (::lstat(options_.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode_) {
        ::unlink(options_.path.c_str());
    }
}

std::size_t ControlServer::clients() const noexcept {
    return clients_.size();
}

void ControlServer::close_client(Client& c, std::string_view why) noexcept {
    if (!c.dead) {
        log::debug("control: client {} disconnected ({})", c.id, why);
        c.dead = true;
    }
}

void ControlServer::accept_clients() noexcept {
    for (unsigned i = 0; i < kMaxAcceptsPerPoll; ++i) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log::warn("control: accept on '{}' failed: {}", options_.path.string(), errno_text(errno));
            }
            return;
        }
        const uint64_t id = next_client_id_++;
        if (clients_.size() >= options_.max_clients) {
            const std::string busy =
                error_line(nullptr, reply_code::kUnavailable,
                           fmt::format("busy: {} clients connected, the most this gateway serves; try again later",
                                       clients_.size())) +
                "\n";
            // A fresh socket's buffer takes a short line whole; if not, the client sees the close.
            [[maybe_unused]] const ssize_t n = ::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(fd);
            log::info("control: refused client {}: busy ({} clients)", id, clients_.size());
            continue;
        }
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            log::debug("control: client {} connected (pid {}, uid {})", id, cred.pid, cred.uid);
        } else {
            log::debug("control: client {} connected", id);
        }
        auto c = std::make_unique<Client>();
        c->fd = fd;
        c->id = id;
        c->last_progress = Clock::now();
        clients_.push_back(std::move(c));
    }
}

void ControlServer::read_from(Client& c) noexcept {
    char buf[kReadChunk];
    // Bounded: at most one over-long line plus a chunk is ever buffered.
    while (!c.dead && !c.read_closed && c.in.size() <= options_.max_request) {
        const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
        if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            c.last_progress = Clock::now();
        } else if (n == 0) {
            c.read_closed = true;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            close_client(c, errno_text(errno));
        }
    }
}

unsigned ControlServer::serve_lines(Client& c) noexcept {
    unsigned served = 0;
    std::size_t consumed = 0;
    auto queue = [&](std::string line) {
        line += '\n';
        if (c.sent == c.out.size()) {
            c.out.clear();
            c.sent = 0;
        }
        c.out += line;
    };
    while (!c.dead && !c.closing && c.pending() < options_.max_output) {
        std::size_t nl = c.in.find('\n', std::max(consumed, c.scanned));
        std::size_t line_end = nl;
        if (nl == std::string::npos) {
            c.scanned = c.in.size();
            if (c.in.size() - consumed > options_.max_request) {
                line_end = c.in.size();  // too long whatever follows
            } else if (c.read_closed && consumed < c.in.size()) {
                line_end = nl = c.in.size();  // the last request may lack its '\n'
            } else {
                break;
            }
        }
        std::string_view line(c.in.data() + consumed, line_end - consumed);
        if (line.size() > options_.max_request) {
            queue(
                error_line(nullptr, reply_code::kTooLarge,
                           fmt::format("request line is over {} bytes; closing the connection", options_.max_request)));
            log::info("control: client {}: rejected request: too-large (over {} bytes); closing", c.id,
                      options_.max_request);
            c.closing = true;
            ++served;
            consumed = c.in.size();
            break;
        }
        consumed = std::min(nl + 1, c.in.size());
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
            continue;  // blank lines (a human at socat) get no reply
        }
        Answer a = answer(registry_, line);
        if (!a.ok && a.code != reply_code::kInternal) {  // internal failures: logged by dispatch
            log::info("control: client {}: rejected request: {}: {}", c.id, a.code, a.message);
        }
        if (a.line.size() + 1 > options_.max_output) {
            log::warn("control: client {}: reply of {} bytes over the output limit of {} bytes", c.id,
                      a.line.size() + 1, options_.max_output);
            a.line = error_line(a.id, reply_code::kInternal,
                                fmt::format("reply of {} bytes is over the control socket's output limit of {} bytes",
                                            a.line.size() + 1, options_.max_output));
        }
        queue(std::move(a.line));
        ++served;
    }
    c.in.erase(0, consumed);
    c.scanned = c.scanned > consumed ? c.scanned - consumed : 0;
    return served;
}

void ControlServer::write_to(Client& c) noexcept {
    while (!c.dead && c.pending() > 0) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.sent += static_cast<std::size_t>(n);
            c.last_progress = Clock::now();
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            close_client(c, fmt::format("vanished with {} reply bytes unsent", c.pending()));
            return;
        }
    }
    if (c.pending() == 0) {
        c.out.clear();
        c.sent = 0;
    } else if (c.sent > c.out.size() / 2) {
        c.out.erase(0, c.sent);
        c.sent = 0;
    }
}

unsigned ControlServer::poll(int timeout_ms) noexcept {
    try {
        timeout_ms = std::max(timeout_ms, 0);
        auto now = Clock::now();
        std::vector<pollfd> fds;
        fds.reserve(clients_.size() + 1);
        fds.push_back(pollfd{.fd = listen_fd_, .events = POLLIN});
        for (const auto& c : clients_) {
            short events = 0;
            if (!c->read_closed && !c->closing && c->pending() < options_.max_output) {
                events |= POLLIN;
            }
            if (c->pending() > 0) {
                events |= POLLOUT;
            }
            fds.push_back(pollfd{.fd = c->fd, .events = events});
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(c->last_progress + options_.idle_timeout - now);
            timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, timeout_ms));
        }
        int ready = ::poll(fds.data(), fds.size(), timeout_ms);
        if (ready < 0) {
            if (errno != EINTR) {
                log::warn("control: poll failed: {}", errno_text(errno));
            }
            ready = 0;
        }

        unsigned served = 0;
        // fds[i + 1] is clients_[i]; clients accepted now are read at once: a
        // one-shot gwctl has usually sent its request by then.
        const std::size_t polled = clients_.size();
        if (fds[0].revents & POLLIN) {
            accept_clients();
        }
        now = Clock::now();
        for (std::size_t i = 0; i < clients_.size(); ++i) {
            Client& c = *clients_[i];
            const short events = i < polled ? fds[i + 1].events : POLLIN;
            const short revents = i < polled ? fds[i + 1].revents : POLLIN;
            if ((revents & (POLLIN | POLLHUP | POLLERR)) && (events & POLLIN)) {
                read_from(c);
            }
            if (revents & (POLLOUT | POLLHUP | POLLERR)) {
                write_to(c);
            }
            for (;;) {
                const unsigned n = serve_lines(c);
                served += n;
                write_to(c);
                if (n == 0 || c.dead || c.pending() >= options_.max_output) {
                    break;
                }
            }
            if (c.dead) {
                continue;
            }
            if (c.pending() == 0 && (c.closing || (c.read_closed && c.in.empty()))) {
                close_client(c, c.closing ? "closed after an error" : "closed by the client");
            } else if ((revents & (POLLHUP | POLLERR)) && c.pending() == 0 && !(events & POLLIN)) {
                close_client(c, "hung up");
            } else if (now - c.last_progress >= options_.idle_timeout) {
                log::info("control: client {}: idle for {} ms, closing", c.id, options_.idle_timeout.count());
                close_client(c, "idle");
            }
        }
        std::erase_if(clients_, [](const std::unique_ptr<Client>& c) {
            if (c->dead) {
                ::close(c->fd);
            }
            return c->dead;
        });
        return served;
    } catch (const std::exception& e) {
        // Only allocation can fail here; the clients keep their state and the next poll retries.
        log::error("control: poll failed: {}", e.what());
        return 0;
    }
}

}  // namespace gw::cp
