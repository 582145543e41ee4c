#include "dataplane/port.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "common/log.h"

namespace gw::dp {

bool is_pci_address(std::string_view name) noexcept {
    // [dddd:]bb:dd.f with hex digits.
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    auto match = [&](std::string_view s, std::string_view shape) {
        if (s.size() != shape.size()) {
            return false;
        }
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (shape[i] == 'x' ? !hex(s[i]) : s[i] != shape[i]) {
                return false;
            }
        }
        return true;
    };
    return match(name, "xx:xx.x") || match(name, "xxxx:xx:xx.x");
}

std::string device_name(std::string_view devargs) {
    std::string name(devargs.substr(0, devargs.find(',')));
    if (is_pci_address(name) && name.size() == 7) {
        name = "0000:" + name;
    }
    return name;
}

Result<uint16_t> probe_port(std::string_view devargs) {
    const std::string name = device_name(devargs);
    uint16_t port_id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) == 0) {
        return port_id;
    }
    if (is_pci_address(name)) {
        return make_error("port device '{}': not found by EAL (is it bound to vfio-pci and on the allow-list?)", name);
    }
    const std::string args(devargs);
    const int rc = rte_dev_probe(args.c_str());
    if (rc < 0) {
        return make_errno_error(rc, "port device '{}': probe failed: {}", args, rte_strerror(-rc));
    }
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
        return make_error("port device '{}': probed, but no ethdev named '{}' appeared", args, name);
    }
    return port_id;
}

namespace {

// configure_port's steps after rte_eth_dev_configure: queues, MAC, start, promiscuous mode.
Status setup_and_start(uint16_t port_id, const cp::PortConfig& config, const PortQueues& q, rte_mempool* pool) {
    uint16_t rx_desc = config.rx_desc;
    uint16_t tx_desc = config.tx_desc;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc); rc != 0) {
        return make_errno_error(rc, "port '{}': descriptor counts rejected: {}", config.name, rte_strerror(-rc));
    }
    const int socket = rte_eth_dev_socket_id(port_id);
    for (uint16_t i = 0; i < q.rx; ++i) {
        if (int rc = rte_eth_rx_queue_setup(port_id, i, rx_desc, socket, nullptr, pool); rc != 0) {
            return make_errno_error(rc, "port '{}': rx queue {} setup failed: {}", config.name, i, rte_strerror(-rc));
        }
    }
    for (uint16_t i = 0; i < q.tx; ++i) {
        if (int rc = rte_eth_tx_queue_setup(port_id, i, tx_desc, socket, nullptr); rc != 0) {
            return make_errno_error(rc, "port '{}': tx queue {} setup failed: {}", config.name, i, rte_strerror(-rc));
        }
    }
    if (config.mac) {
        rte_ether_addr mac;
        std::memcpy(mac.addr_bytes, config.mac->bytes.data(), RTE_ETHER_ADDR_LEN);
        if (int rc = rte_eth_dev_default_mac_addr_set(port_id, &mac); rc != 0) {
            return make_errno_error(rc, "port '{}': cannot set MAC: {}", config.name, rte_strerror(-rc));
        }
    }
    if (int rc = rte_eth_dev_start(port_id); rc != 0) {
        return make_errno_error(rc, "port '{}': start failed: {}", config.name, rte_strerror(-rc));
    }
    if (config.promiscuous) {
        if (int rc = rte_eth_promiscuous_enable(port_id); rc != 0 && rc != -ENOTSUP) {
            log::warn("port '{}': cannot enable promiscuous mode: {}", config.name, rte_strerror(-rc));
        }
    }
    return {};
}

}  // namespace

Result<PortQueues> configure_port(uint16_t port_id, const cp::PortConfig& config, uint16_t tx_wanted,
                                  rte_mempool* pool) {
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
        return make_errno_error(rc, "port '{}': cannot read device info: {}", config.name, rte_strerror(-rc));
    }
    if (config.rx_queues > info.max_rx_queues) {
        return make_error("port '{}': rxq {} exceeds the device's {} rx queues ({})", config.name, config.rx_queues,
                          info.max_rx_queues, info.driver_name);
    }
    PortQueues q{.rx = config.rx_queues, .tx = std::min<uint16_t>(tx_wanted, info.max_tx_queues)};
    if (q.tx == 0) {
        return make_error("port '{}': device has no tx queue ({})", config.name, info.driver_name);
    }

    rte_eth_conf conf{};
    conf.rxmode.mtu = config.mtu;
    if (config.rx_queues > 1) {
        const uint64_t wanted = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
        const uint64_t hf = wanted & info.flow_type_rss_offloads;
        if (hf == 0) {
            log::warn("port '{}': {} has no RSS; {} rx queues will not share load by flow", config.name,
                      info.driver_name, config.rx_queues);
        } else {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = hf;
        }
    }
    if (int rc = rte_eth_dev_configure(port_id, q.rx, q.tx, &conf); rc != 0) {
        return make_errno_error(rc, "port '{}': configure {} rx / {} tx queues, mtu {} failed: {}", config.name, q.rx,
                                q.tx, config.mtu, rte_strerror(-rc));
    }
    if (auto st = setup_and_start(port_id, config, q, pool); !st) {
        // Queues set up so far may hold mbufs of `pool`, which the caller frees on this
        // error: close the port so that none of them outlives it.
        rte_eth_dev_close(port_id);
        return std::unexpected(st.error());
    }
    return q;
}

rte_ether_addr port_mac(uint16_t port_id) {
    rte_ether_addr mac{};
    rte_eth_macaddr_get(port_id, &mac);
    return mac;
}

void stop_port(uint16_t port_id, std::string_view name) {
    if (int rc = rte_eth_dev_stop(port_id); rc != 0) {
        log::warn("port '{}': stop failed: {}", name, rte_strerror(-rc));
    }
    if (int rc = rte_eth_dev_close(port_id); rc != 0) {
        log::warn("port '{}': close failed: {}", name, rte_strerror(-rc));
    }
}

}  // namespace gw::dp
