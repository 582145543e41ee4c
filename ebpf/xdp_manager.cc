// XdpGateway: skeleton lifecycle, pins, attach/replace/detach, rules, counters.
// Every libbpf call's negative errno is turned into an Error here, at the
// boundary; nothing below this file sees a raw errno.

#include "ebpf/xdp_manager.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <system_error>

#include "common/log.h"
#include "ebpf/xdp_gateway.skel.h"

namespace gw::bpf {

static_assert(sizeof(gw_xdp_counter) == 16);
static_assert(sizeof(gw_xdp_config) == 32);
static_assert(sizeof(gw_xdp_lpm_v4) == 8);
static_assert(sizeof(gw_xdp_lpm_v6) == 20);
static_assert(sizeof(gw_xdp_addr) == 16);
static_assert(sizeof(gw_xdp_rate_state) == 16);
static_assert(sizeof(gw_xdp_block_rule) == 4);
static_assert(sizeof(gw_xdp_bypass_rule) == 20);

namespace {

constexpr StatInfo kStats[] = {
    {GW_XDP_STAT_DROP_MALFORMED, "drop-malformed", "truncated or invalid header, too many IPv6 extension headers"},
    {GW_XDP_STAT_DROP_BLOCKED, "drop-blocked", "source address in the blocklist"},
    {GW_XDP_STAT_DROP_RATELIMIT, "drop-ratelimit", "source over its token bucket"},
    {GW_XDP_STAT_PASS_MGMT, "pass-mgmt", "management traffic passed to the kernel"},
    {GW_XDP_STAT_PASS_TTL, "pass-ttl", "bypass packet whose TTL would expire, passed to the kernel"},
    {GW_XDP_STAT_PASS_NO_SOCKET, "pass-no-socket", "no AF_XDP socket on the rx queue, passed to the kernel"},
    {GW_XDP_STAT_PASS_NO_EGRESS, "pass-no-egress", "bypass egress missing from the devmap, passed to the kernel"},
    {GW_XDP_STAT_REDIRECT_XSK, "redirect-xsk", "redirected to the data plane's AF_XDP socket"},
    {GW_XDP_STAT_REDIRECT_BYPASS, "redirect-bypass", "forwarded by XDP to the bypass egress"},
};
static_assert(std::size(kStats) == GW_XDP_STAT_MAX, "one label per enum gw_xdp_stat");

std::string errstr(int err) {
    return std::strerror(err < 0 ? -err : err);
}

// "<what>: <strerror> (<-errno>)": xdp-filter's message shape.
template <typename... Args>
std::unexpected<Error> bpf_error(int err, fmt::format_string<Args...> f, Args&&... args) {
    const int neg = err > 0 ? -err : err;
    return make_errno_error(neg, "xdp: {}: {} ({})", fmt::format(f, std::forward<Args>(args)...), errstr(neg), neg);
}

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof(buf), format, args);
    if (n <= 0) {
        return 0;
    }
    std::string_view msg(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
    while (!msg.empty() && msg.back() == '\n') {
        msg.remove_suffix(1);
    }
    switch (level) {
        case LIBBPF_WARN:
            log::warn("{}", msg);  // libbpf prefixes its own "libbpf: "
            break;
        case LIBBPF_INFO:
            log::debug("{}", msg);
            break;
        case LIBBPF_DEBUG:
            break;  // per-relocation chatter; enable by hand when debugging the loader
    }
    return 0;
}

gw_xdp_addr to_key(const net::IpAddr& a) {
    gw_xdp_addr k{};
    if (const auto* a4 = std::get_if<net::Ip4Addr>(&a)) {
        k.addr[10] = 0xff;
        k.addr[11] = 0xff;
        const uint32_t be = htonl(a4->host);
        std::memcpy(&k.addr[12], &be, 4);
    } else {
        std::memcpy(k.addr, std::get<net::Ip6Addr>(a).bytes.data(), 16);
    }
    return k;
}

gw_xdp_lpm_v4 lpm4(const net::IpPrefix& p) {
    gw_xdp_lpm_v4 k{.prefixlen = p.len, .addr = {}};
    const uint32_t be = htonl(std::get<net::Ip4Addr>(p.addr).host);
    std::memcpy(k.addr, &be, 4);
    return k;
}

gw_xdp_lpm_v6 lpm6(const net::IpPrefix& p) {
    gw_xdp_lpm_v6 k{.prefixlen = p.len, .addr = {}};
    std::memcpy(k.addr, std::get<net::Ip6Addr>(p.addr).bytes.data(), 16);
    return k;
}

net::IpPrefix from_lpm(const gw_xdp_lpm_v4& k) {
    uint32_t be;
    std::memcpy(&be, k.addr, 4);
    return net::IpPrefix{net::Ip4Addr{ntohl(be)}, static_cast<uint8_t>(k.prefixlen)};
}

net::IpPrefix from_lpm(const gw_xdp_lpm_v6& k) {
    net::Ip6Addr a;
    std::memcpy(a.bytes.data(), k.addr, 16);
    return net::IpPrefix{a, static_cast<uint8_t>(k.prefixlen)};
}

Status check_prefix(std::string_view what, const net::IpPrefix& p) {
    if (p.len > p.max_len()) {
        return make_errno_error(-EINVAL, "xdp: {} {}: prefix length {} out of range 0..{}", what, net::to_string(p),
                                p.len, p.max_len());
    }
    if (!p.is_canonical()) {
        return make_errno_error(-EINVAL, "xdp: {} {}: host bits set, did you mean {}?", what, net::to_string(p),
                                net::to_string(p.canonical()));
    }
    return {};
}

std::optional<net::MacAddr> iface_mac(const std::string& ifname) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return std::nullopt;
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    const int rc = ::ioctl(fd, SIOCGIFHWADDR, &ifr);
    ::close(fd);
    if (rc != 0) {
        return std::nullopt;
    }
    net::MacAddr m;
    std::memcpy(m.bytes.data(), ifr.ifr_hwaddr.sa_data, 6);
    return m;
}

