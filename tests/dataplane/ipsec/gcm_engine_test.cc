// AES-GCM through ipsec-mb (gcm_engine.h): the known answers of the GCM
// specification (McGrew & Viega, "The Galois/Counter Mode of Operation",
// appendix B: test cases 1-4 for AES-128, 13 and 16 for AES-256) in both
// directions, a batch of many operations of mixed lengths and keys in one
// call, and the constant-time tag comparison.

#include "dataplane/ipsec/gcm_engine.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gw::dp::ipsec {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes unhex(std::string_view s) {
    Bytes b;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        b.push_back(static_cast<uint8_t>(std::stoul(std::string(s.substr(i, 2)), nullptr, 16)));
    }
    return b;
}

std::string hex(const uint8_t* p, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += kDigits[p[i] >> 4];
        s += kDigits[p[i] & 0x0f];
    }
    return s;
}
std::string hex(const Bytes& b) {
    return hex(b.data(), b.size());
}

class GcmEngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto e = GcmEngine::create();
        ASSERT_TRUE(e.has_value()) << e.error().message;
        engine_ = std::move(*e);
    }

    [[nodiscard]] GcmKey key(const Bytes& k) const {
        GcmKey out{};
        const auto st = engine_->expand_key(k, out);
        EXPECT_TRUE(st.has_value()) << st.error().message;
        return out;
    }

    std::unique_ptr<GcmEngine> engine_;
};

struct Kat {
    const char* name;
    const char* key;
    const char* iv;
    const char* plain;
    const char* aad;
    const char* cipher;
    const char* tag;
};

// GCM spec appendix B. TC3 and TC4 differ in the last 4 plaintext bytes and
// the AAD; TC13/TC16 are their AES-256 counterparts.
constexpr const char* kP64 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
    "ba637b391aafd255";
constexpr const char* kP60 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
    "ba637b39";
constexpr const char* kAad20 = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr const char* kK3 = "feffe9928665731c6d6a8f9467308308";
constexpr const char* kK16 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char* kIv3 = "cafebabefacedbaddecaf888";

