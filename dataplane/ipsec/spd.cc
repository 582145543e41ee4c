#include "dataplane/ipsec/spd.h"

#include <algorithm>
#include <cstring>

namespace gw::dp::ipsec {
namespace {

void set_prefix(const net::IpPrefix& p, std::array<uint64_t, 2>& addr, std::array<uint64_t, 2>& mask) {
    if (const auto* a4 = std::get_if<net::Ip4Addr>(&p.addr)) {
        const uint64_t m = p.len == 0 ? 0 : (~uint32_t{0} << (32 - p.len)) & 0xffffffffu;
        mask = {m, 0};
        addr = {a4->host & m, 0};
        return;
    }
    const auto& b = std::get<net::Ip6Addr>(p.addr).bytes;
    std::array<uint8_t, 16> mb{};
    for (unsigned i = 0; i < 16; ++i) {
        const int bits = static_cast<int>(p.len) - static_cast<int>(i * 8);
        mb[i] = bits >= 8 ? 0xff : bits > 0 ? static_cast<uint8_t>(0xff << (8 - bits)) : 0;
    }
    std::memcpy(mask.data(), mb.data(), 16);
    std::memcpy(addr.data(), b.data(), 16);
    addr[0] &= mask[0];
    addr[1] &= mask[1];
}

}  // namespace

Spd::Spd(std::vector<PolicyRule> rules) : rules_(std::move(rules)) {
    std::ranges::stable_sort(rules_, {}, &PolicyRule::priority);
}

Selector make_selector(const cp::PolicyConfig& policy) {
    Selector s;
    s.v6 = !policy.src.is_v4();
    s.has_proto = policy.proto.has_value();
    s.proto = policy.proto.value_or(0);
    s.sport_lo = policy.sport.lo;
    s.sport_hi = policy.sport.hi;
    s.dport_lo = policy.dport.lo;
    s.dport_hi = policy.dport.hi;
    set_prefix(policy.src, s.src, s.src_mask);
    set_prefix(policy.dst, s.dst, s.dst_mask);
    return s;
}

}  // namespace gw::dp::ipsec
