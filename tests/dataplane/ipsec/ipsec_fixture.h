#pragma once
// IPsec on the ring-port data plane (dataplane_fixture.h's standard topology):
// a peer's side of ESP written in the test (RFC 4303 framing and RFC 4106
// nonce/AAD built here, independently of esp.cc; the AES-GCM primitive is the
// engine that gcm_engine_test.cc holds to the GCM spec's known answers), and
// a fixture that swaps IPsec configurations into the running data plane.
//
// Tunnel endpoints in these tests: the gateway's WAN address (192.0.2.1,
// 2001:db8:b::1) and server S (192.0.2.10, 2001:db8:b::10, static neighbor on
// the WAN port), which plays the peer gateway.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "controlplane/config.h"
#include "dataplane/ipsec/ipsec.h"
#include "tests/dataplane/dataplane_fixture.h"

namespace gw::test {

inline constexpr uint8_t kProtoEsp = 50;
inline constexpr uint8_t kNextIpv4 = 4;
inline constexpr uint8_t kNextIpv6 = 41;
inline constexpr uint8_t kNextNone = 59;
inline constexpr std::size_t kEspHdrLen = 8;
inline constexpr std::size_t kEspIvLen = 8;
inline constexpr std::size_t kIcvLen = 16;

// AES key followed by the 4-byte salt, as the config's `key` takes them.
inline constexpr std::string_view kKey128 = "000102030405060708090a0b0c0d0e0fa0a1a2a3";
inline constexpr std::string_view kKey128b = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeffc0c1c2c3";
inline constexpr std::string_view kKey256 = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2fb0b1b2b3";

[[nodiscard]] Bytes unhex(std::string_view s);

// The standard topology's ports and addresses (so that 'tunnel <local>'
// validates) followed by `statements`, parsed. IpsecManager::apply reads only
// the SAs and policies of what it is given.
[[nodiscard]] cp::Config ipsec_config(std::string_view statements);

// The peer's view of one SA.
struct PeerSa {
    uint32_t spi = 0;
    std::string_view key_salt;  // hex, as in the config
    bool esn = false;
};

// The plaintext of an ESP payload: inner packet, padding, pad length, next
// header (RFC 4303 2.4-2.6). Defaults are what a correct sender writes.
struct EspPlain {
    Bytes inner;
    uint8_t next_header = kNextIpv4;
    std::optional<Bytes> padding{};    // default 1, 2, 3, ... up to 4-byte alignment
    std::optional<uint8_t> pad_len{};  // default padding's size
};

[[nodiscard]] Bytes esp_plaintext(const EspPlain& p);

// SPI || seq || IV || ciphertext || ICV for `seq` (64-bit; the low half is on
// the wire, the high half only in the AAD with ESN). IV defaults to seq.
[[nodiscard]] Bytes seal(const PeerSa& sa, uint64_t seq, const EspPlain& p,
                         std::optional<std::array<uint8_t, 8>> iv = std::nullopt);

// Decrypts SPI..ICV as the peer would; nothing when the ICV does not verify.
[[nodiscard]] std::optional<Bytes> open(const PeerSa& sa, uint64_t seq, std::span<const uint8_t> esp);

// IPv4 (proto 50, DF clear, TTL 64) or IPv6 (next header 50) around `esp`.
[[nodiscard]] Bytes outer4(uint32_t src, uint32_t dst, std::span<const uint8_t> esp);
[[nodiscard]] Bytes outer6(const Ip6& src, const Ip6& dst, std::span<const uint8_t> esp);

// A frame from server S to the gateway's WAN port carrying `esp`, outer
// addresses S -> gateway.
[[nodiscard]] Bytes esp_from_peer(std::span<const uint8_t> esp, bool outer_v6);
// A frame from host H to the gateway's LAN port.
[[nodiscard]] Bytes from_lan(std::span<const uint8_t> l3);

// An ESP frame the gateway sent, taken apart.
struct EspFrame {
    bool v6 = false;
    std::size_t outer_len = 0;  // outer IP header bytes
    Bytes outer;                // the outer IP header
    Bytes esp;                  // SPI .. ICV
    uint32_t spi = 0;
    uint32_t seq = 0;  // low 32 bits, as on the wire
};
// Fails the test (and returns nothing) unless `frame` is Ethernet + IPv4/IPv6 + ESP.
[[nodiscard]] std::optional<EspFrame> parse_esp(std::span<const uint8_t> frame);

// The same ESP frame as the peer gateway would receive it, addressed back to
// this gateway: outer source and destination swapped (IPv4 checksum
// redone), Ethernet from S to the WAN port. One process can hold one
// Dataplane (its pool and punt ring have fixed names), so tests play both
// gateways on one data plane by swapping IPsec configurations between the
// two halves of the trip.
[[nodiscard]] Bytes mirror(std::span<const uint8_t> frame);

// UDP from host H (10.0.0.2 / 2001:db8:a::2) to host D (172.16.0.10 /
// 2001:db8:c::10): `total` bytes of IP packet.
[[nodiscard]] Bytes udp_h_to_d(bool v6, std::size_t total, bool df = false, uint8_t seed = 0);
// The reverse direction, D -> H.
[[nodiscard]] Bytes udp_d_to_h(bool v6, std::size_t total, uint8_t seed = 0);

// `sent` is `original` forwarded `hops` times: TTL / hop limit lower by
// `hops`, IPv4 checksum valid, nothing else changed.
void expect_forwarded_l3(std::span<const uint8_t> sent, std::span<const uint8_t> original, unsigned hops);

class IpsecTest : public DataplaneTest {
protected:
    [[nodiscard]] dp::ipsec::IpsecManager& manager() { return dataplane().ipsec(); }
    // The published snapshot (fails the test when there is none).
    [[nodiscard]] const dp::ipsec::IpsecState& state();
    // An SA of the running snapshot, by name.
    [[nodiscard]] dp::ipsec::Sa& sa(std::string_view name);
    // Makes `statements` the IPsec configuration; fails the test on error.
    void apply(std::string_view statements);
    // Next outbound frame on the WAN port (worker queue), parsed as ESP.
    [[nodiscard]] std::optional<EspFrame> one_esp_on_wan();
};

}  // namespace gw::test