// Sum of one per-CPU array slot.
Result<Counter> read_percpu(int map_fd, uint32_t key, std::string_view map_name) {
    const int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) {
        return bpf_error(ncpu, "cannot count possible CPUs");
    }
    std::vector<gw_xdp_counter> values(static_cast<size_t>(ncpu));
    if (bpf_map_lookup_elem(map_fd, &key, values.data()) != 0) {
        return bpf_error(-errno, "cannot read {}[{}]", map_name, key);
    }
    Counter sum;
    for (const auto& v : values) {
        sum.packets += v.packets;
        sum.bytes += v.bytes;
    }
    return sum;
}

Status zero_percpu(int map_fd, uint32_t key) {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<gw_xdp_counter> values(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
    if (bpf_map_update_elem(map_fd, &key, values.data(), BPF_ANY) != 0) {
        return bpf_error(-errno, "cannot reset rule_stats[{}]", key);
    }
    return {};
}

// Walks every key of a map (bpf_map_get_next_key), calling fn(key, value).
template <typename K, typename V, typename Fn>
Status for_each(int fd, std::string_view map_name, Fn&& fn) {
    K key{};
    K next{};
    const K* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        V value{};
        if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
            fn(next, value);
        }
        key = next;
        prev = &key;
    }
    if (errno != ENOENT) {
        return bpf_error(-errno, "cannot walk {}", map_name);
    }
    return {};
}

Result<AttachedProgram> describe_prog(uint32_t id, uint32_t mode_flags) {
    AttachedProgram out{.id = id, .name = {}, .mode_flags = mode_flags};
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
        return bpf_error(-errno, "cannot open attached program id {}", id);
    }
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    const int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
    ::close(fd);
    if (rc != 0) {
        return bpf_error(-errno, "cannot read info of program id {}", id);
    }
    out.name = info.name;
    return out;
}

}  // namespace

std::span<const StatInfo> stat_table() noexcept {
    return kStats;
}

void route_libbpf_log() {
    libbpf_set_print(libbpf_print);
}

XdpGateway::XdpGateway(XdpOptions options, int ifindex)
    : options_(std::move(options)), ifindex_(ifindex), rule_used_(GW_XDP_MAX_RULES, false) {}

XdpGateway::~XdpGateway() {
    if (skel_ != nullptr) {
        xdp_gateway__destroy(skel_);  // closes our fds; an attached program stays attached
    }
}

