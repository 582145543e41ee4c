// Control socket: the protocol (round trip, pipelining, every error code), the
// framing limits (oversize, split writes, vanishing clients, backpressure,
// busy, idle), the socket file (mode, group, stale / live / regular file), the
// built-in commands, and gwctl's output and exit codes against a live server.
//
// A real ControlServer in a mkdtemp directory, driven by client sockets and
// poll() calls from the test; the gwctl tests run the built binary (env GWCTL)
// against a server polled by a thread.

#include "controlplane/control_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

extern char** environ;

namespace gw::cp {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "gw-ctl-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

sockaddr_un address_of(const fs::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    std::memcpy(addr.sun_path, p.data(), std::min(p.size(), sizeof(addr.sun_path) - 1));
    return addr;
}

// A non-blocking client: the test interleaves its I/O with server.poll().
class TestClient {
public:
    explicit TestClient(const fs::path& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
        const sockaddr_un addr = address_of(path);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    }
    ~TestClient() { close(); }
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    [[nodiscard]] bool connected() const { return connected_; }

    // Everything, or as much as the socket takes before `server` is polled.
    void send(std::string_view data, ControlServer* server = nullptr) {
        std::size_t sent = 0;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (sent < data.size() && std::chrono::steady_clock::now() < deadline) {
            const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (errno == EAGAIN && server != nullptr) {
                server->poll(1);
            } else if (errno != EAGAIN && errno != EINTR) {
                break;
            }
        }
        ASSERT_EQ(sent, data.size()) << "send failed: " << std::strerror(errno);
    }

    // Reads what is there now; false once the server closed the connection.
    bool read_some() {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n > 0) {
                in_.append(buf, static_cast<std::size_t>(n));
            } else if (n == 0) {
                eof_ = true;
                return false;
            } else {
                return errno == EAGAIN || errno == EINTR;
            }
        }
    }

    // The next reply line, parsed; polls the server meanwhile.
    json reply(ControlServer& server, std::chrono::milliseconds limit = 5000ms) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        std::size_t nl;
        while ((nl = in_.find('\n')) == std::string::npos) {
            if (eof_ || std::chrono::steady_clock::now() > deadline) {
                ADD_FAILURE() << (eof_ ? "connection closed" : "timed out") << " waiting for a reply";
                return json();
            }
            server.poll(1);
            read_some();
        }
        const std::string line = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        json j = json::parse(line, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << "reply is not JSON: " << line;
        return j;
    }

    json request(ControlServer& server, const json& req) {
        send(req.dump() + "\n");
        return reply(server);
    }

    // True once the server closed the connection (after any pending replies).
    bool closed_by_server(ControlServer& server, std::chrono::milliseconds limit = 5000ms) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!eof_ && std::chrono::steady_clock::now() < deadline) {
            server.poll(1);
            read_some();
        }
        return eof_;
    }

    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    [[nodiscard]] const std::string& buffered() const { return in_; }

private:
    int fd_;
    bool connected_ = false;
    bool eof_ = false;
    std::string in_;
};

json req(json id, std::vector<std::string> argv) {
    return {{"v", 1}, {"id", std::move(id)}, {"argv", std::move(argv)}};
}

std::string error_code(const json& reply) {
    return reply.value("error", json::object()).value("code", "");
}
std::string error_message(const json& reply) {
    return reply.value("error", json::object()).value("message", "");
}

// Commands the tests talk to; `count` counts its calls (the gwctl tests call
// it from the server thread).
struct TestCommands {
    std::atomic<int> count{0};

