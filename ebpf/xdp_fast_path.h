#pragma once
// The config's `xdp ...` statements applied by gatewayd: one XdpGateway per
// `xdp port`, set up in two steps around DPDK's port setup.
//
//   prepare()  before EAL init. net_af_packet ports: load, apply rules, attach
//              now (the port receives what the program passes). net_af_xdp
//              ports: remove a stale gateway program (the PMD refuses to attach
//              over anything) and point the PMD at our object (xdp_prog=).
//   adopt()    after Dataplane::create, before the workers start. net_af_xdp
//              ports: the PMD has attached its own instance of xdp_gateway and
//              registered its sockets in that instance's xsks_map; load ours
//              with that xsks_map and the pinned rule maps, and replace the
//              PMD's instance atomically. One program instance remains.
//
// See ebpf/README.md, "DPDK net_af_xdp integration", for why.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "controlplane/config.h"
#include "controlplane/telemetry.h"
#include "ebpf/xdp_manager.h"

namespace gw::bpf {

class XdpFastPath {
public:
    // May rewrite `config`'s af_xdp port devargs (adds xdp_prog=<object>).
    [[nodiscard]] static Result<XdpFastPath> prepare(cp::Config& config);
    [[nodiscard]] Status adopt();
    // Detaches every program we attached; pins (rules, counters) stay.
    void detach();
    [[nodiscard]] bool empty() const noexcept { return ports_.empty(); }

    // Runtime rule change: makes `next` the rules of every xdp port, adding
    // and removing map entries by difference (the program is not reloaded).
    // The ports themselves (`xdp port`) cannot change at run time.
    [[nodiscard]] Status update(const cp::XdpConfig& next);
    [[nodiscard]] const cp::XdpConfig& rules() const noexcept { return xdp_; }

    [[nodiscard]] std::string format_text() const;
    [[nodiscard]] nlohmann::json to_json() const;
    // Verdict counters of every attached port, for telemetry snapshots.
    [[nodiscard]] std::vector<telemetry::XdpVerdict> verdicts() const;

private:
    struct Port {
        std::string name;    // config port name
        std::string ifname;  // kernel interface
        bool af_xdp = false;
        XdpOptions options;
        std::unique_ptr<XdpGateway> gw;  // null for af_xdp ports until adopt()
    };
    Status apply(Port& port);

    cp::XdpConfig xdp_;  // the rules in force
    std::vector<Port> ports_;
};

}  // namespace gw::bpf