int XdpGateway::prog_fd() const noexcept {
    return bpf_program__fd(skel_->progs.xdp_gateway);
}
int XdpGateway::xsks_map_fd() const noexcept {
    return bpf_map__fd(skel_->maps.xsks_map);
}
int XdpGateway::tx_ports_fd() const noexcept {
    return bpf_map__fd(skel_->maps.tx_ports);
}

Result<std::unique_ptr<XdpGateway>> XdpGateway::open(const XdpOptions& options) {
    route_libbpf_log();
    const unsigned ifindex = if_nametoindex(options.ifname.c_str());
    if (ifindex == 0) {
        return bpf_error(-errno, "cannot attach to '{}'", options.ifname);
    }
    std::error_code ec;
    if (!std::filesystem::exists(options.kernel_btf, ec)) {
        return make_errno_error(-ENOTSUP,
                                "xdp: kernel has no BTF ({} missing): the gateway's XDP program needs a kernel "
                                "built with CONFIG_DEBUG_INFO_BTF=y",
                                options.kernel_btf.string());
    }
    std::unique_ptr<XdpGateway> gw(new XdpGateway(options, static_cast<int>(ifindex)));
    if (auto st = gw->load(); !st) {
        return std::unexpected(std::move(st.error()));
    }
    return gw;
}

Status XdpGateway::load() {
    skel_ = xdp_gateway__open();
    if (skel_ == nullptr) {
        return bpf_error(-errno, "cannot open the xdp_gateway object");
    }
    const auto dir = pin_dir();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        return make_errno_error(-ec.value(),
                                "xdp: cannot create pin directory '{}': {} (is bpffs mounted at {}? "
                                "see scripts/setup-host.sh)",
                                dir.string(), ec.message(), options_.pin_root.string());
    }
    // Every map except xsks_map (sockets belong to one process) is pinned, and
    // reused when a compatible pin exists: all instances on one interface (gatewayd,
    // gw-xdp, the next gatewayd) share one set of rules and counters. Pinning is set here, not in the ELF,
    // so that DPDK's net_af_xdp loading the same object pins nothing globally.
    bpf_map* pinned[] = {skel_->maps.config,        skel_->maps.block_v4,   skel_->maps.block_v6,
                         skel_->maps.rate_state,    skel_->maps.mgmt_ports, skel_->maps.local_addrs,
                         skel_->maps.bypass_v4,     skel_->maps.bypass_v6,  skel_->maps.tx_ports,
                         skel_->maps.verdict_stats, skel_->maps.rule_stats};
    for (bpf_map* m : pinned) {
        const auto path = dir / bpf_map__name(m);
        if (int rc = bpf_map__set_pin_path(m, path.c_str()); rc != 0) {
            return bpf_error(rc, "cannot set pin path '{}'", path.string());
        }
    }
    // The kernel reports every devmap with BPF_F_RDONLY_PROG, which it sets
    // itself and refuses from user space: match it only to reuse a pin.
    if (std::filesystem::exists(dir / bpf_map__name(skel_->maps.tx_ports), ec)) {
        bpf_map__set_map_flags(skel_->maps.tx_ports, bpf_map__map_flags(skel_->maps.tx_ports) | BPF_F_RDONLY_PROG);
    }
    if (options_.xsks_map_fd >= 0) {
        if (int rc = bpf_map__reuse_fd(skel_->maps.xsks_map, options_.xsks_map_fd); rc != 0) {
            return bpf_error(rc, "cannot reuse the AF_XDP socket map of '{}'", options_.ifname);
        }
    }
    if (int rc = xdp_gateway__load(skel_); rc != 0) {
        return bpf_error(rc,
                         "cannot load the program for '{}' (pins under {} left by an incompatible build? remove "
                         "them; libbpf's messages above name the map)",
                         options_.ifname, dir.string());
    }
    const uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.config), &zero, &config_) != 0) {
        return bpf_error(-errno, "cannot read the config map of '{}'", options_.ifname);
    }
    return scan_rule_ids();
}

