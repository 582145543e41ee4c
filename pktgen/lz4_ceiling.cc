// gw-lz4-ceiling: raw LZ4 rate on one core over gwgen's own packets, the compression
// ceiling of the validation suite (scripts/validate.sh).
//
// For each frame size it builds the frames gwgen sends for one stream (the same
// FrameTemplate, payload kind and seed, so the same bytes: Ethernet, IPv4, UDP, the
// 18-byte signature, the fill), 64 of them with distinct flows and sequence numbers, and
// compresses the inner IP packet of each (what a gateway compresses before ESP) with
// LZ4_compress_fast_extState from one state allocated up front, back to back, as a
// worker with a per-lcore LZ4 state would. Then it decompresses the results with
// LZ4_decompress_safe for the same time. No DPDK, no packet I/O: liblz4 alone.
//
// usage: gw-lz4-ceiling [--seconds S] [--payload zeros|text|random] [--seed N] [--acceleration A] SIZE...
// output: one line per size:
//   "size <frame> payload <kind> bytes <ip packet> ratio <out/in> incompressible <fraction>
//    mpps <x> gbps <y> cycles_per_packet <c> decompress_mpps <d> decompress_gbps <e>"
// gbps count input (uncompressed) bytes; ratio is compressed / original (lower is better);
// incompressible is the fraction of packets LZ4 could not make smaller (a gateway sends
// those uncompressed).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <lz4.h>
#include <x86intrin.h>

#include "pktgen/gwgen/frame.h"
#include "pktgen/gwgen/spec.h"

namespace {

constexpr unsigned kPackets = 64;  // a working set that stays in L1/L2, as in a forwarding loop
constexpr unsigned kBatch = 1024;  // packets between clock reads

int usage() {
    std::fprintf(stderr,
                 "usage: gw-lz4-ceiling [--seconds S] [--payload zeros|text|random] [--seed N] [--acceleration A] "
                 "SIZE...\n");
    return 2;
}

struct Packet {
    std::vector<uint8_t> ip;          // the inner IP packet
    std::vector<uint8_t> compressed;  // its LZ4 block
    int compressed_len = 0;
};

}  // namespace

