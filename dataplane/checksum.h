#pragma once
// Internet checksum helpers (RFC 1071 / RFC 1624) used on the packet path.

#include <cstdint>

#include <rte_byteorder.h>

namespace gw::dp {

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), all in network byte order words.
[[nodiscard]] inline uint16_t csum_replace16(uint16_t check_be, uint16_t old_be, uint16_t new_be) noexcept {
    uint32_t sum = static_cast<uint16_t>(~rte_be_to_cpu_16(check_be));
    sum += static_cast<uint16_t>(~rte_be_to_cpu_16(old_be));
    sum += rte_be_to_cpu_16(new_be);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return rte_cpu_to_be_16(static_cast<uint16_t>(~sum));
}

}  // namespace gw::dp