// Rule ids in use by pinned rules (a restart keeps them and their counters).
Status XdpGateway::scan_rule_ids() {
    std::fill(rule_used_.begin(), rule_used_.end(), false);
    auto mark = [this](const auto&, const auto& v) {
        if (v.rule_id < rule_used_.size()) {
            rule_used_[v.rule_id] = true;
        }
    };
    // Bypass rules re-add their egress to the devmap (an ifindex may have come back
    // after an interface was recreated).
    const int tx_fd = bpf_map__fd(skel_->maps.tx_ports);
    auto mark_bypass = [&](const auto& k, const gw_xdp_bypass_rule& v) {
        mark(k, v);
        const bpf_devmap_val dev{.ifindex = v.egress_ifindex, .bpf_prog = {}};
        (void)bpf_map_update_elem(tx_fd, &v.egress_ifindex, &dev, BPF_ANY);  // a vanished egress: pass-no-egress
    };
    if (auto st = for_each<gw_xdp_lpm_v4, gw_xdp_block_rule>(bpf_map__fd(skel_->maps.block_v4), "block_v4", mark);
        !st) {
        return st;
    }
    if (auto st = for_each<gw_xdp_lpm_v6, gw_xdp_block_rule>(bpf_map__fd(skel_->maps.block_v6), "block_v6", mark);
        !st) {
        return st;
    }
    if (auto st =
            for_each<gw_xdp_lpm_v4, gw_xdp_bypass_rule>(bpf_map__fd(skel_->maps.bypass_v4), "bypass_v4", mark_bypass);
        !st) {
        return st;
    }
    return for_each<gw_xdp_lpm_v6, gw_xdp_bypass_rule>(bpf_map__fd(skel_->maps.bypass_v6), "bypass_v6", mark_bypass);
}

Result<uint32_t> XdpGateway::alloc_rule_id() {
    for (uint32_t id = 0; id < rule_used_.size(); ++id) {
        if (!rule_used_[id]) {
            if (auto st = zero_percpu(bpf_map__fd(skel_->maps.rule_stats), id); !st) {
                return std::unexpected(std::move(st.error()));
            }
            rule_used_[id] = true;
            return id;
        }
    }
    return make_errno_error(-ENOSPC, "xdp: '{}': all {} rule ids in use", options_.ifname, GW_XDP_MAX_RULES);
}

Result<AttachedProgram> XdpGateway::query(std::string_view ifname) {
    const std::string name(ifname);
    const unsigned ifindex = if_nametoindex(name.c_str());
    if (ifindex == 0) {
        return bpf_error(-errno, "cannot query '{}'", name);
    }
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (int rc = bpf_xdp_query(static_cast<int>(ifindex), 0, &q); rc != 0) {
        return bpf_error(rc, "cannot query the XDP program of '{}'", name);
    }
    if (q.drv_prog_id != 0) {
        return describe_prog(q.drv_prog_id, XDP_FLAGS_DRV_MODE);
    }
    if (q.skb_prog_id != 0) {
        return describe_prog(q.skb_prog_id, XDP_FLAGS_SKB_MODE);
    }
    if (q.hw_prog_id != 0) {
        return describe_prog(q.hw_prog_id, XDP_FLAGS_HW_MODE);
    }
    return AttachedProgram{};
}

Status XdpGateway::clear_stale(const XdpOptions& options) {
    route_libbpf_log();
    auto cur = query(options.ifname);
    if (!cur) {
        return std::unexpected(std::move(cur.error()));
    }
    if (cur->id == 0) {
        return {};
    }
    if (!cur->is_gateway() && !options.replace_foreign) {
        return make_errno_error(-EBUSY,
                                "xdp: cannot attach to '{}': another XDP program '{}' (id {}) is attached; not "
                                "replacing it (detach it, or add 'replace' to the xdp port statement)",
                                options.ifname, cur->name, cur->id);
    }
    log::warn("xdp: '{}': detaching {} program '{}' (id {})", options.ifname,
              cur->is_gateway() ? "a stale gateway" : "the foreign", cur->name, cur->id);
    if (int rc = bpf_xdp_detach(if_nametoindex(options.ifname.c_str()), cur->mode_flags, nullptr); rc != 0) {
        return bpf_error(rc, "cannot detach program id {} from '{}'", cur->id, options.ifname);
    }
    return {};
}

