#pragma once
// Security policy database for one direction (RFC 4301 4.4.1): ordered
// rules over (src prefix, dst prefix, protocol, port ranges), first match by
// priority wins. Immutable once built; a change builds a new one.
//
// Rules are evaluated in priority order over a flat array: a handful of
// site-to-site policies fit in a few cache lines. A large policy set would
// move to rte_acl behind the same lookup() contract.

#include <array>
#include <cstdint>
#include <vector>

#include "controlplane/config.h"

namespace gw::dp::ipsec {

struct Sa;

struct Selector {
    bool v6 = false;
    uint8_t proto = 0;  // meaningful when has_proto
    bool has_proto = false;
    uint16_t sport_lo = 0, sport_hi = 65535;
    uint16_t dport_lo = 0, dport_hi = 65535;
    // IPv4: address and mask in host order in word [0]; IPv6: two 64-bit
    // halves in network order, with masks.
    std::array<uint64_t, 2> src{}, src_mask{}, dst{}, dst_mask{};
};

struct PolicyRule {
    Selector sel;
    uint32_t priority = 0;
    cp::PolicyAction action = cp::PolicyAction::bypass;
    Sa* sa = nullptr;  // action == protect
};

// The fields of a packet a policy matches on.
struct FlowKey {
    bool v6 = false;
    uint8_t proto = 0;
    uint16_t sport = 0;
    uint16_t dport = 0;
    std::array<uint64_t, 2> src{}, dst{};
};

class Spd {
public:
    Spd() = default;
    // Rules are sorted by priority here.
    explicit Spd(std::vector<PolicyRule> rules);

    [[nodiscard]] bool empty() const noexcept { return rules_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return rules_.size(); }
    [[nodiscard]] const std::vector<PolicyRule>& rules() const noexcept { return rules_; }

    // First matching rule, or nullptr.
    [[nodiscard]] const PolicyRule* lookup(const FlowKey& k) const noexcept {
        for (const auto& r : rules_) {
            const auto& s = r.sel;
            if (s.v6 != k.v6 || (s.has_proto && s.proto != k.proto)) {
                continue;
            }
            if (((k.src[0] & s.src_mask[0]) != s.src[0]) || ((k.src[1] & s.src_mask[1]) != s.src[1]) ||
                ((k.dst[0] & s.dst_mask[0]) != s.dst[0]) || ((k.dst[1] & s.dst_mask[1]) != s.dst[1])) {
                continue;
            }
            if (k.sport < s.sport_lo || k.sport > s.sport_hi || k.dport < s.dport_lo || k.dport > s.dport_hi) {
                continue;
            }
            return &r;
        }
        return nullptr;
    }

private:
    std::vector<PolicyRule> rules_;
};

// The selector for a configured policy.
[[nodiscard]] Selector make_selector(const cp::PolicyConfig& policy);

}  // namespace gw::dp::ipsec
