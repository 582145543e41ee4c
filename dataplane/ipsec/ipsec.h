#pragma once
// IPsec state as workers see it (an immutable snapshot: SPDs and the inbound
// SAD) and the control thread's manager that builds, publishes and retires
// snapshots. Publication is an atomic pointer store; the old snapshot and any
// SA no longer referenced are freed only after every worker has passed a
// quiescent state (rte_rcu_qsbr), so a runtime change loses no packet of the
// SAs it keeps — those keep their sequence counters and replay windows.

#include <atomic>
#include <memory>
#include <vector>

#include "common/error.h"
#include "controlplane/config.h"
#include "dataplane/ipsec/sa.h"
#include "dataplane/ipsec/spd.h"

struct rte_hash;
struct rte_rcu_qsbr;

namespace gw::dp::ipsec {

struct IpsecState {
    Spd out;
    Spd in;
    rte_hash* sad_in = nullptr;  // inbound SPI -> index into sas_in
    std::vector<Sa*> sas_in;
    std::vector<Sa*> sas;  // every SA, config order

    ~IpsecState();
    [[nodiscard]] Sa* lookup_in(uint32_t spi) const noexcept;
};

class IpsecManager {
public:
    // `slot` is what workers read; `qs` their quiescent-state variable
    // (may be nullptr when no worker runs, e.g. in tests).
    IpsecManager(std::atomic<const IpsecState*>& slot, rte_rcu_qsbr* qs) noexcept;
    ~IpsecManager();
    IpsecManager(const IpsecManager&) = delete;
    IpsecManager& operator=(const IpsecManager&) = delete;

    // Makes `config`'s SAs and policies the running state. SAs whose config
    // is unchanged keep their state. On error nothing changes.
    [[nodiscard]] Status apply(const cp::Config& config, uint64_t now_tsc);

    // Control thread, periodically: time-based lifetimes, soft-limit notices.
    void tick(uint64_t now_tsc) noexcept;

    [[nodiscard]] const IpsecState* current() const noexcept { return current_.get(); }

private:
    struct Entry {
        cp::SaConfig config;
        std::unique_ptr<Sa> sa;
        bool soft_logged = false;
    };

    std::atomic<const IpsecState*>& slot_;
    rte_rcu_qsbr* qs_;
    std::unique_ptr<GcmEngine> keyer_;  // key expansion on the control thread
    struct Retired {
        cp::IpsecDirection direction;
        uint32_t spi;
        std::vector<uint8_t> key;
        std::shared_ptr<SaState> state;
    };
    static constexpr std::size_t kMaxRetired = 1024;

    std::vector<Entry> entries_;
    std::vector<Retired> retired_;  // oldest first
    std::unique_ptr<IpsecState> current_;
};

}  // namespace gw::dp::ipsec
