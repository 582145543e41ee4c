#include "dataplane/fragment.h"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

namespace gw::dp {
namespace {
constexpr uint16_t kEthLen = sizeof(rte_ether_hdr);
}  // namespace

uint16_t ip4_fragment(rte_mbuf* m, uint16_t mtu, rte_mbuf** out, uint16_t max_out) noexcept {
    rte_pktmbuf_adj(m, kEthLen);  // the library wants the IP header first
    // Direct mbufs carry each fragment's header, indirect ones point into m.
    const int32_t n = rte_ipv4_fragment_packet(m, out, max_out, mtu, m->pool, m->pool);
    if (n <= 0) {
        rte_pktmbuf_prepend(m, kEthLen);
        return 0;
    }
    bool ok = true;
    for (int32_t i = 0; i < n && ok; ++i) {
        rte_mbuf* f = out[i];
        // ESP and our tx path want one segment: copy the payload into the
        // header mbuf (it has a full data room) and drop the indirect part.
        ok = rte_pktmbuf_linearize(f) == 0;
        auto* eth = ok ? reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(f, kEthLen)) : nullptr;
        ok = eth != nullptr;
        if (ok) {
            eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
            auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
            f->port = m->port;
            f->hash = m->hash;  // the rx stamp (worker_telemetry.h): a fragment's residence starts with m's
        }
    }
    if (!ok) {
        rte_pktmbuf_free_bulk(out, static_cast<unsigned>(n));
        rte_pktmbuf_prepend(m, kEthLen);
        return 0;
    }
    rte_pktmbuf_free(m);  // the fragments hold no reference to it any more
    return static_cast<uint16_t>(n);
}

}  // namespace gw::dp