    void register_into(CommandRegistry& r) {
        r.add("echo", "echo [WORDS...]", "reply with the words", [](CommandArgs args) {
            CommandReply reply{.result = json(std::vector<std::string>(args.begin(), args.end()))};
            View v{.title = "echo", .columns = {"arg", "length"}};
            for (const auto& a : args) {
                v.rows.push_back({a, std::to_string(a.size())});
            }
            reply.views.push_back(std::move(v));
            return reply;
        });
        r.add("show interface", "show interface [NAME]", "port counters", [](CommandArgs args) {
            if (args.size() > 1) {
                return CommandReply::fail("usage", "too many arguments");
            }
            if (args.size() == 1 && args[0] != "lan" && args[0] != "wan") {
                return CommandReply::fail("not-found", fmt::format("no interface '{}'", args[0]));
            }
            const json ports = json::array({
                {{"name", "lan"},
                 {"ipackets", 1000},
                 {"opackets", 2000},
                 {"ibytes", 64000},
                 {"obytes", 128000},
                 {"imissed", 0}},
                {{"name", "wan"},
                 {"ipackets", 123456},
                 {"opackets", 7},
                 {"ibytes", 9000000},
                 {"obytes", 700},
                 {"imissed", 3}},
            });
            View v{.title = "interfaces", .columns = {"port", "mac", "rx pkts", "tx pkts"}};
            v.rows = {{"lan", "02:00:00:00:00:01", "1000", "2000"}, {"wan", "02:00:00:00:00:02", "123456", "7"}};
            return CommandReply{.result = {{"ports", ports}}, .views = {v}};
        });
        r.add("show runtime", "show runtime", "per-lcore load and latency", [this](CommandArgs) {
            // Counters that grow with every call, so that top computes non-zero rates.
            const uint64_t n = static_cast<uint64_t>(++count);
            const json lcores = json::array({
                {{"lcore", 1},
                 {"role", "worker"},
                 {"busy_cycles", 500 * n},
                 {"total_cycles", 1000 * n},
                 {"rx_packets", 100 * n},
                 {"latency", {{"window", {{"count", 10}, {"p50_ns", 850}, {"p99_ns", 4200}}}}}},
                {{"lcore", 0}, {"role", "control"}, {"busy_cycles", 0}, {"total_cycles", 0}, {"rx_packets", 0}},
            });
            return CommandReply{.result = {{"lcores", lcores}}};
        });
        r.add("boom", "boom", "throw", [](CommandArgs) -> CommandReply { throw std::runtime_error("kaboom"); });
        r.add("reject", "reject", "fail validation",
              [](CommandArgs) { return CommandReply::fail("invalid", "value out of range"); });
        r.add("big", "big BYTES", "a result of BYTES bytes", [](CommandArgs args) {
            if (args.size() != 1) {
                return CommandReply::fail("usage", "");
            }
            return CommandReply{.result = std::string(std::stoul(args[0]), 'x')};
        });
        r.add("count", "count", "count calls", [this](CommandArgs) { return CommandReply{.result = ++count}; });
        r.add("sleep", "sleep MS", "block the server", [](CommandArgs args) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::stoul(args.empty() ? "0" : args[0])));
            return CommandReply{};
        });
        r.add("ipsec sa add", "ipsec sa add NAME spi SPI key KEY", "add an SA",
              [](CommandArgs) { return CommandReply::fail("invalid", "bad SA"); });
    }
};

class ControlServerTest : public ::testing::Test {
protected:
    ControlServerTest() { commands_.register_into(registry_); }

    [[nodiscard]] fs::path socket_path() const { return dir_.path() / "gatewayd.sock"; }

    std::unique_ptr<ControlServer> start(ControlServerOptions options = {}) {
        options.path = socket_path();
        auto server = ControlServer::listen(options, registry_);
        if (!server) {
            ADD_FAILURE() << server.error().message;
            return nullptr;
        }
        return std::move(*server);
    }

    TempDir dir_;
    TestCommands commands_;
    CommandRegistry registry_{"1.2.3-test"};
};

// --- protocol ---------------------------------------------------------------

TEST_F(ControlServerTest, RoundTrip) {
    auto server = start();
    ASSERT_TRUE(server);
    TestClient c(socket_path());
    ASSERT_TRUE(c.connected());
    const json r = c.request(*server, req(7, {"echo", "a", "bb"}));
    EXPECT_EQ(r["v"], 1);
    EXPECT_EQ(r["id"], 7);
    EXPECT_EQ(r["ok"], true);
    EXPECT_EQ(r["result"], json({"a", "bb"}));
    ASSERT_EQ(r["views"].size(), 1u);
    EXPECT_EQ(r["views"][0]["title"], "echo");
    EXPECT_EQ(r["views"][0]["columns"], json({"arg", "length"}));
    EXPECT_EQ(r["views"][0]["rows"], json::array({json::array({"a", "1"}), json::array({"bb", "2"})}));
    EXPECT_EQ(server->clients(), 1u);
}

TEST_F(ControlServerTest, IdIsEchoedWhateverScalarItIs) {
    auto server = start();
    TestClient c(socket_path());
    for (const json& id : {json("abc"), json(1.5), json(true), json(nullptr), json(-3)}) {
        EXPECT_EQ(c.request(*server, req(id, {"echo"}))["id"], id);
    }
    const json r = c.request(*server, {{"v", 1}, {"argv", {"echo"}}});
    EXPECT_TRUE(r.contains("id"));
    EXPECT_TRUE(r["id"].is_null());
    EXPECT_EQ(r["ok"], true);
}

TEST_F(ControlServerTest, PipelinedRequestsAreAnsweredInOrder) {
    auto server = start();
    TestClient c(socket_path());
    std::string batch;
    for (int i = 1; i <= 50; ++i) {
        batch += req(i, i % 2 ? std::vector<std::string>{"echo", std::to_string(i)} : std::vector<std::string>{"boom"})
                     .dump() +
                 "\n";
    }
    c.send(batch, server.get());
    for (int i = 1; i <= 50; ++i) {
        const json r = c.reply(*server);
        EXPECT_EQ(r["id"], i);
        EXPECT_EQ(r["ok"], i % 2 == 1);
    }
}