const Kat kKats[] = {
    {"TC1 aes-128 empty", "00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"TC2 aes-128 one block", "00000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"TC3 aes-128 64 bytes", kK3, kIv3, kP64, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac"
     "973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"TC4 aes-128 60 bytes + aad", kK3, kIv3, kP60, kAad20,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac"
     "973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"TC13 aes-256 empty", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TC16 aes-256 60 bytes + aad", kK16, kIv3, kP60, kAad20,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a"
     "0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST_F(GcmEngineTest, ReportsACodePath) {
    EXPECT_STRNE(engine_->arch_name(), "unknown");
    EXPECT_STRNE(engine_->arch_name(), "none");
}

TEST_F(GcmEngineTest, KnownAnswersEncrypt) {
    for (const auto& k : kKats) {
        SCOPED_TRACE(k.name);
        const GcmKey gk = key(unhex(k.key));
        const Bytes iv = unhex(k.iv);
        const Bytes aad = unhex(k.aad);
        Bytes data = unhex(k.plain);
        std::array<uint8_t, 16> tag{};
        GcmOp op{.key = &gk,
                 .iv = iv.data(),
                 .aad = aad.data(),
                 .aad_len = static_cast<uint8_t>(aad.size()),
                 .data = data.data(),
                 .len = static_cast<uint32_t>(data.size()),
                 .tag = tag.data()};
        engine_->encrypt(std::span(&op, 1));
        EXPECT_TRUE(op.ok);
        EXPECT_EQ(hex(data), k.cipher);
        EXPECT_EQ(hex(tag.data(), tag.size()), k.tag);
    }
}

TEST_F(GcmEngineTest, KnownAnswersDecrypt) {
    for (const auto& k : kKats) {
        SCOPED_TRACE(k.name);
        const GcmKey gk = key(unhex(k.key));
        const Bytes iv = unhex(k.iv);
        const Bytes aad = unhex(k.aad);
        Bytes data = unhex(k.cipher);
        std::array<uint8_t, 16> tag{};
        GcmOp op{.key = &gk,
                 .iv = iv.data(),
                 .aad = aad.data(),
                 .aad_len = static_cast<uint8_t>(aad.size()),
                 .data = data.data(),
                 .len = static_cast<uint32_t>(data.size()),
                 .tag = tag.data()};
        engine_->decrypt(std::span(&op, 1));
        EXPECT_TRUE(op.ok);
        EXPECT_EQ(hex(data), k.plain);
        // Decrypt writes the tag it computed; the caller compares.
        const Bytes want = unhex(k.tag);
        EXPECT_TRUE(tag_equal(tag.data(), want.data(), 16)) << hex(tag.data(), 16);
    }
}

TEST_F(GcmEngineTest, DecryptOfTamperedDataYieldsAnotherTag) {
    const auto& k = kKats[3];  // TC4
    const GcmKey gk = key(unhex(k.key));
    const Bytes iv = unhex(k.iv);
    const Bytes want = unhex(k.tag);
    for (const bool flip_aad : {false, true}) {
        SCOPED_TRACE(flip_aad ? "aad" : "ciphertext");
        Bytes aad = unhex(k.aad);
        Bytes data = unhex(k.cipher);
        (flip_aad ? aad[5] : data[17]) ^= 0x01;
        std::array<uint8_t, 16> tag{};
        GcmOp op{.key = &gk,
                 .iv = iv.data(),
                 .aad = aad.data(),
                 .aad_len = static_cast<uint8_t>(aad.size()),
                 .data = data.data(),
                 .len = static_cast<uint32_t>(data.size()),
                 .tag = tag.data()};
        engine_->decrypt(std::span(&op, 1));
        EXPECT_TRUE(op.ok);
        EXPECT_FALSE(tag_equal(tag.data(), want.data(), 16));
    }
}

TEST_F(GcmEngineTest, ExpandKeyRejectsOtherLengths) {
    GcmKey out{};
    for (const std::size_t n : {0u, 15u, 20u, 24u, 33u}) {
        const Bytes k(n, 0x11);
        const auto st = engine_->expand_key(k, out);
        ASSERT_FALSE(st.has_value()) << n;
        EXPECT_NE(st.error().message.find(std::to_string(n) + " bytes"), std::string::npos) << st.error().message;
    }
    EXPECT_TRUE(engine_->expand_key(Bytes(16, 1), out).has_value());
    EXPECT_EQ(out.key_len, 16);
    EXPECT_TRUE(engine_->expand_key(Bytes(32, 1), out).has_value());
    EXPECT_EQ(out.key_len, 32);
}

// One call with many operations of mixed lengths, keys, AAD sizes and the
// known answers spread among them: each op must come out as if it ran alone
// (results never land in another op's buffers), and decrypting the batch
// restores every plaintext with matching tags.
TEST_F(GcmEngineTest, MixedBatchMatchesSingleOperations) {
    constexpr std::size_t kOps = 96;  // beyond ipsec-mb's internal lanes and kMaxBurstDp
    const GcmKey k128 = key(unhex(kK3));
    const GcmKey k256 = key(unhex(kK16));
    struct Case {
        const GcmKey* key;
        Bytes iv;
        Bytes aad;
        Bytes plain;
        Bytes data;
        std::array<uint8_t, 16> tag{};
        Bytes want_cipher;
        Bytes want_tag;  // known answer, when the case is one
    };
    std::vector<Case> cases(kOps);
    for (std::size_t i = 0; i < kOps; ++i) {
        Case& c = cases[i];
        if (i % 16 == 5) {
            const bool tc16 = (i / 16) % 2 == 1;
            c.key = tc16 ? &k256 : &k128;
            c.iv = unhex(kIv3);
            c.aad = unhex(kAad20);
            c.plain = unhex(kP60);
            c.want_cipher = unhex(tc16 ? kKats[5].cipher : kKats[3].cipher);
            c.want_tag = unhex(tc16 ? kKats[5].tag : kKats[3].tag);
        } else {
            c.key = i % 3 == 0 ? &k256 : &k128;
            c.iv = Bytes(12, static_cast<uint8_t>(i));
            c.aad = Bytes(i % 2 == 0 ? 8 : 12, static_cast<uint8_t>(0xa0 + i));
            // 1..1500 bytes, unaligned lengths included.
            const std::size_t len = 1 + (i * 397) % 1500;
            c.plain.resize(len);
            for (std::size_t b = 0; b < len; ++b) {
                c.plain[b] = static_cast<uint8_t>(b * 7 + i);
            }
        }
        c.data = c.plain;
    }
    auto op_of = [](Case& c) {
        return GcmOp{.key = c.key,
                     .iv = c.iv.data(),
                     .aad = c.aad.data(),
                     .aad_len = static_cast<uint8_t>(c.aad.size()),
                     .data = c.data.data(),
                     .len = static_cast<uint32_t>(c.data.size()),
                     .tag = c.tag.data()};
    };

    // Reference: each op alone.
    std::vector<Bytes> single_cipher(kOps);
    std::vector<std::array<uint8_t, 16>> single_tag(kOps);
    for (std::size_t i = 0; i < kOps; ++i) {
        Case c = cases[i];
        GcmOp op = op_of(c);
        engine_->encrypt(std::span(&op, 1));
        ASSERT_TRUE(op.ok) << i;
        single_cipher[i] = c.data;
        single_tag[i] = c.tag;
    }

    std::vector<GcmOp> ops;
    for (auto& c : cases) {
        ops.push_back(op_of(c));
    }
    engine_->encrypt(ops);
    for (std::size_t i = 0; i < kOps; ++i) {
        SCOPED_TRACE("op " + std::to_string(i) + ", " + std::to_string(cases[i].data.size()) + " bytes");
        EXPECT_TRUE(ops[i].ok);
        EXPECT_EQ(cases[i].data, single_cipher[i]);
        EXPECT_TRUE(tag_equal(cases[i].tag.data(), single_tag[i].data(), 16));
        EXPECT_NE(cases[i].data, cases[i].plain);
        if (!cases[i].want_tag.empty()) {
            EXPECT_EQ(hex(cases[i].data), hex(cases[i].want_cipher));
            EXPECT_EQ(hex(cases[i].tag.data(), 16), hex(cases[i].want_tag));
        }
    }

    // Decrypt the whole batch back; the tags computed must match the ones sent.
    std::vector<std::array<uint8_t, 16>> sent_tag(kOps);
    for (std::size_t i = 0; i < kOps; ++i) {
        sent_tag[i] = cases[i].tag;
        cases[i].tag = {};
        ops[i] = op_of(cases[i]);
    }
    engine_->decrypt(ops);
    for (std::size_t i = 0; i < kOps; ++i) {
        SCOPED_TRACE("op " + std::to_string(i));
        EXPECT_TRUE(ops[i].ok);
        EXPECT_EQ(cases[i].data, cases[i].plain);
        EXPECT_TRUE(tag_equal(cases[i].tag.data(), sent_tag[i].data(), 16));
    }
}

TEST_F(GcmEngineTest, EmptyBatchIsANoOp) {
    engine_->encrypt(std::span<GcmOp>{});
    engine_->decrypt(std::span<GcmOp>{});
}

TEST(TagEqual, ComparesEveryByte) {
    std::array<uint8_t, 16> a{};
    for (unsigned i = 0; i < a.size(); ++i) {
        a[i] = static_cast<uint8_t>(i * 17 + 3);
    }
    EXPECT_TRUE(tag_equal(a.data(), a.data(), 16));
    for (unsigned i = 0; i < 16; ++i) {
        for (const uint8_t bit : {0x01, 0x80}) {
            auto b = a;
            b[i] ^= bit;
            EXPECT_FALSE(tag_equal(a.data(), b.data(), 16)) << "byte " << i;
            EXPECT_FALSE(tag_equal(b.data(), a.data(), 16)) << "byte " << i;
        }
    }
    // Only `len` bytes count.
    auto c = a;
    c[15] ^= 0xff;
    EXPECT_TRUE(tag_equal(a.data(), c.data(), 15));
    EXPECT_TRUE(tag_equal(a.data(), c.data(), 0));
}

}  // namespace
}  // namespace gw::dp::ipsec
