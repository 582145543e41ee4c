#include "dataplane/ipsec/ipsec.h"

#include <cstring>
#include <string>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>

#include "common/log.h"

namespace gw::dp::ipsec {
namespace {
std::atomic<uint32_t> g_sad_serial{0};

// Whose running state an SA continues. Outbound: the key's, whatever the SPI,
// since the GCM nonce (salt || sequence number) depends on the key alone.
// Inbound: the (SPI, key) pair's, the peer's sequence space.
bool same_key(const cp::SaConfig& a, const cp::SaConfig& b) {
    return a.direction == b.direction && a.key == b.key && (a.direction == cp::IpsecDirection::out || a.spi == b.spi);
}
}  // namespace

Result<std::unique_ptr<Sa>> make_sa(const cp::SaConfig& c, const GcmEngine& engine, uint64_t now_tsc,
                                    std::shared_ptr<SaState> state) {
    if (c.key.size() != 16 + 4 && c.key.size() != 32 + 4) {
        return make_error(
            "ipsec sa '{}': key material of {} bytes (want 20 bytes for aes-gcm-128 or 36 for "
            "aes-gcm-256: key + 4-byte salt)",
            c.name, c.key.size());
    }
    if (c.local.index() != c.remote.index()) {
        return make_error("ipsec sa '{}': tunnel endpoints of different families", c.name);
    }
    if (c.replay_window > ReplayWindow::kMaxSize) {
        return make_error("ipsec sa '{}': replay window {} above {}", c.name, c.replay_window, ReplayWindow::kMaxSize);
    }
    const bool fresh = state == nullptr;
    if (fresh) {
        state = std::make_shared<SaState>();
    }
    auto sa = std::make_unique<Sa>(std::move(state));
    sa->name = c.name;
    sa->spi = c.spi;
    sa->outbound = c.direction == cp::IpsecDirection::out;
    sa->esn = c.esn;
    sa->outer_v6 = !net::is_v4(c.local);
    if (sa->outer_v6) {
        sa->local6 = std::get<net::Ip6Addr>(c.local).bytes;
        sa->remote6 = std::get<net::Ip6Addr>(c.remote).bytes;
    } else {
        sa->local4_host = std::get<net::Ip4Addr>(c.local).host;
        sa->remote4_host = std::get<net::Ip4Addr>(c.remote).host;
    }
    const std::size_t key_len = c.key.size() - 4;
    std::memcpy(sa->salt.data(), c.key.data() + key_len, 4);
    if (auto st = engine.expand_key(std::span(c.key.data(), key_len), sa->key); !st) {
        return make_error("ipsec sa '{}': {}", c.name, st.error().message);
    }
    sa->soft_bytes = c.soft_bytes;
    sa->hard_bytes = c.hard_bytes;
    sa->soft_packets = c.soft_packets;
    sa->hard_packets = c.hard_packets;
    sa->soft_seconds = c.soft_seconds;
    sa->hard_seconds = c.hard_seconds;
    sa->created_tsc = now_tsc;
    if (fresh) {
        sa->replay = ReplayWindow(c.replay_window);
    } else {
        // Workers may still use the SA this one replaces: resize under its lock.
        rte_spinlock_lock(&sa->replay_lock);
        sa->replay.resize(c.replay_window);
        rte_spinlock_unlock(&sa->replay_lock);
    }
    return sa;
}

IpsecState::~IpsecState() {
    rte_hash_free(sad_in);
}

Sa* IpsecState::lookup_in(uint32_t spi) const noexcept {
    if (sad_in == nullptr) {
        return nullptr;
    }
    const int32_t pos = rte_hash_lookup(sad_in, &spi);
    return pos >= 0 ? sas_in[static_cast<std::size_t>(pos)] : nullptr;
}

IpsecManager::IpsecManager(std::atomic<const IpsecState*>& slot, rte_rcu_qsbr* qs) noexcept : slot_(slot), qs_(qs) {}

IpsecManager::~IpsecManager() {
    slot_.store(nullptr, std::memory_order_release);
}

Status IpsecManager::apply(const cp::Config& config, uint64_t now_tsc) {
    if (!keyer_) {
        auto engine = GcmEngine::create();
        if (!engine) {
            return std::unexpected(engine.error());
        }
        keyer_ = std::move(*engine);
    }
    // An SA whose configuration is unchanged is kept as it is. One whose key
    // is known (running, or retired earlier) is rebuilt around that key's
    // running state: a GCM nonce is never reused and replays stay refused.
    // Nothing is moved out of entries_ until every step that can fail has
    // succeeded.
    for (const auto& p : config.policies) {
        if (p.action == cp::PolicyAction::protect && p.sa >= config.sas.size()) {
            return make_error("ipsec policy (line {}): names SA #{} of {}", p.line, p.sa, config.sas.size());
        }
    }
    std::vector<Sa*> chosen;                  // config order
    std::vector<std::ptrdiff_t> reused_from;  // index in entries_, or -1
    std::vector<std::unique_ptr<Sa>> fresh;   // parallel to config.sas (null when reused)
    for (const auto& c : config.sas) {
        std::ptrdiff_t found = -1;
        std::shared_ptr<SaState> state;
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            auto a = entries_[i].config;
            auto b = c;
            a.line = b.line = 0;
            if (a == b) {
                found = static_cast<std::ptrdiff_t>(i);
                break;
            }
            if (same_key(a, b)) {
                state = entries_[i].sa->state();
            }
        }
        reused_from.push_back(found);
        if (found >= 0) {
            chosen.push_back(entries_[static_cast<std::size_t>(found)].sa.get());
            fresh.emplace_back();
            continue;
        }
        if (!state) {
            for (const auto& r : retired_) {
                if (r.direction == c.direction && r.key == c.key &&
                    (r.direction == cp::IpsecDirection::out || r.spi == c.spi)) {
                    state = r.state;
                }
            }
        }
        auto sa = make_sa(c, *keyer_, now_tsc, std::move(state));
        if (!sa) {
            return std::unexpected(sa.error());
        }
        chosen.push_back(sa->get());
        fresh.push_back(std::move(*sa));
    }