Result<int> XdpGateway::attached_xsks_map(std::string_view ifname) {
    auto cur = query(ifname);
    if (!cur) {
        return std::unexpected(std::move(cur.error()));
    }
    if (cur->id == 0 || !cur->is_gateway()) {
        return make_errno_error(-ENOENT,
                                "xdp: '{}': no gateway program attached (DPDK's net_af_xdp should have "
                                "loaded it from xdp_prog=)",
                                ifname);
    }
    const int prog = bpf_prog_get_fd_by_id(cur->id);
    if (prog < 0) {
        return bpf_error(-errno, "cannot open program id {}", cur->id);
    }
    std::array<uint32_t, 32> map_ids{};
    bpf_prog_info info{};
    info.nr_map_ids = map_ids.size();
    info.map_ids = reinterpret_cast<uint64_t>(map_ids.data());
    uint32_t len = sizeof(info);
    const int rc = bpf_obj_get_info_by_fd(prog, &info, &len);
    ::close(prog);
    if (rc != 0) {
        return bpf_error(-errno, "cannot read the maps of program id {}", cur->id);
    }
    for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, map_ids.size()); ++i) {
        const int fd = bpf_map_get_fd_by_id(map_ids[i]);
        if (fd < 0) {
            continue;
        }
        bpf_map_info mi{};
        uint32_t mlen = sizeof(mi);
        if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && mi.type == BPF_MAP_TYPE_XSKMAP) {
            return fd;  // the program has exactly one XSKMAP
        }
        ::close(fd);
    }
    return make_errno_error(-ENOENT, "xdp: '{}': attached program id {} has no XSKMAP", ifname, cur->id);
}

Status XdpGateway::attach() {
    auto cur = query(options_.ifname);
    if (!cur) {
        return std::unexpected(std::move(cur.error()));
    }
    if (cur->id != 0 && !cur->is_gateway() && !options_.replace_foreign) {
        return make_errno_error(-EBUSY,
                                "xdp: cannot attach to '{}': another XDP program '{}' (id {}) is attached; not "
                                "replacing it (detach it, or add 'replace' to the xdp port statement)",
                                options_.ifname, cur->name, cur->id);
    }
    const int fd = prog_fd();
    auto try_attach = [&](uint32_t mode) -> int {
        if (cur->id != 0 && cur->mode_flags == mode) {
            // Same mode: swap atomically, and only if nobody changed it since the query.
            const int old_fd = bpf_prog_get_fd_by_id(cur->id);
            if (old_fd < 0) {
                return -errno;
            }
            LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = old_fd);
            const int rc = bpf_xdp_attach(ifindex_, fd, mode | XDP_FLAGS_REPLACE, &o);
            ::close(old_fd);
            return rc;
        }
        if (cur->id != 0) {
            // Other mode: the kernel cannot swap across modes; detach the old one first.
            if (int rc = bpf_xdp_detach(ifindex_, cur->mode_flags, nullptr); rc != 0) {
                return rc;
            }
            cur->id = 0;
        }
        return bpf_xdp_attach(ifindex_, fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
    };
    uint32_t mode = options_.mode == XdpMode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    int rc = try_attach(mode);
    if (rc != 0 && mode == XDP_FLAGS_DRV_MODE && rc != -EEXIST && rc != -EBUSY) {
        log::warn("xdp: '{}': native mode failed ({}), falling back to generic (skb) mode: expect lower rates",
                  options_.ifname, errstr(rc));
        mode = XDP_FLAGS_SKB_MODE;
        rc = try_attach(mode);
    }
    if (rc != 0) {
        return bpf_error(rc, "cannot attach to '{}'", options_.ifname);
    }
    attached_flags_ = mode;
    log::info("xdp: attached to '{}' in {} mode (maps pinned in {})", options_.ifname,
              mode == XDP_FLAGS_DRV_MODE ? "native" : "generic", pin_dir().string());
    return {};
}

