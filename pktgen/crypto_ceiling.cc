// gw-crypto-ceiling: raw Intel ipsec-mb AES-GCM rate on one core, the crypto
// ceiling the IPsec benchmark divides the gateway's rate by.
//
// For each frame size it encrypts (or decrypts) exactly the bytes ESP tunnel
// mode protects for a frame of that size — the inner IP packet plus padding
// and trailer — with an 8-byte AAD and a 16-byte tag, back to back through
// the job API from a ring of 64 buffers (so data stays in L1/L2 as it does in
// a forwarding loop). No DPDK, no packet I/O: ipsec-mb alone.
//
// usage: gw-crypto-ceiling [--seconds S] [--key-bits 128|256] [--decrypt] SIZE...
// output: one line per size: "size <frame> bytes <gcm len> mpps <x> gbps <y> cycles_per_packet <c>"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <intel-ipsec-mb.h>
#include <x86intrin.h>

namespace {

struct alignas(64) Buffer {
    uint8_t data[2048];
    uint8_t tag[16];
};

int usage() {
    std::fprintf(stderr, "usage: gw-crypto-ceiling [--seconds S] [--key-bits 128|256] [--decrypt] SIZE...\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2.0;
    int key_bits = 128;
    bool decrypt = false;
    std::vector<unsigned> sizes;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else if (a == "--key-bits" && i + 1 < argc) {
            key_bits = std::atoi(argv[++i]);
        } else if (a == "--decrypt") {
            decrypt = true;
        } else if (!a.empty() && a[0] != '-') {
            sizes.push_back(static_cast<unsigned>(std::atoi(a.c_str())));
        } else {
            return usage();
        }
    }
    if (sizes.empty() || (key_bits != 128 && key_bits != 256) || seconds <= 0) {
        return usage();
    }
    IMB_MGR* mgr = alloc_mb_mgr(0);
    if (mgr == nullptr) {
        std::fprintf(stderr, "gw-crypto-ceiling: cannot allocate an ipsec-mb manager\n");
        return 1;
    }
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mgr, &arch);
    static const char* kArch[] = {"none", "noaesni", "sse", "avx", "avx2", "avx512"};
    alignas(64) static gcm_key_data key;
    uint8_t raw_key[32];
    for (unsigned i = 0; i < sizeof raw_key; ++i) {
        raw_key[i] = static_cast<uint8_t>(i * 7 + 1);
    }
    if (key_bits == 128) {
        IMB_AES128_GCM_PRE(mgr, raw_key, &key);
    } else {
        IMB_AES256_GCM_PRE(mgr, raw_key, &key);
    }
    constexpr unsigned kBuffers = 64;
    std::vector<Buffer> bufs(kBuffers);
    uint8_t iv[12] = {1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t aad[8] = {0, 0, 0x10, 0x01, 0, 0, 0, 1};
    std::printf("# ipsec-mb %s, %s code path, AES-%d-GCM %s, one core\n", IMB_VERSION_STR, arch < 6 ? kArch[arch] : "?",
                key_bits, decrypt ? "decrypt" : "encrypt");
    for (unsigned frame : sizes) {
        // Inner IP packet of an Ethernet frame, plus ESP padding and trailer.
        const unsigned inner = frame > 14 ? frame - 14 : 1;
        const unsigned len = (inner + 2 + 3) & ~3u;
        if (len > sizeof(Buffer::data)) {
            std::fprintf(stderr, "gw-crypto-ceiling: size %u too large\n", frame);
            return 2;
        }
        uint64_t done = 0;
        const auto start = std::chrono::steady_clock::now();
        const uint64_t tsc0 = __rdtsc();
        auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
        while (true) {
            for (unsigned b = 0; b < 1024; ++b) {
                Buffer& buf = bufs[b % kBuffers];
                IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
                job->cipher_mode = IMB_CIPHER_GCM;
                job->hash_alg = IMB_AUTH_AES_GMAC;
                job->cipher_direction = decrypt ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
                job->chain_order = decrypt ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
                job->enc_keys = &key;
                job->dec_keys = &key;
                job->key_len_in_bytes = static_cast<uint64_t>(key_bits / 8);
                job->src = buf.data;
                job->dst = buf.data;
                job->cipher_start_src_offset_in_bytes = 0;
                job->msg_len_to_cipher_in_bytes = len;
                job->hash_start_src_offset_in_bytes = 0;
                job->msg_len_to_hash_in_bytes = len;
                job->iv = iv;
                job->iv_len_in_bytes = 12;
                job->u.GCM.aad = aad;
                job->u.GCM.aad_len_in_bytes = sizeof aad;
                job->auth_tag_output = buf.tag;
                job->auth_tag_output_len_in_bytes = 16;
                for (job = IMB_SUBMIT_JOB(mgr); job != nullptr; job = IMB_GET_COMPLETED_JOB(mgr)) {
                    ++done;
                }
            }
            if (elapsed() >= seconds) {
                break;
            }
        }
        while (IMB_FLUSH_JOB(mgr) != nullptr) {
            ++done;
        }
        const double secs = elapsed();
        const uint64_t cycles = __rdtsc() - tsc0;
        const double pps = static_cast<double>(done) / secs;
        std::printf("size %u bytes %u mpps %.3f gbps %.2f cycles_per_packet %.0f\n", frame, len, pps / 1e6,
                    pps * len * 8 / 1e9, static_cast<double>(cycles) / static_cast<double>(done));
    }
    free_mb_mgr(mgr);
    return 0;
}
