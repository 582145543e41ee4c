#include "dataplane/ipsec/gcm_engine.h"

namespace gw::dp::ipsec {
namespace {
constexpr uint64_t kTagLen = 16;
}  // namespace

GcmEngine::~GcmEngine() {
    if (mgr_ != nullptr) {
        free_mb_mgr(mgr_);
    }
}

Result<std::unique_ptr<GcmEngine>> GcmEngine::create() {
    std::unique_ptr<GcmEngine> e(new GcmEngine());
    e->mgr_ = alloc_mb_mgr(0);
    if (e->mgr_ == nullptr) {
        return make_error("ipsec-mb: cannot allocate a manager");
    }
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(e->mgr_, &arch);
    if (const int err = imb_get_errno(e->mgr_); err != 0) {
        return make_errno_error(-err, "ipsec-mb: initialisation failed: {}", imb_get_strerror(err));
    }
    switch (arch) {
        case IMB_ARCH_SSE:
            e->arch_name_ = "sse";
            break;
        case IMB_ARCH_AVX:
            e->arch_name_ = "avx";
            break;
        case IMB_ARCH_AVX2:
            e->arch_name_ = "avx2";
            break;
        case IMB_ARCH_AVX512:
            e->arch_name_ = "avx512";
            break;
        default:
            e->arch_name_ = "none";
            break;
    }
    return e;
}

Status GcmEngine::expand_key(std::span<const uint8_t> key, GcmKey& out) const {
    if (key.size() == 16) {
        IMB_AES128_GCM_PRE(mgr_, key.data(), &out.data);
    } else if (key.size() == 32) {
        IMB_AES256_GCM_PRE(mgr_, key.data(), &out.data);
    } else {
        return make_error("aes-gcm: key of {} bytes (want 16 or 32)", key.size());
    }
    out.key_len = static_cast<uint8_t>(key.size());
    if (const int err = imb_get_errno(mgr_); err != 0) {
        return make_errno_error(-err, "aes-gcm: key expansion failed: {}", imb_get_strerror(err));
    }
    return {};
}

void GcmEngine::run(std::span<GcmOp> ops, bool encrypt) noexcept {
    auto retire = [](IMB_JOB* job) {
        auto* op = static_cast<GcmOp*>(job->user_data);
        op->ok = job->status == IMB_STATUS_COMPLETED;
    };
    for (auto& op : ops) {
        op.ok = false;
        IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
        job->cipher_mode = IMB_CIPHER_GCM;
        job->hash_alg = IMB_AUTH_AES_GMAC;
        job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
        job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
        job->enc_keys = &op.key->data;
        job->dec_keys = &op.key->data;
        job->key_len_in_bytes = op.key->key_len;
        job->src = op.data;
        job->dst = op.data;
        job->cipher_start_src_offset_in_bytes = 0;
        job->msg_len_to_cipher_in_bytes = op.len;
        job->hash_start_src_offset_in_bytes = 0;
        job->msg_len_to_hash_in_bytes = op.len;
        job->iv = op.iv;
        job->iv_len_in_bytes = 12;
        job->u.GCM.aad = op.aad;
        job->u.GCM.aad_len_in_bytes = op.aad_len;
        job->auth_tag_output = op.tag;
        job->auth_tag_output_len_in_bytes = kTagLen;
        job->user_data = &op;
        for (job = IMB_SUBMIT_JOB(mgr_); job != nullptr; job = IMB_GET_COMPLETED_JOB(mgr_)) {
            retire(job);
        }
    }
    IMB_JOB* job;
    while ((job = IMB_FLUSH_JOB(mgr_)) != nullptr) {
        retire(job);
    }
}

}  // namespace gw::dp::ipsec
