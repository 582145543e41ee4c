#pragma once
// Internet checksum helpers (RFC 1071 / RFC 1624) used on the packet path.

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>

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

// True when the IPv4 header of `len` bytes (a multiple of 4, >= 20) sums to
// 0xffff. Sums 32-bit words into 64 bits: a few adds instead of
// rte_raw_cksum's 16-bit loop.
[[nodiscard]] inline bool ip4_header_checksum_ok(const void* hdr, unsigned len) noexcept {
    const auto* p = static_cast<const uint8_t*>(hdr);
    uint64_t sum = 0;
    for (unsigned i = 0; i < len; i += 4) {
        uint32_t w;
        std::memcpy(&w, p + i, sizeof w);
        sum += w;
    }
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

// Decrements the TTL of the IPv4 header at `ttl_field` (TTL, protocol word)
// and patches the header checksum, computing the new word in a register:
// storing the byte and reloading the word would stall store forwarding.
inline void ip4_decrement_ttl(rte_ipv4_hdr* ip) noexcept {
    uint16_t old_word;
    std::memcpy(&old_word, &ip->time_to_live, sizeof old_word);
    const uint16_t new_word = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(old_word) - 0x0100));
    std::memcpy(&ip->time_to_live, &new_word, sizeof new_word);
    ip->hdr_checksum = csum_replace16(ip->hdr_checksum, old_word, new_word);
}

// Undoes ip4_decrement_ttl (a policy that let the packet pass unprotected).
inline void ip4_increment_ttl(rte_ipv4_hdr* ip) noexcept {
    uint16_t old_word;
    std::memcpy(&old_word, &ip->time_to_live, sizeof old_word);
    const uint16_t new_word = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(old_word) + 0x0100));
    std::memcpy(&ip->time_to_live, &new_word, sizeof new_word);
    ip->hdr_checksum = csum_replace16(ip->hdr_checksum, old_word, new_word);
}

}  // namespace gw::dp
