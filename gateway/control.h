#pragma once
// gatewayd's runtime control: the commands served on the control socket
// (docs/cli.md), the running configuration they change, and the telemetry
// snapshots that `show` commands and the Prometheus exposer read.
//
// Every change follows one path: the running config plus the change is
// written in the config grammar and parsed, so the CLI validates exactly as
// the startup config does and with the same messages; the parsed candidate is
// then applied as atomic table swaps (routes, IPsec, XDP rules). A change
// that is rejected, or that fails to apply, leaves everything as it was.
// Control thread only.

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.h"
#include "controlplane/config.h"
#include "controlplane/control_server.h"
#include "controlplane/telemetry.h"
#include "dataplane/dataplane.h"
#include "ebpf/xdp_fast_path.h"

namespace gw {

class Control {
public:
    // `startup` is the config as the operator wrote it (before gatewayd
    // adjusted devargs for XDP); `path` the file it came from.
    Control(dp::Dataplane& dataplane, bpf::XdpFastPath& xdp, cp::Config startup, std::filesystem::path path);

    void register_commands(cp::CommandRegistry& registry);

    // A snapshot of everything measured, with XDP verdicts.
    [[nodiscard]] telemetry::SnapshotPtr snapshot() const;

    // Re-reads `path` (empty: the startup file) and applies what can change
    // at run time. Returns what was applied and what needs a restart.
    [[nodiscard]] Result<std::string> reload(const std::filesystem::path& path);

    [[nodiscard]] const cp::Config& running() const noexcept { return running_; }

private:
    // running_ with `statement` (one config line) appended, parsed.
    [[nodiscard]] Result<cp::Config> with_statement(const cp::Config& base, const std::string& statement) const;
    // Makes `next` the running state; routes, IPsec and XDP rules may differ
    // from running_, nothing else. All or nothing.
    [[nodiscard]] Status apply(const cp::Config& next);
    [[nodiscard]] cp::CommandReply change(const cp::Config& next, std::string done);

    dp::Dataplane& dp_;
    bpf::XdpFastPath& xdp_;
    cp::Config running_;
    std::filesystem::path path_;
};

// Writes `text` to `path` atomically (temporary file, fsync, rename) with mode 0600.
[[nodiscard]] Status write_private_file(const std::filesystem::path& path, const std::string& text);

// `format_config` output with every IPsec key replaced by "(hidden)": what
// `config show` prints.
[[nodiscard]] std::string mask_keys(std::string text);

}  // namespace gw
