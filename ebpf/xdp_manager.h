#pragma once
// gw::bpf::XdpGateway: user-space side of ebpf/xdp_gateway.bpf.c on one kernel
// interface. Loads the program through its libbpf skeleton, keeps the rule and
// counter maps pinned under <pin_root>/<ifname>/ (reused on the next start, so
// rules and counters survive a restart), attaches/detaches the program, and
// changes rules at run time without reloading anything.
//
// Control-plane code: every operation returns Result/Status with a message
// naming the operation, the object and the cause ("xdp: cannot attach to
// 'eth9': No such device (-19)"). Not thread-safe: one owner (the control
// thread) calls it.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/net.h"
#include "ebpf/xdp_gateway.h"

struct xdp_gateway;  // the bpftool skeleton (xdp_gateway.skel.h), kept out of this header

namespace gw::bpf {

enum class XdpMode : uint8_t {
    native,   // driver mode (XDP_FLAGS_DRV_MODE); falls back to generic with a warning
    generic,  // skb mode (XDP_FLAGS_SKB_MODE)
};

enum class L4Proto : uint8_t { tcp, udp };

struct XdpOptions {
    std::string ifname;
    XdpMode mode = XdpMode::native;
    bool replace_foreign = false;  // replace another (non-gateway) XDP program on the interface
    std::filesystem::path pin_root = "/sys/fs/bpf/gatewayd";
    std::filesystem::path kernel_btf = "/sys/kernel/btf/vmlinux";  // tests point it elsewhere
    // Reuse this XSKMAP (an fd the caller owns) instead of creating one: used to
    // adopt the sockets DPDK's net_af_xdp registered in the instance it loaded.
    int xsks_map_fd = -1;
};

// One row per enum gw_xdp_stat, in enum order: the label used in reports and
// JSON, and what it counts.
struct StatInfo {
    gw_xdp_stat id;
    std::string_view label;
    std::string_view help;
};
[[nodiscard]] std::span<const StatInfo> stat_table() noexcept;

struct Counter {
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

enum class RuleKind : uint8_t { block, bypass };

struct RuleCounter {
    RuleKind kind;
    uint32_t rule_id;
    net::IpPrefix prefix;
    Counter counter;
};

struct BypassRule {
    net::IpPrefix dst;                    // canonical destination prefix
    std::string egress_ifname;            // kernel interface the frames leave on
    net::MacAddr dst_mac;                 // next hop
    std::optional<net::MacAddr> src_mac;  // default: the egress interface's MAC
};

// What an interface has attached, as seen by bpf_xdp_query.
struct AttachedProgram {
    uint32_t id = 0;  // 0: none
    std::string name;
    uint32_t mode_flags = 0;  // XDP_FLAGS_DRV_MODE / XDP_FLAGS_SKB_MODE
    [[nodiscard]] bool is_gateway() const { return name == GW_XDP_PROG_NAME; }
};

class XdpGateway {
public:
    // Loads the program and its maps. Maps pinned by an earlier instance under
    // <pin_root>/<ifname>/ are reused (rules survive); missing ones are created
    // and pinned. Fails on a missing interface, a kernel without BTF, or pins
    // left by an incompatible build. Does not attach.
    [[nodiscard]] static Result<std::unique_ptr<XdpGateway>> open(const XdpOptions& options);
    ~XdpGateway();
    XdpGateway(const XdpGateway&) = delete;
    XdpGateway& operator=(const XdpGateway&) = delete;

    // Attaches to the interface. A gateway program already there (a previous
    // gatewayd, or DPDK's net_af_xdp instance) is replaced atomically
    // (XDP_FLAGS_REPLACE); another program is an error unless
    // replace_foreign. Native mode falls back to generic with a warning.
    [[nodiscard]] Status attach();
    // Detaches our program if it is still the one attached; pins are kept.
    Status detach();
    [[nodiscard]] bool attached() const noexcept { return attached_flags_ != 0; }
    [[nodiscard]] uint32_t attach_mode_flags() const noexcept { return attached_flags_; }

    // Runtime rules: effective on the next packet, no reload.
    [[nodiscard]] Result<uint32_t> add_block(const net::IpPrefix& src);  // returns the rule id
    [[nodiscard]] Status del_block(const net::IpPrefix& src);
    // pps == 0 disables the limit. burst >= 1 when pps > 0.
    [[nodiscard]] Status set_rate_limit(uint64_t pps, uint64_t burst);
    [[nodiscard]] Status set_mgmt_flags(uint32_t flags);  // GW_XDP_MGMT_*
    [[nodiscard]] Status add_mgmt_port(L4Proto proto, uint16_t port);
    [[nodiscard]] Status del_mgmt_port(L4Proto proto, uint16_t port);
    // Host addresses that management ports/ICMP echo must target (none: any).
    [[nodiscard]] Status add_local_address(const net::IpAddr& addr);
    [[nodiscard]] Result<uint32_t> add_bypass(const BypassRule& rule);  // returns the rule id
    [[nodiscard]] Status del_bypass(const net::IpPrefix& dst);

    // Counters summed over CPUs.
    [[nodiscard]] Result<std::array<Counter, GW_XDP_STAT_MAX>> verdict_counters() const;
    [[nodiscard]] Result<std::vector<RuleCounter>> rule_counters() const;

    [[nodiscard]] const std::string& ifname() const noexcept { return options_.ifname; }
    [[nodiscard]] int ifindex() const noexcept { return ifindex_; }
    [[nodiscard]] std::filesystem::path pin_dir() const { return options_.pin_root / options_.ifname; }
    [[nodiscard]] int prog_fd() const noexcept;  // for BPF_PROG_TEST_RUN in tests
    [[nodiscard]] int xsks_map_fd() const noexcept;
    [[nodiscard]] int tx_ports_fd() const noexcept;

    // What `ifname` has attached now.
    [[nodiscard]] static Result<AttachedProgram> query(std::string_view ifname);
    // Before DPDK's net_af_xdp attaches its own instance (it refuses to replace
    // anything): removes a stale gateway program left by a crashed gatewayd;
    // another program is an error unless replace_foreign.
    [[nodiscard]] static Status clear_stale(const XdpOptions& options);
    // The XSKMAP of the gateway program attached to `ifname` (DPDK's instance),
    // found by map type in the program's info. The caller owns the fd.
    [[nodiscard]] static Result<int> attached_xsks_map(std::string_view ifname);

private:
    XdpGateway(XdpOptions options, int ifindex);
    Status load();
    Status scan_rule_ids();
    Result<uint32_t> alloc_rule_id();
    Status write_config();

    XdpOptions options_;
    int ifindex_ = 0;
    xdp_gateway* skel_ = nullptr;
    uint32_t attached_flags_ = 0;  // XDP mode flags we attached with; 0: not attached
    gw_xdp_config config_{};
    std::vector<bool> rule_used_;
};

// Routes libbpf's messages into gw::log (warn -> warn, info -> debug). Idempotent.
void route_libbpf_log();

}  // namespace gw::bpf
