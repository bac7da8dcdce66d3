// Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
//
// BatchNorm on the CPU, as XLA FFI custom calls (models/cpu_kernels.py
// builds them, models/batch_norm.py calls them): per-channel sums,
//
//   mlperf_jax_batch_norm_sums(a[..][C], b[..][C], alpha[C], beta[C])
//       -> (s1[C], s2[C]),  s1 = sum m * a,  s2 = sum m * a * b
//
// over every leading index, with m = 1 (attribute relu = 0) or
// m = (b * alpha + beta > 0) (relu = 1). The forward pass takes a = b = x
// (sum and sum of squares in one read instead of one read each); the
// backward pass takes a = the output gradient, b = x, and with relu = 1 the
// ReLU's mask recomputed from x, so the masked gradient is never written.
//
// Rows are summed in float32 within chunks of kRows, each chunk by one
// thread into its own slot; the chunks are then added in double in chunk
// order, so the result does not depend on the thread count. And a residual
// block's end,
//
//   mlperf_jax_batch_norm_residual_relu(x, alpha, beta, r) -> max(x * alpha + beta + r, 0)
//
// whose output, a custom call's, XLA stores rather than recomputes.
#include <cstdint>
#include <vector>

#include "cpu_kernel_support.h"

namespace {

using mlperf_jax::load;
using mlperf_jax::parallel_for;
using mlperf_jax::store;
using mlperf_jax::vf;
using mlperf_jax::VL;
namespace ffi = xla::ffi;

constexpr int64_t kRows = 128;

template <bool kRelu>
void chunk_sums(const float* a, const float* b, const float* alpha,
                const float* beta, int64_t r0, int64_t r1, int64_t C,
                float* s1, float* s2) {
  const int64_t cv = C - C % VL;
  for (int64_t c = 0; c < C; ++c) s1[c] = s2[c] = 0.f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* ar = a + r * C;
    const float* br = b + r * C;
    for (int64_t c = 0; c < cv; c += VL) {
      vf av = load(ar + c), bv = load(br + c);
      if (kRelu) {
        const vf z = bv * load(alpha + c) + load(beta + c);
        av = z > 0 ? av : vf{};
      }
      store(s1 + c, load(s1 + c) + av);
      store(s2 + c, load(s2 + c) + av * bv);
    }
    for (int64_t c = cv; c < C; ++c) {
      float av = ar[c];
      if (kRelu && !(br[c] * alpha[c] + beta[c] > 0.f)) av = 0.f;
      s1[c] += av;
      s2[c] += av * br[c];
    }
  }
}

ffi::Error Sums(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> a,
                ffi::Buffer<ffi::F32> b, ffi::Buffer<ffi::F32> alpha,
                ffi::Buffer<ffi::F32> beta, ffi::ResultBuffer<ffi::F32> s1,
                ffi::ResultBuffer<ffi::F32> s2, int64_t relu, int64_t threads) {
  const auto d = a.dimensions();
  const int64_t C = d.size() == 0 ? 0 : d.back();
  if (C == 0 || a.element_count() != b.element_count() ||
      b.dimensions().back() != C || alpha.element_count() != C ||
      beta.element_count() != C || s1->element_count() != C ||
      s2->element_count() != C)
    return ffi::Error::InvalidArgument(
        "batch_norm_sums: want a and b of one shape [..][C], alpha, beta, "
        "s1 and s2 of [C]");
  const int64_t M = a.element_count() / C;
  const int64_t chunks = (M + kRows - 1) / kRows;
  std::vector<float> part(chunks * 2 * C);
  const float* ap = a.typed_data();
  const float* bp = b.typed_data();
  const float* al = alpha.typed_data();
  const float* be = beta.typed_data();
  float* pp = part.data();
  parallel_for(pool, chunks, threads, [=](int64_t i) {
    const int64_t r0 = i * kRows, r1 = std::min(M, r0 + kRows);
    float* o = pp + i * 2 * C;
    if (relu)
      chunk_sums<true>(ap, bp, al, be, r0, r1, C, o, o + C);
    else
      chunk_sums<false>(ap, bp, al, be, r0, r1, C, o, o + C);
  });
  std::vector<double> t(2 * C, 0.0);
  for (int64_t i = 0; i < chunks; ++i)
    for (int64_t c = 0; c < 2 * C; ++c) t[c] += pp[i * 2 * C + c];
  float* o1 = s1->typed_data();
  float* o2 = s2->typed_data();
  for (int64_t c = 0; c < C; ++c) {
    o1[c] = static_cast<float>(t[c]);
    o2[c] = static_cast<float>(t[C + c]);
  }
  return ffi::Error::Success();
}

// out = max(x * alpha + beta + r, 0): a residual block's end, its output
// stored (XLA would otherwise recompute it from the block chain inside the
// backward pass's fusions, models/batch_norm.py).
ffi::Error ResidualRelu(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                        ffi::Buffer<ffi::F32> alpha, ffi::Buffer<ffi::F32> beta,
                        ffi::Buffer<ffi::F32> r, ffi::ResultBuffer<ffi::F32> out,
                        int64_t threads) {
  const auto d = x.dimensions();
  const int64_t C = d.size() == 0 ? 0 : d.back();
  if (C == 0 || r.element_count() != x.element_count() ||
      alpha.element_count() != C || beta.element_count() != C ||
      out->element_count() != x.element_count())
    return ffi::Error::InvalidArgument(
        "batch_norm_residual_relu: want x, r and out of one shape [..][C], "
        "alpha and beta of [C]");
  const int64_t M = x.element_count() / C;
  const float* xp = x.typed_data();
  const float* rp = r.typed_data();
  const float* al = alpha.typed_data();
  const float* be = beta.typed_data();
  float* op = out->typed_data();
  const int64_t cv = C - C % VL;
  const int64_t chunks = (M + kRows - 1) / kRows;
  parallel_for(pool, chunks, threads, [=](int64_t i) {
    const int64_t r1 = std::min(M, (i + 1) * kRows);
    for (int64_t row = i * kRows; row < r1; ++row) {
      const float* xr = xp + row * C;
      const float* rr = rp + row * C;
      float* o = op + row * C;
      for (int64_t c = 0; c < cv; c += VL) {
        const vf z = load(xr + c) * load(al + c) + load(be + c) + load(rr + c);
        store(o + c, z > 0 ? z : vf{});
      }
      for (int64_t c = cv; c < C; ++c) {
        const float z = xr[c] * al[c] + be[c] + rr[c];
        o[c] = z > 0.f ? z : 0.f;
      }
    }
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_batch_norm_residual_relu, ResidualRelu,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_batch_norm_sums, Sums,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("relu")
                                  .Attr<int64_t>("threads"));