TEST_F(ControlServerTest, MalformedRequestsGetBadRequestAndTheConnectionStaysUsable) {
    auto server = start();
    TestClient c(socket_path());
    const struct {
        std::string description;
        std::string line;
    } cases[] = {
        {"not JSON", "show interface"},
        {"truncated JSON", R"({"v":1,"argv":["show")"},
        {"an array", R"([1,2,3])"},
        {"a string", R"("show")"},
        {"no argv", R"({"v":1,"id":1})"},
        {"argv a string", R"({"v":1,"id":1,"argv":"show interface"})"},
        {"argv with a number", R"({"v":1,"id":1,"argv":["show",1]})"},
        {"no version", R"({"id":1,"argv":["echo"]})"},
        {"version a string", R"({"v":"1","id":1,"argv":["echo"]})"},
        {"id an object", R"({"v":1,"id":{"a":1},"argv":["echo"]})"},
        {"invalid UTF-8", "{\"v\":1,\"id\":1,\"argv\":[\"\xff\xfe\"]}"},
    };
    for (const auto& tc : cases) {
        c.send(tc.line + "\n");
        const json r = c.reply(*server);
        EXPECT_EQ(r["ok"], false) << tc.description;
        EXPECT_EQ(error_code(r), "bad-request") << tc.description;
        EXPECT_FALSE(error_message(r).empty()) << tc.description;
        const json ok = c.request(*server, req(99, {"echo", "still"}));
        EXPECT_EQ(ok["ok"], true) << "after " << tc.description;
        EXPECT_EQ(ok["id"], 99);
    }
}

TEST_F(ControlServerTest, BadRequestEchoesAValidId) {
    auto server = start();
    TestClient c(socket_path());
    c.send(R"({"v":1,"id":"x1","argv":[1]})"
           "\n");
    EXPECT_EQ(c.reply(*server)["id"], "x1");
}

TEST_F(ControlServerTest, BlankLinesAndCrLfAreTolerated) {
    auto server = start();
    TestClient c(socket_path());
    c.send("\n  \n\r\n" + req(1, {"echo"}).dump() + "\r\n");
    const json r = c.reply(*server);
    EXPECT_EQ(r["id"], 1);
    EXPECT_EQ(r["ok"], true);
}

TEST_F(ControlServerTest, UnsupportedVersion) {
    auto server = start();
    TestClient c(socket_path());
    const json r = c.request(*server, {{"v", 2}, {"id", 3}, {"argv", {"echo"}}});
    EXPECT_EQ(r["id"], 3);
    EXPECT_EQ(error_code(r), "unsupported-version");
    EXPECT_NE(error_message(r).find("version 1"), std::string::npos) << error_message(r);
}

TEST_F(ControlServerTest, UnknownCommandNamesTheClosest) {
    auto server = start();
    TestClient c(socket_path());
    const struct {
        std::vector<std::string> argv;
        std::vector<std::string> suggested;
    } cases[] = {
        {{"shwo", "interface"}, {"'show interface'"}},
        {{"show", "interfce", "lan"}, {"'show interface'"}},
        {{"sh", "int"}, {"'show interface'"}},
        {{"show"}, {"'show interface'", "'show runtime'"}},
        {{"show", "xyz"}, {"'show interface'", "'show runtime'"}},
        {{"versoin"}, {"'version'"}},
        {{"xyzzy"}, {"'help' lists the commands"}},
    };
    for (const auto& tc : cases) {
        const json r = c.request(*server, req(1, tc.argv));
        EXPECT_EQ(error_code(r), "unknown-command") << tc.argv[0];
        for (const auto& s : tc.suggested) {
            EXPECT_NE(error_message(r).find(s), std::string::npos) << error_message(r);
        }
    }
}

TEST_F(ControlServerTest, UnknownCommandNeverEchoesWhatFollowsTheCommandWords) {
    auto server = start();
    TestClient c(socket_path());
    const json r = c.request(*server, req(1, {"ipsec", "sa", "ad", "tun0", "spi", "5", "key", "0xdeadbeefcafe"}));
    EXPECT_EQ(error_code(r), "unknown-command");
    EXPECT_NE(error_message(r).find("'ipsec sa add'"), std::string::npos) << error_message(r);
    EXPECT_EQ(error_message(r).find("deadbeef"), std::string::npos) << error_message(r);
}