Status XdpGateway::detach() {
    if (attached_flags_ == 0) {
        return {};
    }
    // DPDK's net_af_xdp detaches whatever is attached when it closes its port,
    // so "nothing attached" is a normal end here, not an error.
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    auto cur = query(options_.ifname);
    if (bpf_obj_get_info_by_fd(prog_fd(), &info, &len) == 0 && cur && cur->id != info.id) {
        attached_flags_ = 0;
        if (cur->id != 0) {
            log::warn("xdp: '{}': program '{}' (id {}) replaced ours; leaving it attached", options_.ifname, cur->name,
                      cur->id);
        }
        return {};
    }
    // XDP_FLAGS_REPLACE with old_prog_fd = ours: removes it only if it is still ours.
    LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = prog_fd());
    const int rc = bpf_xdp_detach(ifindex_, attached_flags_ | XDP_FLAGS_REPLACE, &o);
    attached_flags_ = 0;
    if (rc == -EEXIST) {
        log::warn("xdp: '{}': another program replaced ours; leaving it attached", options_.ifname);
        return {};
    }
    if (rc != 0 && rc != -ENODEV) {
        return bpf_error(rc, "cannot detach from '{}'", options_.ifname);
    }
    return {};
}

Result<uint32_t> XdpGateway::add_block(const net::IpPrefix& src) {
    if (auto st = check_prefix("block", src); !st) {
        return std::unexpected(std::move(st.error()));
    }
    const bool v4 = src.is_v4();
    const int fd = bpf_map__fd(v4 ? skel_->maps.block_v4 : skel_->maps.block_v6);
    gw_xdp_lpm_v4 k4 = v4 ? lpm4(src) : gw_xdp_lpm_v4{};
    gw_xdp_lpm_v6 k6 = v4 ? gw_xdp_lpm_v6{} : lpm6(src);
    const void* key = v4 ? static_cast<const void*>(&k4) : static_cast<const void*>(&k6);
    gw_xdp_block_rule existing{};
    if (bpf_map_lookup_elem(fd, key, &existing) == 0) {
        return existing.rule_id;  // idempotent
    }
    auto id = alloc_rule_id();
    if (!id) {
        return id;
    }
    const gw_xdp_block_rule rule{.rule_id = *id};
    if (bpf_map_update_elem(fd, key, &rule, BPF_NOEXIST) != 0) {
        rule_used_[*id] = false;
        return bpf_error(-errno, "cannot block {} on '{}'", net::to_string(src), options_.ifname);
    }
    return *id;
}

Status XdpGateway::del_block(const net::IpPrefix& src) {
    if (auto st = check_prefix("unblock", src); !st) {
        return st;
    }
    const bool v4 = src.is_v4();
    const int fd = bpf_map__fd(v4 ? skel_->maps.block_v4 : skel_->maps.block_v6);
    gw_xdp_lpm_v4 k4 = v4 ? lpm4(src) : gw_xdp_lpm_v4{};
    gw_xdp_lpm_v6 k6 = v4 ? gw_xdp_lpm_v6{} : lpm6(src);
    const void* key = v4 ? static_cast<const void*>(&k4) : static_cast<const void*>(&k6);
    gw_xdp_block_rule rule{};
    if (bpf_map_lookup_elem(fd, key, &rule) != 0 || bpf_map_delete_elem(fd, key) != 0) {
        return bpf_error(-errno, "cannot unblock {} on '{}'", net::to_string(src), options_.ifname);
    }
    if (rule.rule_id < rule_used_.size()) {
        rule_used_[rule.rule_id] = false;
    }
    return {};
}

Status XdpGateway::write_config() {
    const uint32_t zero = 0;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.config), &zero, &config_, BPF_ANY) != 0) {
        return bpf_error(-errno, "cannot write the config of '{}'", options_.ifname);
    }
    return {};
}

Status XdpGateway::set_rate_limit(uint64_t pps, uint64_t burst) {
    constexpr uint64_t kMaxPps = 100'000'000;
    constexpr uint64_t kMaxBurst = 10'000'000;
    if (pps > kMaxPps || burst > kMaxBurst || (pps != 0 && burst == 0)) {
        return make_errno_error(-EINVAL, "xdp: rate limit {} pps burst {} on '{}': pps must be 0..{} and burst 1..{}",
                                pps, burst, options_.ifname, kMaxPps, kMaxBurst);
    }
    config_.rate_pps = pps;
    config_.rate_burst = pps == 0 ? 0 : burst;
    config_.rate_fill_ns = pps == 0 ? 0 : burst * GW_XDP_NSEC_PER_TOKEN / pps;
    return write_config();
}