int main(int argc, char** argv) {
    double seconds = 1.0;
    std::string payload = "text";
    uint64_t seed = 1;
    int acceleration = 1;
    std::vector<unsigned> sizes;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else if (a == "--payload" && i + 1 < argc) {
            payload = argv[++i];
        } else if (a == "--seed" && i + 1 < argc) {
            seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--acceleration" && i + 1 < argc) {
            acceleration = std::atoi(argv[++i]);
        } else if (!a.empty() && a[0] != '-') {
            sizes.push_back(static_cast<unsigned>(std::atoi(a.c_str())));
        } else {
            return usage();
        }
    }
    if (sizes.empty() || seconds <= 0 || acceleration < 1) {
        return usage();
    }
    std::vector<uint8_t> state(static_cast<std::size_t>(LZ4_sizeofState()));
    std::printf("# liblz4 %s, LZ4_compress_fast_extState acceleration %d, one core, gwgen frames (seed %llu)\n",
                LZ4_versionString(), acceleration, static_cast<unsigned long long>(seed));
    for (unsigned frame : sizes) {
        // The stream gwgen would send: the validation suite's addresses, 64 flows.
        const std::string text =
            fmt::format("size={} payload={} src=10.10.0.2 dst=10.20.0.2 dport=1000-1063", frame, payload);
        auto spec = gw::gen::parse_stream(text, "gw-lz4-ceiling");
        if (!spec) {
            std::fprintf(stderr, "%s\n", spec.error().message.c_str());
            return 2;
        }
        if (auto ok = gw::gen::validate_stream(*spec, "gw-lz4-ceiling"); !ok) {
            std::fprintf(stderr, "%s\n", ok.error().message.c_str());
            return 2;
        }
        const gw::net::MacAddr mac{{0x02, 0, 0, 0, 0x0c, 0x01}};
        // gwgen seeds stream i's fill with seed * 1000003 + i (generator.cc); stream 0 here.
        const gw::gen::FrameTemplate tmpl(*spec, mac, mac, seed * 1'000'003);
        const unsigned ip_len = frame - gw::gen::kEthHdrLen - 4;  // without Ethernet header and FCS
        std::vector<Packet> pkts(kPackets);
        std::vector<uint8_t> buf(frame);
        unsigned incompressible = 0;
        uint64_t in_bytes = 0;
        uint64_t out_bytes = 0;
        for (unsigned k = 0; k < kPackets; ++k) {
            tmpl.write(buf.data(), static_cast<uint16_t>(frame), k % tmpl.flows(),
                       gw::gen::Signature{.epoch = 1, .stream = 0, .seq = k, .tx_tsc = __rdtsc()});
            Packet& p = pkts[k];
            p.ip.assign(buf.begin() + gw::gen::kEthHdrLen, buf.begin() + gw::gen::kEthHdrLen + ip_len);
            p.compressed.resize(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(ip_len))));
            p.compressed_len = LZ4_compress_fast_extState(
                state.data(), reinterpret_cast<const char*>(p.ip.data()), reinterpret_cast<char*>(p.compressed.data()),
                static_cast<int>(ip_len), static_cast<int>(p.compressed.size()), acceleration);
            if (p.compressed_len <= 0) {
                std::fprintf(stderr, "gw-lz4-ceiling: LZ4_compress_fast_extState failed at size %u\n", frame);
                return 1;
            }
            incompressible += static_cast<unsigned>(p.compressed_len) >= ip_len ? 1u : 0u;
            in_bytes += ip_len;
            out_bytes += static_cast<uint64_t>(p.compressed_len);
        }

        std::vector<uint8_t> out(pkts[0].compressed.size());
        uint64_t done = 0;
        uint64_t sink = 0;  // keeps the compiler from dropping the calls
        auto start = std::chrono::steady_clock::now();
        auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
        uint64_t tsc0 = __rdtsc();
        do {
            for (unsigned b = 0; b < kBatch; ++b) {
                const Packet& p = pkts[b % kPackets];
                sink += static_cast<uint64_t>(LZ4_compress_fast_extState(
                    state.data(), reinterpret_cast<const char*>(p.ip.data()), reinterpret_cast<char*>(out.data()),
                    static_cast<int>(ip_len), static_cast<int>(out.size()), acceleration));
            }
            done += kBatch;
        } while (elapsed() < seconds);
        const double secs = elapsed();
        const uint64_t cycles = __rdtsc() - tsc0;
        const double pps = static_cast<double>(done) / secs;

        std::vector<uint8_t> plain(ip_len);
        uint64_t ddone = 0;
        start = std::chrono::steady_clock::now();
        do {
            for (unsigned b = 0; b < kBatch; ++b) {
                const Packet& p = pkts[b % kPackets];
                sink += static_cast<uint64_t>(LZ4_decompress_safe(reinterpret_cast<const char*>(p.compressed.data()),
                                                                  reinterpret_cast<char*>(plain.data()),
                                                                  p.compressed_len, static_cast<int>(ip_len)));
            }
            ddone += kBatch;
        } while (elapsed() < seconds);
        const double dpps = static_cast<double>(ddone) / elapsed();
        if (sink == 0) {
            std::fprintf(stderr, "gw-lz4-ceiling: no output\n");
            return 1;
        }
        std::printf(
            "size %u payload %s bytes %u ratio %.3f incompressible %.3f mpps %.3f gbps %.2f cycles_per_packet %.0f "
            "decompress_mpps %.3f decompress_gbps %.2f\n",
            frame, payload.c_str(), ip_len, static_cast<double>(out_bytes) / static_cast<double>(in_bytes),
            static_cast<double>(incompressible) / kPackets, pps / 1e6, pps * ip_len * 8 / 1e9,
            static_cast<double>(cycles) / static_cast<double>(done), dpps / 1e6, dpps * ip_len * 8 / 1e9);
    }
    return 0;
}