TEST_F(ControlServerTest, HandlerExceptionIsAnInternalError) {
    auto server = start();
    TestClient c(socket_path());
    const json r = c.request(*server, req(5, {"boom"}));
    EXPECT_EQ(r["id"], 5);
    EXPECT_EQ(error_code(r), "internal");
    EXPECT_NE(error_message(r).find("kaboom"), std::string::npos);
    EXPECT_EQ(c.request(*server, req(6, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, UsageErrorCarriesTheUsageLine) {
    auto server = start();
    TestClient c(socket_path());
    json r = c.request(*server, req(1, {"show", "interface", "a", "b"}));
    EXPECT_EQ(error_code(r), "usage");
    EXPECT_EQ(error_message(r), "too many arguments; usage: show interface [NAME]");
    r = c.request(*server, req(1, {"big"}));
    EXPECT_EQ(error_message(r), "usage: big BYTES");
    r = c.request(*server, req(1, {}));
    EXPECT_EQ(error_code(r), "usage");
}

TEST_F(ControlServerTest, HandlerErrorCodesPassThrough) {
    auto server = start();
    TestClient c(socket_path());
    json r = c.request(*server, req(1, {"show", "interface", "dmz"}));
    EXPECT_EQ(error_code(r), "not-found");
    EXPECT_EQ(error_message(r), "no interface 'dmz'");
    EXPECT_FALSE(r.contains("result"));
    r = c.request(*server, req(1, {"reject"}));
    EXPECT_EQ(error_code(r), "invalid");
}

// --- framing and limits -----------------------------------------------------

TEST_F(ControlServerTest, OversizedRequestIsTooLargeThenClosed) {
    for (const bool with_newline : {false, true}) {
        auto server = start({.max_request = 1024});
        TestClient c(socket_path());
        std::string line = R"({"v":1,"id":1,"argv":["echo",")" + std::string(2000, 'k') + "\"]}";
        if (with_newline) {
            line += "\n";
        }
        c.send(line, server.get());
        const json r = c.reply(*server);
        EXPECT_EQ(error_code(r), "too-large") << with_newline;
        EXPECT_TRUE(c.closed_by_server(*server)) << with_newline;
        EXPECT_EQ(server->clients(), 0u);
    }
}

TEST_F(ControlServerTest, RequestOfExactlyTheLimitIsServed) {
    auto server = start({.max_request = 256});
    TestClient c(socket_path());
    std::string line = req(1, {"echo", ""}).dump();
    const std::string fill(256 - line.size(), 'a');
    line = req(1, {"echo", fill}).dump();
    ASSERT_EQ(line.size(), 256u);
    c.send(line + "\n");
    EXPECT_EQ(c.reply(*server)["ok"], true);
}

TEST_F(ControlServerTest, RequestSplitAcrossManySmallWrites) {
    auto server = start();
    TestClient c(socket_path());
    const std::string line =
        req(42, {"echo", "split", "into", "bytes"}).dump() + "\n" + req(43, {"echo"}).dump() + "\n";
    for (const char ch : line) {
        c.send(std::string_view(&ch, 1));
        server->poll(0);
    }
    EXPECT_EQ(c.reply(*server)["id"], 42);
    EXPECT_EQ(c.reply(*server)["id"], 43);
}

TEST_F(ControlServerTest, HalfClosedClientIsAnsweredThenClosed) {
    auto server = start();
    TestClient c(socket_path());
    c.send(req(1, {"echo", "last"}).dump());  // no '\n': EOF ends the line
    c.shutdown_write();
    const json r = c.reply(*server);
    EXPECT_EQ(r["result"], json({"last"}));
    EXPECT_TRUE(c.closed_by_server(*server));
}

TEST_F(ControlServerTest, ClientVanishingMidRequestCostsNothing) {
    auto server = start();
    {
        TestClient c(socket_path());
        c.send(R"({"v":1,"id":1,"argv":["ech)");
        server->poll(10);
        EXPECT_EQ(server->clients(), 1u);
    }
    for (int i = 0; i < 100 && server->clients() > 0; ++i) {
        server->poll(10);
    }
    EXPECT_EQ(server->clients(), 0u);
    TestClient next(socket_path());
    EXPECT_EQ(next.request(*server, req(2, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, ClientVanishingMidReplyCostsNothing) {
    auto server = start();
    {
        TestClient c(socket_path());
        c.send(req(1, {"big", "3000000"}).dump() + "\n");
        for (int i = 0; i < 5; ++i) {
            server->poll(5);
        }
        c.read_some();
        ASSERT_FALSE(c.buffered().empty()) << "the reply should have started";
        ASSERT_EQ(c.buffered().find('\n'), std::string::npos) << "the reply should not be complete";
    }
    // No SIGPIPE (the test would die), no stuck client.
    for (int i = 0; i < 100 && server->clients() > 0; ++i) {
        server->poll(10);
    }
    EXPECT_EQ(server->clients(), 0u);
    TestClient next(socket_path());
    EXPECT_EQ(next.request(*server, req(2, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, ClientNotReadingIsHeldByBackpressure) {
    auto server = start({.max_output = 64 * 1024});
    TestClient c(socket_path());
    std::string batch;
    constexpr int kRequests = 200;
    for (int i = 0; i < kRequests; ++i) {
        batch += req(i, {"big", "10000"}).dump() + "\n";
    }
    // 2 MB of replies to a client that sends everything before reading anything:
    // the server stops reading it instead of queueing them.
    c.send(batch, server.get());
    for (int i = 0; i < 20; ++i) {
        server->poll(1);
    }
    EXPECT_EQ(server->clients(), 1u);
    for (int i = 0; i < kRequests; ++i) {
        const json r = c.reply(*server);
        ASSERT_EQ(r["id"], i);
        ASSERT_EQ(r["result"].get<std::string>().size(), 10000u);
    }
}

TEST_F(ControlServerTest, ReplyOverTheOutputLimitBecomesAnError) {
    auto server = start({.max_output = 64 * 1024});
    TestClient c(socket_path());
    const json r = c.request(*server, req(1, {"big", "100000"}));
    EXPECT_EQ(r["id"], 1);
    EXPECT_EQ(error_code(r), "internal");
    EXPECT_EQ(c.request(*server, req(2, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, ClientsBeyondTheLimitAreToldBusy) {
    auto server = start({.max_clients = 2});
    TestClient a(socket_path());
    TestClient b(socket_path());
    EXPECT_EQ(a.request(*server, req(1, {"echo"}))["ok"], true);
    EXPECT_EQ(b.request(*server, req(1, {"echo"}))["ok"], true);
    TestClient third(socket_path());
    const json r = third.reply(*server);
    EXPECT_EQ(error_code(r), "unavailable");
    EXPECT_NE(error_message(r).find("busy"), std::string::npos);
    EXPECT_TRUE(r["id"].is_null());
    EXPECT_TRUE(third.closed_by_server(*server));
    EXPECT_EQ(server->clients(), 2u);
    a.close();
    for (int i = 0; i < 100 && server->clients() > 1; ++i) {
        server->poll(10);
    }
    TestClient fourth(socket_path());
    EXPECT_EQ(fourth.request(*server, req(1, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, IdleClientIsClosed) {
    auto server = start({.idle_timeout = 100ms});
    TestClient idle(socket_path());
    TestClient busy(socket_path());
    const auto start_time = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(busy.request(*server, req(i, {"echo"}))["ok"], true);
        std::this_thread::sleep_for(30ms);
    }
    EXPECT_TRUE(idle.closed_by_server(*server));
    EXPECT_GE(std::chrono::steady_clock::now() - start_time, 100ms);
    EXPECT_EQ(server->clients(), 1u);
}

TEST_F(ControlServerTest, PollNeverBlocksLongerThanItsTimeout) {
    auto server = start();
    TestClient c(socket_path());
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(server->poll(0), 0u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms);
    const auto t1 = std::chrono::steady_clock::now();
    server->poll(30);
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 500ms);
}

TEST_F(ControlServerTest, PollCountsTheRequestsAnswered) {
    auto server = start();
    TestClient c(socket_path());
    server->poll(0);  // accept
    c.send(req(1, {"echo"}).dump() + "\n" + R"({"v":1})" + "\n" + req(3, {"echo"}).dump() + "\n");
    unsigned served = 0;
    for (int i = 0; i < 50 && served < 3; ++i) {
        served += server->poll(5);
    }
    EXPECT_EQ(served, 3u);
}

// --- the socket file --------------------------------------------------------

TEST_F(ControlServerTest, SocketFileHasTheConfiguredMode) {
    {
        auto server = start();
        struct stat st {};
        ASSERT_EQ(::lstat(socket_path().c_str(), &st), 0);
        EXPECT_TRUE(S_ISSOCK(st.st_mode));
        EXPECT_EQ(st.st_mode & 07777, 0660u);
    }
    auto server = start({.mode = 0600});
    struct stat st {};
    ASSERT_EQ(::lstat(socket_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(ControlServerTest, GroupIsSetOrRefusedWhenUnknown) {
    const group* own = ::getgrgid(::getegid());
    if (own == nullptr) {
        GTEST_SKIP() << "the test's own group has no name";
    }
    {
        auto server = start({.group = own->gr_name});
        ASSERT_TRUE(server);
        struct stat st {};
        ASSERT_EQ(::lstat(socket_path().c_str(), &st), 0);
        EXPECT_EQ(st.st_gid, ::getegid());
    }
    auto refused = ControlServer::listen({.path = socket_path(), .group = "no-such-group-gw"}, registry_);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("no-such-group-gw"), std::string::npos) << refused.error().message;
}

TEST_F(ControlServerTest, MissingDirectoryIsCreated) {
    const fs::path path = dir_.path() / "run" / "gatewayd" / "gatewayd.sock";
    auto server = ControlServer::listen({.path = path}, registry_);
    ASSERT_TRUE(server) << server.error().message;
    EXPECT_EQ(fs::status(path.parent_path()).permissions(), fs::perms(0755));
    TestClient c(path);
    EXPECT_EQ(c.request(**server, req(1, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, StaleSocketIsReplaced) {
    // A socket file nobody listens on: what a crashed gateway leaves behind.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un addr = address_of(socket_path());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
    ASSERT_TRUE(fs::is_socket(socket_path()));
    auto server = start();
    ASSERT_TRUE(server);
    TestClient c(socket_path());
    EXPECT_EQ(c.request(*server, req(1, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, LiveSocketIsRefused) {
    auto first = start();
    ASSERT_TRUE(first);
    auto second = ControlServer::listen({.path = socket_path()}, registry_);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("already running?"), std::string::npos) << second.error().message;
    // The first one is untouched.
    TestClient c(socket_path());
    EXPECT_EQ(c.request(*first, req(1, {"echo"}))["ok"], true);
}

TEST_F(ControlServerTest, RegularFileIsRefused) {
    std::ofstream(socket_path()) << "precious\n";
    auto server = ControlServer::listen({.path = socket_path()}, registry_);
    ASSERT_FALSE(server);
    EXPECT_NE(server.error().message.find("not a socket"), std::string::npos) << server.error().message;
    std::ifstream in(socket_path());
    std::string content;
    std::getline(in, content);
    EXPECT_EQ(content, "precious");
}

TEST_F(ControlServerTest, TooLongPathIsRefused) {
    auto server = ControlServer::listen({.path = dir_.path() / std::string(120, 'p')}, registry_);
    ASSERT_FALSE(server);
    EXPECT_NE(server.error().message.find("too long"), std::string::npos);
}

TEST_F(ControlServerTest, DestructorClosesClientsAndUnlinksTheSocket) {
    auto server = start();
    TestClient c(socket_path());
    EXPECT_EQ(c.request(*server, req(1, {"echo"}))["ok"], true);
    server.reset();
    EXPECT_FALSE(fs::exists(socket_path()));
    EXPECT_FALSE(c.read_some()) << "the client should see the connection closed";
    TestClient after(socket_path());
    EXPECT_FALSE(after.connected());
}

// --- built-in commands and the registry ------------------------------------

TEST_F(ControlServerTest, HelpListsEveryCommandWithUsage) {
    auto server = start();
    TestClient c(socket_path());
    const json r = c.request(*server, req(1, {"help"}));
    ASSERT_EQ(r["ok"], true);
    const auto& commands = r["result"]["commands"];
    std::vector<std::string> words;
    for (const auto& cmd : commands) {
        words.push_back(cmd["words"]);
    }
    for (const char* w : {"help", "commands", "version", "show interface", "show runtime", "ipsec sa add"}) {
        EXPECT_NE(std::find(words.begin(), words.end(), w), words.end()) << w;
    }
    EXPECT_TRUE(std::is_sorted(words.begin(), words.end()));
    ASSERT_EQ(r["views"].size(), 1u);
    EXPECT_EQ(r["views"][0]["columns"], json({"command", "description"}));
    EXPECT_EQ(r["views"][0]["rows"].size(), commands.size());
}

TEST_F(ControlServerTest, HelpOfOneCommandOrAGroup) {
    auto server = start();
    TestClient c(socket_path());
    json r = c.request(*server, req(1, {"help", "show", "interface"}));
    ASSERT_EQ(r["ok"], true);
    EXPECT_EQ(r["result"]["usage"], "show interface [NAME]");
    EXPECT_EQ(r["views"][0]["text"], "usage: show interface [NAME]\nport counters");
    r = c.request(*server, req(1, {"help", "show"}));
    ASSERT_EQ(r["ok"], true);
    EXPECT_EQ(r["result"]["commands"].size(), 2u);
    r = c.request(*server, req(1, {"help", "shwo"}));
    EXPECT_EQ(error_code(r), "not-found");
    EXPECT_NE(error_message(r).find("'show interface'"), std::string::npos) << error_message(r);
}

TEST_F(ControlServerTest, CommandsIsMachineReadable) {
    auto server = start();
    TestClient c(socket_path());
    const json r = c.request(*server, req(1, {"commands"}));
    ASSERT_EQ(r["ok"], true);
    ASSERT_TRUE(r["result"].is_array());
    bool found = false;
    for (const auto& cmd : r["result"]) {
        EXPECT_TRUE(cmd["words"].is_string() && cmd["usage"].is_string() && cmd["help"].is_string());
        if (cmd["words"] == "show interface") {
            found = true;
            EXPECT_EQ(cmd["usage"], "show interface [NAME]");
            EXPECT_EQ(cmd["help"], "port counters");
        }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(error_code(c.request(*server, req(1, {"commands", "x"}))), "usage");
}

TEST_F(ControlServerTest, Version) {
    auto server = start();
    TestClient c(socket_path());
    const json r = c.request(*server, req(1, {"version"}));
    ASSERT_EQ(r["ok"], true);
    EXPECT_EQ(r["result"], json({{"protocol", 1}, {"gateway", "1.2.3-test"}}));
}

TEST(CommandRegistry, LongestPrefixWinsAndGetsTheRemainingWords) {
    CommandRegistry r("v");
    std::vector<std::string> seen;
    r.add("show", "show WHAT", "", [&](CommandArgs a) {
        seen = {"show"};
        seen.insert(seen.end(), a.begin(), a.end());
        return CommandReply{};
    });
    r.add("show ipsec sa", "show ipsec sa [NAME]", "", [&](CommandArgs a) {
        seen = {"show ipsec sa"};
        seen.insert(seen.end(), a.begin(), a.end());
        return CommandReply{};
    });
    const std::vector<std::string> sa{"show", "ipsec", "sa", "tun0"};
    EXPECT_TRUE(r.dispatch(sa).ok);
    EXPECT_EQ(seen, (std::vector<std::string>{"show ipsec sa", "tun0"}));
    const std::vector<std::string> other{"show", "ipsec", "policy"};
    EXPECT_TRUE(r.dispatch(other).ok);
    EXPECT_EQ(seen, (std::vector<std::string>{"show", "ipsec", "policy"}));
}

TEST(CommandRegistry, DuplicateOrEmptyWordsAreProgrammingErrors) {
    CommandRegistry r("v");
    auto h = [](CommandArgs) { return CommandReply{}; };
    r.add("show interface", "show interface", "", h);
    EXPECT_THROW(r.add("show  interface", "", "", h), std::invalid_argument);
    EXPECT_THROW(r.add("help", "", "", h), std::invalid_argument);
    EXPECT_THROW(r.add("  ", "", "", h), std::invalid_argument);
    EXPECT_THROW(r.add("x", "", "", nullptr), std::invalid_argument);
}

TEST(CommandRegistry, AnswerRequestIsTheWholeProtocolWithoutFraming) {
    CommandRegistry r("v");
    const json reply = json::parse(answer_request(r, R"({"v":1,"id":"a","argv":["version"]})"));
    EXPECT_EQ(reply["id"], "a");
    EXPECT_EQ(reply["result"]["gateway"], "v");
    EXPECT_EQ(json::parse(answer_request(r, "nope"))["error"]["code"], "bad-request");
}

// --- gwctl against a live server --------------------------------------------

struct GwctlRun {
    int rc = -1;
    std::string out;
    std::string err;
};

class GwctlTest : public ControlServerTest {
protected:
    explicit GwctlTest(ControlServerOptions options = {}) : options_(std::move(options)) {}

    void SetUp() override {
        const char* gwctl = std::getenv("GWCTL");
        if (gwctl == nullptr || !fs::exists(gwctl)) {
            GTEST_SKIP() << "GWCTL (path of the gwctl binary) not set; meson test sets it";
        }
        gwctl_ = gwctl;
        server_ = start(options_);
        ASSERT_TRUE(server_);
        thread_ = std::thread([this] {
            while (!stop_) {
                server_->poll(10);
            }
        });
    }
    void TearDown() override {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    // Runs gwctl with `args`, `input` on its stdin (a pipe: not a TTY).
    GwctlRun gwctl(std::vector<std::string> args, const std::string& input = "",
                   std::vector<std::string> env = {}) const {
        int in[2], out[2], err[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
            ADD_FAILURE() << "pipe failed";
            return {};
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
        args.insert(args.begin(), gwctl_);
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        for (char** e = environ; *e != nullptr; ++e) {
            if (!std::string_view(*e).starts_with("GWCTL_SOCKET=")) {
                env.emplace_back(*e);
            }
        }
        std::vector<char*> envp;
        for (auto& e : env) {
            envp.push_back(e.data());
        }
        envp.push_back(nullptr);
        pid_t pid = -1;
        const int spawned = posix_spawn(&pid, gwctl_.c_str(), &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        ::close(err[1]);
        if (spawned != 0) {
            ::close(in[1]);
            ::close(out[0]);
            ::close(err[0]);
            ADD_FAILURE() << "posix_spawn failed: " << std::strerror(spawned);
            return {};
        }
        // gwctl may exit before reading all its input: EPIPE, not SIGPIPE, then.
        // (The inputs are small: the pipe's buffer takes them before gwctl reads.)
        const auto old_sigpipe = std::signal(SIGPIPE, SIG_IGN);
        for (std::size_t off = 0; off < input.size();) {
            const ssize_t n = ::write(in[1], input.data() + off, input.size() - off);
            if (n <= 0) {
                break;
            }
            off += static_cast<std::size_t>(n);
        }
        std::signal(SIGPIPE, old_sigpipe);
        ::close(in[1]);
        GwctlRun run;
        pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
        int open_fds = 2;
        while (open_fds > 0 && ::poll(fds, 2, 20'000) > 0) {
            for (int i = 0; i < 2; ++i) {
                if (fds[i].fd >= 0 && fds[i].revents != 0) {
                    char buf[4096];
                    const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
                    if (n > 0) {
                        (i == 0 ? run.out : run.err).append(buf, static_cast<std::size_t>(n));
                    } else {
                        ::close(fds[i].fd);
                        fds[i].fd = -1;
                        --open_fds;
                    }
                }
            }
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        run.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return run;
    }

    GwctlRun gwctl_cmd(std::vector<std::string> words, const std::string& input = "") const {
        words.insert(words.begin(), {"-s", socket_path().string()});
        return gwctl(std::move(words), input);
    }

    ControlServerOptions options_;
    std::string gwctl_;
    std::unique_ptr<ControlServer> server_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

TEST_F(GwctlTest, TableOutput) {
    const GwctlRun r = gwctl_cmd({"show", "interface"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
    // Numeric columns right-aligned, the MAC left-aligned.
    EXPECT_EQ(r.out,
              "interfaces\n"
              "port  mac                rx pkts  tx pkts\n"
              "lan   02:00:00:00:00:01     1000     2000\n"
              "wan   02:00:00:00:00:02   123456        7\n");
}

TEST_F(GwctlTest, JsonOutputIsTheResult) {
    const GwctlRun r = gwctl_cmd({"--json", "show", "interface"});
    EXPECT_EQ(r.rc, 0) << r.err;
    const json j = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_EQ(j["ports"][1]["name"], "wan");
    EXPECT_EQ(j["ports"][1]["ipackets"], 123456);
}

TEST_F(GwctlTest, TextViewAndVersion) {
    const GwctlRun r = gwctl_cmd({"version"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "gateway 1.2.3-test, control protocol 1\n");
}

TEST_F(GwctlTest, RejectedCommandsExitOne) {
    for (const auto& words :
         std::vector<std::vector<std::string>>{{"reject"}, {"show", "interface", "dmz"}, {"boom"}}) {
        const GwctlRun r = gwctl_cmd(words);
        EXPECT_EQ(r.rc, 1) << words[0];
        EXPECT_TRUE(r.err.starts_with("gwctl: ")) << r.err;
        EXPECT_EQ(r.out, "");
    }
    EXPECT_EQ(gwctl_cmd({"reject"}).err, "gwctl: value out of range\n");
}

TEST_F(GwctlTest, UsageErrorsExitTwo) {
    GwctlRun r = gwctl_cmd({"shwo", "interface"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("'show interface'"), std::string::npos) << r.err;
    r = gwctl_cmd({"show", "interface", "a", "b"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("usage: show interface [NAME]"), std::string::npos) << r.err;
    r = gwctl({"--no-such-option", "version"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(r.err.starts_with("gwctl: ")) << r.err;
    r = gwctl({"--timeout", "soon", "version"});
    EXPECT_EQ(r.rc, 2);
    r = gwctl_cmd({"top", "--interval", "0"});
    EXPECT_EQ(r.rc, 2);
}

TEST_F(GwctlTest, ConnectionProblemsExitThree) {
    GwctlRun r = gwctl({"-s", (dir_.path() / "absent.sock").string(), "version"});
    EXPECT_EQ(r.rc, 3);
    EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
    r = gwctl_cmd({"--timeout", "0.2", "sleep", "1500"});
    EXPECT_EQ(r.rc, 3);
    EXPECT_NE(r.err.find("no reply"), std::string::npos) << r.err;
}

TEST_F(GwctlTest, SocketFromTheEnvironment) {
    const GwctlRun r = gwctl({"version"}, "", {"GWCTL_SOCKET=" + socket_path().string()});
    EXPECT_EQ(r.rc, 0) << r.err;
}

TEST_F(GwctlTest, ScriptOnStdin) {
    const GwctlRun r = gwctl_cmd({}, "# a comment\n\n  count\ncount   # not a comment: an argument\nversion\n");
    // `count` ignores its arguments; the second line passes "#", "not", ... as words.
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(commands_.count.load(), 2);
    EXPECT_NE(r.out.find("gateway 1.2.3-test"), std::string::npos) << r.out;
}

TEST_F(GwctlTest, ScriptStopsAtTheFirstFailureWithItsCode) {
    GwctlRun r = gwctl_cmd({}, "count\nreject\ncount\n");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(commands_.count.load(), 1);
    EXPECT_EQ(r.err, "gwctl: stdin:2: value out of range\n");
    r = gwctl_cmd({}, "count\nnonsense words\ncount\n");
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(commands_.count.load(), 2);
    r = gwctl_cmd({}, "echo 'unterminated\n");
    EXPECT_EQ(r.rc, 2);
}

TEST_F(GwctlTest, ScriptQuotesKeepWordsTogether) {
    const GwctlRun r = gwctl_cmd({"--json"}, "echo 'two words' \"a \\\"q\\\"\" plain\n");
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), json({"two words", "a \"q\"", "plain"}));
}

TEST_F(GwctlTest, ScriptFromFile) {
    const fs::path script = dir_.path() / "cmds.gw";
    std::ofstream(script) << "count\n# done\ncount\n";
    GwctlRun r = gwctl_cmd({"-f", script.string()});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(commands_.count.load(), 2);
    r = gwctl_cmd({"-f", (dir_.path() / "missing.gw").string()});
    EXPECT_EQ(r.rc, 2);
}

TEST_F(GwctlTest, TopComputesRatesFromTwoReplies) {
    const GwctlRun r = gwctl_cmd({"top", "--interval", "0.05", "--count", "2"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("rx pps"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("wan"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("worker"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("50.0%"), std::string::npos) << r.out;  // busy/total of the difference
    EXPECT_NE(r.out.find("850ns"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("4.2us"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no screen control when stdout is not a TTY";
}

class GwctlBusyTest : public GwctlTest {
protected:
    GwctlBusyTest() : GwctlTest({.max_clients = 1}) {}
};

TEST_F(GwctlBusyTest, BusyGatewayExitsOne) {
    // The one client slot is taken (answered once, so surely accepted).
    TestClient holder(socket_path());
    holder.send(req(1, {"echo"}).dump() + "\n");
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (holder.buffered().find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        holder.read_some();
        std::this_thread::sleep_for(1ms);
    }
    const GwctlRun r = gwctl_cmd({"version"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("busy"), std::string::npos) << r.err;
}

TEST_F(GwctlTest, GarbledReplyIsAProtocolError) {
    // A peer that is not a gateway: accepts, reads, answers nonsense.
    const fs::path path = dir_.path() / "impostor.sock";
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = address_of(path);
    ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    std::thread impostor([listener] {
        for (const char* answer : {"not json at all\n", "{\"v\":1,\"id\":999,\"ok\":true}\n"}) {
            const int fd = ::accept(listener, nullptr, nullptr);
            char buf[1024];
            [[maybe_unused]] const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
            [[maybe_unused]] const ssize_t w = ::send(fd, answer, std::strlen(answer), MSG_NOSIGNAL);
            ::close(fd);
        }
    });
    GwctlRun r = gwctl({"-s", path.string(), "version"});
    EXPECT_EQ(r.rc, 3);
    EXPECT_NE(r.err.find("protocol error"), std::string::npos) << r.err;
    r = gwctl({"-s", path.string(), "version"});
    EXPECT_EQ(r.rc, 3);
    EXPECT_NE(r.err.find("another request"), std::string::npos) << r.err;
    impostor.join();
    ::close(listener);
}

}  // namespace
}  // namespace gw::cp