Status XdpGateway::set_mgmt_flags(uint32_t flags) {
    if ((flags & ~(GW_XDP_MGMT_ARP | GW_XDP_MGMT_ND | GW_XDP_MGMT_ICMP)) != 0) {
        return make_errno_error(-EINVAL, "xdp: unknown management flags {:#x}", flags);
    }
    config_.mgmt_flags = flags;
    return write_config();
}

Status XdpGateway::add_mgmt_port(L4Proto proto, uint16_t port) {
    const int fd = bpf_map__fd(skel_->maps.mgmt_ports);
    const uint32_t key = port;
    uint32_t bits = 0;
    (void)bpf_map_lookup_elem(fd, &key, &bits);
    bits |= proto == L4Proto::tcp ? GW_XDP_PORT_TCP : GW_XDP_PORT_UDP;
    if (bpf_map_update_elem(fd, &key, &bits, BPF_ANY) != 0) {
        return bpf_error(-errno, "cannot add management port {} on '{}'", port, options_.ifname);
    }
    return {};
}

Status XdpGateway::del_mgmt_port(L4Proto proto, uint16_t port) {
    const int fd = bpf_map__fd(skel_->maps.mgmt_ports);
    const uint32_t key = port;
    uint32_t bits = 0;
    (void)bpf_map_lookup_elem(fd, &key, &bits);
    bits &= ~(proto == L4Proto::tcp ? GW_XDP_PORT_TCP : GW_XDP_PORT_UDP);
    if (bpf_map_update_elem(fd, &key, &bits, BPF_ANY) != 0) {
        return bpf_error(-errno, "cannot remove management port {} on '{}'", port, options_.ifname);
    }
    return {};
}

Status XdpGateway::add_local_address(const net::IpAddr& addr) {
    const int fd = bpf_map__fd(skel_->maps.local_addrs);
    const gw_xdp_addr key = to_key(addr);
    const uint32_t one = 1;
    if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) != 0) {
        return bpf_error(-errno, "cannot add local address {} on '{}'", net::to_string(addr), options_.ifname);
    }
    uint32_t n = 0;
    gw_xdp_addr k{};
    const gw_xdp_addr* prev = nullptr;
    gw_xdp_addr next{};
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        ++n;
        k = next;
        prev = &k;
    }
    config_.n_local_addrs = n;
    return write_config();
}

Result<uint32_t> XdpGateway::add_bypass(const BypassRule& rule) {
    if (auto st = check_prefix("bypass", rule.dst); !st) {
        return std::unexpected(std::move(st.error()));
    }
    const unsigned egress = if_nametoindex(rule.egress_ifname.c_str());
    if (egress == 0) {
        return bpf_error(-errno, "bypass {}: no egress interface '{}'", net::to_string(rule.dst), rule.egress_ifname);
    }
    const auto src_mac = rule.src_mac ? rule.src_mac : iface_mac(rule.egress_ifname);
    if (!src_mac) {
        return bpf_error(-errno, "bypass {}: cannot read the MAC of '{}'", net::to_string(rule.dst),
                         rule.egress_ifname);
    }
    const bpf_devmap_val dev{.ifindex = egress, .bpf_prog = {}};
    const uint32_t dev_key = egress;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tx_ports), &dev_key, &dev, BPF_ANY) != 0) {
        return bpf_error(-errno, "bypass {}: cannot add '{}' to the devmap", net::to_string(rule.dst),
                         rule.egress_ifname);
    }
    const bool v4 = rule.dst.is_v4();
    const int fd = bpf_map__fd(v4 ? skel_->maps.bypass_v4 : skel_->maps.bypass_v6);
    gw_xdp_lpm_v4 k4 = v4 ? lpm4(rule.dst) : gw_xdp_lpm_v4{};
    gw_xdp_lpm_v6 k6 = v4 ? gw_xdp_lpm_v6{} : lpm6(rule.dst);
    const void* key = v4 ? static_cast<const void*>(&k4) : static_cast<const void*>(&k6);
    gw_xdp_bypass_rule value{};
    uint32_t id = 0;
    if (bpf_map_lookup_elem(fd, key, &value) == 0) {
        id = value.rule_id;  // update in place, keep the counters
    } else {
        auto fresh = alloc_rule_id();
        if (!fresh) {
            return fresh;
        }
        id = *fresh;
    }
    value.egress_ifindex = egress;
    value.rule_id = id;
    std::memcpy(value.dst_mac, rule.dst_mac.bytes.data(), 6);
    std::memcpy(value.src_mac, src_mac->bytes.data(), 6);
    if (bpf_map_update_elem(fd, key, &value, BPF_ANY) != 0) {
        return bpf_error(-errno, "cannot add bypass {} on '{}'", net::to_string(rule.dst), options_.ifname);
    }
    return id;
}