    auto state = std::make_unique<IpsecState>();
    std::vector<PolicyRule> out;
    std::vector<PolicyRule> in;
    for (const auto& p : config.policies) {
        PolicyRule r{.sel = make_selector(p), .priority = p.priority, .action = p.action};
        if (p.action == cp::PolicyAction::protect) {
            r.sa = chosen[p.sa];
        }
        (p.direction == cp::IpsecDirection::out ? out : in).push_back(r);
    }
    state->out = Spd(std::move(out));
    state->in = Spd(std::move(in));
    for (Sa* sa : chosen) {
        state->sas.push_back(sa);
        if (!sa->outbound) {
            state->sas_in.push_back(sa);
        }
    }
    if (!state->sas_in.empty()) {
        const std::string name = "gw_sad_" + std::to_string(g_sad_serial.fetch_add(1, std::memory_order_relaxed));
        rte_hash_parameters params{};
        params.name = name.c_str();
        params.entries = std::max<uint32_t>(64, static_cast<uint32_t>(state->sas_in.size() * 2));
        params.key_len = sizeof(uint32_t);
        params.hash_func = rte_hash_crc;
        params.socket_id = SOCKET_ID_ANY;
        state->sad_in = rte_hash_create(&params);
        if (state->sad_in == nullptr) {
            return make_errno_error(-rte_errno, "ipsec: cannot create the inbound SAD: {}", rte_strerror(rte_errno));
        }
        // Positions must index sas_in: add in order and remap.
        std::vector<Sa*> by_pos(static_cast<std::size_t>(rte_hash_max_key_id(state->sad_in)) + 1, nullptr);
        for (Sa* sa : state->sas_in) {
            const int32_t pos = rte_hash_add_key(state->sad_in, &sa->spi);
            if (pos < 0) {
                return make_errno_error(pos, "ipsec: cannot add spi {:#x} to the SAD", sa->spi);
            }
            by_pos[static_cast<std::size_t>(pos)] = sa;
        }
        state->sas_in = std::move(by_pos);
    }

    // Publish, wait until no worker can still hold the old snapshot, free it
    // and the SAs nobody references any more.
    slot_.store(state.get(), std::memory_order_release);
    if (qs_ != nullptr) {
        rte_rcu_qsbr_synchronize(qs_, RTE_QSBR_THRID_INVALID);
    }
    current_ = std::move(state);
    std::vector<Entry> next;
    for (std::size_t i = 0; i < config.sas.size(); ++i) {
        if (reused_from[i] >= 0) {
            auto& old = entries_[static_cast<std::size_t>(reused_from[i])];
            next.push_back(Entry{.config = config.sas[i], .sa = std::move(old.sa), .soft_logged = old.soft_logged});
        } else {
            next.push_back(Entry{.config = config.sas[i], .sa = std::move(fresh[i])});
        }
    }
    // Keys that left the configuration keep their state, so that re-adding
    // one resumes its sequence numbers instead of reusing them.
    for (auto& e : entries_) {
        if (e.sa) {
            retired_.push_back(Retired{
                .direction = e.config.direction, .spi = e.config.spi, .key = e.config.key, .state = e.sa->state()});
        }
    }
    std::erase_if(retired_, [&](const Retired& r) {
        return std::ranges::any_of(next, [&](const Entry& e) {
            return e.config.direction == r.direction && e.config.key == r.key &&
                   (r.direction == cp::IpsecDirection::out || e.config.spi == r.spi);
        });
    });
    if (retired_.size() > kMaxRetired) {
        retired_.erase(retired_.begin(), retired_.begin() + static_cast<std::ptrdiff_t>(retired_.size() - kMaxRetired));
    }
    entries_ = std::move(next);  // SAs left behind are freed here, after the grace period
    log::info("ipsec: {} SAs, {} outbound and {} inbound policies", entries_.size(), current_->out.size(),
              current_->in.size());
    return {};
}

void IpsecManager::tick(uint64_t now_tsc) noexcept {
    const uint64_t hz = rte_get_tsc_hz();
    for (auto& e : entries_) {
        Sa& sa = *e.sa;
        const uint64_t age_s = (now_tsc - sa.created_tsc) / hz;
        if (sa.hard_seconds != 0 && age_s >= sa.hard_seconds && !sa.dead.load(std::memory_order_relaxed)) {
            sa.dead.store(true, std::memory_order_relaxed);
            log::warn("ipsec sa '{}' (spi {:#x}): hard lifetime reached, SA stopped", sa.name, sa.spi);
        }
        if (sa.soft_seconds != 0 && age_s >= sa.soft_seconds) {
            sa.soft_expired.store(true, std::memory_order_relaxed);
        }
        if (sa.soft_expired.load(std::memory_order_relaxed) && !e.soft_logged) {
            e.soft_logged = true;
            log::warn("ipsec sa '{}' (spi {:#x}): soft lifetime reached, rekey due", sa.name, sa.spi);
        }
    }
}

}  // namespace gw::dp::ipsec