Status XdpGateway::del_bypass(const net::IpPrefix& dst) {
    if (auto st = check_prefix("bypass", dst); !st) {
        return st;
    }
    const bool v4 = dst.is_v4();
    const int fd = bpf_map__fd(v4 ? skel_->maps.bypass_v4 : skel_->maps.bypass_v6);
    gw_xdp_lpm_v4 k4 = v4 ? lpm4(dst) : gw_xdp_lpm_v4{};
    gw_xdp_lpm_v6 k6 = v4 ? gw_xdp_lpm_v6{} : lpm6(dst);
    const void* key = v4 ? static_cast<const void*>(&k4) : static_cast<const void*>(&k6);
    gw_xdp_bypass_rule value{};
    if (bpf_map_lookup_elem(fd, key, &value) != 0 || bpf_map_delete_elem(fd, key) != 0) {
        return bpf_error(-errno, "cannot remove bypass {} on '{}'", net::to_string(dst), options_.ifname);
    }
    if (value.rule_id < rule_used_.size()) {
        rule_used_[value.rule_id] = false;
    }
    return {};  // the devmap entry stays: other rules may use the same egress
}

Result<std::array<Counter, GW_XDP_STAT_MAX>> XdpGateway::verdict_counters() const {
    std::array<Counter, GW_XDP_STAT_MAX> out{};
    for (uint32_t i = 0; i < GW_XDP_STAT_MAX; ++i) {
        auto c = read_percpu(bpf_map__fd(skel_->maps.verdict_stats), i, "verdict_stats");
        if (!c) {
            return std::unexpected(std::move(c.error()));
        }
        out[i] = *c;
    }
    return out;
}

Result<std::vector<RuleCounter>> XdpGateway::rule_counters() const {
    std::vector<RuleCounter> rows;
    auto add = [&rows](RuleKind kind, const net::IpPrefix& prefix, uint32_t id) {
        rows.push_back(RuleCounter{.kind = kind, .rule_id = id, .prefix = prefix, .counter = {}});
    };
    Status st = for_each<gw_xdp_lpm_v4, gw_xdp_block_rule>(
        bpf_map__fd(skel_->maps.block_v4), "block_v4",
        [&](const gw_xdp_lpm_v4& k, const gw_xdp_block_rule& v) { add(RuleKind::block, from_lpm(k), v.rule_id); });
    if (st) {
        st = for_each<gw_xdp_lpm_v6, gw_xdp_block_rule>(
            bpf_map__fd(skel_->maps.block_v6), "block_v6",
            [&](const gw_xdp_lpm_v6& k, const gw_xdp_block_rule& v) { add(RuleKind::block, from_lpm(k), v.rule_id); });
    }
    if (st) {
        st = for_each<gw_xdp_lpm_v4, gw_xdp_bypass_rule>(bpf_map__fd(skel_->maps.bypass_v4), "bypass_v4",
                                                         [&](const gw_xdp_lpm_v4& k, const gw_xdp_bypass_rule& v) {
                                                             add(RuleKind::bypass, from_lpm(k), v.rule_id);
                                                         });
    }
    if (st) {
        st = for_each<gw_xdp_lpm_v6, gw_xdp_bypass_rule>(bpf_map__fd(skel_->maps.bypass_v6), "bypass_v6",
                                                         [&](const gw_xdp_lpm_v6& k, const gw_xdp_bypass_rule& v) {
                                                             add(RuleKind::bypass, from_lpm(k), v.rule_id);
                                                         });
    }
    if (!st) {
        return std::unexpected(std::move(st.error()));
    }
    for (auto& r : rows) {
        auto c = read_percpu(bpf_map__fd(skel_->maps.rule_stats), r.rule_id, "rule_stats");
        if (!c) {
            return std::unexpected(std::move(c.error()));
        }
        r.counter = *c;
    }
    return rows;
}

}  // namespace gw::bpf
