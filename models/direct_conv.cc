// Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
//
// Direct stride-1 3x3 (and 1x1) convolutions on the CPU, NHWC activations and HWIO
// kernels, as XLA FFI custom calls (models/cpu_kernels.py builds this file,
// models/direct_conv.py calls the two targets).
//
//   mlperf_jax_direct_conv_forward(xpad[N][H+2][W+2][C], w[3][3][C][K]) -> y[N][H][W][K]
//   mlperf_jax_direct_conv_kernel_grad(xpad[N][H+2][W+2][C], g[N][H][W][K]) -> dw[3][3][C][K]
//
// The input gradient is the forward kernel on the padded output gradient
// with the kernel flipped and its channel axes swapped (done in JAX).
//
// Both kernels keep a tile of accumulators in vector registers: the forward
// one P output pixels x NJ vectors of output channels, summing over the 3x3
// taps and the input channels (a weight vector loaded once per input channel
// serves P pixels); the kernel-gradient one P input channels x NJ vectors of
// output channels for one tap, summing over a chunk of pixels before it goes
// back to memory. Work is split over XLA's intra-op threads by output rows
// (forward) and by (output-channel block, tap, input-channel block) (kernel
// gradient), so each output element is summed by one thread in a fixed
// order: results do not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu_kernel_support.h"

namespace {

using mlperf_jax::load;
using mlperf_jax::parallel_for;
using mlperf_jax::store;
using mlperf_jax::vf;
using mlperf_jax::VL;
namespace ffi = xla::ffi;

#if defined(__AVX512F__)
constexpr int NJ = 4;   // output-channel vectors per tile
#else
constexpr int NJ = 2;
#endif
constexpr int NP = 6;   // forward: output pixels per tile
constexpr int NPC = 6;  // kernel gradient: input channels per tile
constexpr int CB = NJ * VL;  // output channels per tile
constexpr int64_t kDwChunkPixels = 256;
constexpr int64_t kDwGroupsPerThread = 4;

// The tile's rank-1 update: acc[p][:] += s[p * stride] * v[0 .. CB), with
// the CB-vector loaded once for all P scalars.
template <int P>
inline void rank1_update(vf (&acc)[P][NJ], const float* v, const float* s,
                         int64_t stride) {
  vf vv[NJ];
  for (int j = 0; j < NJ; ++j) vv[j] = load(v + j * VL);
  for (int p = 0; p < P; ++p) {
    const float sp = s[p * stride];
    for (int j = 0; j < NJ; ++j) acc[p][j] += vv[j] * sp;
  }
}

// y[p][co0 .. co0+CB) for P pixels from column ow of one output row; rows[kh]
// is padded input row oh+kh.
template <int KS, int P>
inline void forward_tile(const float* const* rows, int64_t ow, int64_t C,
                         int64_t K, const float* w, int64_t co0, float* y) {
  vf acc[P][NJ];
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NJ; ++j) acc[p][j] = vf{};
  for (int kh = 0; kh < KS; ++kh) {
    for (int kw = 0; kw < KS; ++kw) {
      const float* x = rows[kh] + (ow + kw) * C;
      const float* wt = w + (kh * KS + kw) * C * K + co0;
      for (int64_t ci = 0; ci < C; ++ci) rank1_update<P>(acc, wt + ci * K, x + ci, C);
    }
  }
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NJ; ++j) store(y + p * K + j * VL, acc[p][j]);
}

template <int KS>
void forward_rows(const float* xpad, const float* w, float* y, int64_t H,
                  int64_t W, int64_t C, int64_t K, int64_t r0, int64_t r1) {
  const int64_t Wp = W + KS - 1;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / H, oh = r % H;
    const float* rows[KS];
    for (int kh = 0; kh < KS; ++kh)
      rows[kh] = xpad + ((n * (H + KS - 1) + oh + kh) * Wp) * C;
    float* yrow = y + r * W * K;
    for (int64_t co0 = 0; co0 < K; co0 += CB) {
      int64_t ow = 0;
      for (; ow + NP <= W; ow += NP)
        forward_tile<KS, NP>(rows, ow, C, K, w, co0, yrow + ow * K + co0);
      float* yt = yrow + ow * K + co0;
      switch (W - ow) {
        case 5: forward_tile<KS, 5>(rows, ow, C, K, w, co0, yt); break;
        case 4: forward_tile<KS, 4>(rows, ow, C, K, w, co0, yt); break;
        case 3: forward_tile<KS, 3>(rows, ow, C, K, w, co0, yt); break;
        case 2: forward_tile<KS, 2>(rows, ow, C, K, w, co0, yt); break;
        case 1: forward_tile<KS, 1>(rows, ow, C, K, w, co0, yt); break;
        default: break;
      }
    }
  }
}

// dw_tap[ci0 .. ci0+P)[co0 .. co0+CB) += sum over the chunk's pixels.
template <int P>
inline void kernel_grad_tile(const float* const* xrows, const float* const* grows,
                             int nrows, int64_t W, int64_t C, int64_t K,
                             int64_t kw, int64_t ci0, int64_t co0, float* dw) {
  vf acc[P][NJ];
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < NJ; ++j) acc[i][j] = load(dw + (ci0 + i) * K + co0 + j * VL);
  for (int r = 0; r < nrows; ++r) {
    const float* x = xrows[r] + kw * C + ci0;
    const float* g = grows[r] + co0;
    for (int64_t ow = 0; ow < W; ++ow) rank1_update<P>(acc, g + ow * K, x + ow * C, 1);
  }
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < NJ; ++j) store(dw + (ci0 + i) * K + co0 + j * VL, acc[i][j]);
}

// Units u0 .. u1 of ((co block) * 9 + tap) * (ci blocks) + ci block, each
// over all pixels in chunks of whole rows.
template <int KS>
void kernel_grad_units(const float* xpad, const float* g, float* dw, int64_t N,
                       int64_t H, int64_t W, int64_t C, int64_t K, int64_t u0,
                       int64_t u1) {
  const int64_t Wp = W + KS - 1;
  const int64_t rows_total = N * H;
  const int64_t cib = (C + NPC - 1) / NPC;
  const int64_t chunk = std::max<int64_t>(1, (kDwChunkPixels + W - 1) / W);
  std::vector<const float*> xr(chunk), gr(chunk);
  for (int64_t r0 = 0; r0 < rows_total; r0 += chunk) {
    const int nr = static_cast<int>(std::min(chunk, rows_total - r0));
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t ci0 = (u % cib) * NPC;
      const int64_t tap = (u / cib) % (KS * KS);
      const int64_t co0 = (u / cib / (KS * KS)) * CB;
      const int64_t kh = tap / KS, kw = tap % KS;
      for (int q = 0; q < nr; ++q) {
        const int64_t r = r0 + q, n = r / H, oh = r % H;
        xr[q] = xpad + ((n * (H + KS - 1) + oh + kh) * Wp) * C;
        gr[q] = g + r * W * K;
      }
      float* d = dw + tap * C * K;
      switch (std::min<int64_t>(NPC, C - ci0)) {
        case 6: kernel_grad_tile<6>(xr.data(), gr.data(), nr, W, C, K, kw, ci0, co0, d); break;
        case 5: kernel_grad_tile<5>(xr.data(), gr.data(), nr, W, C, K, kw, ci0, co0, d); break;
        case 4: kernel_grad_tile<4>(xr.data(), gr.data(), nr, W, C, K, kw, ci0, co0, d); break;
        case 3: kernel_grad_tile<3>(xr.data(), gr.data(), nr, W, C, K, kw, ci0, co0, d); break;
        case 2: kernel_grad_tile<2>(xr.data(), gr.data(), nr, W, C, K, kw, ci0, co0, d); break;
        case 1: kernel_grad_tile<1>(xr.data(), gr.data(), nr, W, C, K, kw, ci0, co0, d); break;
        default: break;
      }
    }
  }
}

ffi::Error check_channels(int64_t k_dim) {
  if (k_dim % CB != 0)
    return ffi::Error::InvalidArgument(
        "direct_conv: output channels must be a multiple of "
        "mlperf_jax_direct_conv_channel_block()");
  return ffi::Error::Success();
}

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> xpad,
                   ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> y,
                   int64_t threads) {
  const auto d = xpad.dimensions();
  const auto wd = w.dimensions();
  if (d.size() != 4 || wd.size() != 4 || wd[0] != wd[1] ||
      (wd[0] != 1 && wd[0] != 3) || wd[2] != d[3] || d[1] < wd[0] ||
      d[2] < wd[0])
    return ffi::Error::InvalidArgument(
        "direct_conv: want an input [N][H+KS-1][W+KS-1][C] and a kernel "
        "[KS][KS][C][K], KS 1 or 3");
  if (ffi::Error e = check_channels(wd[3]); e.failure()) return e;
  const int64_t KS = wd[0];
  const int64_t N = d[0], H = d[1] - KS + 1, W = d[2] - KS + 1, C = d[3],
                K = wd[3];
  const float* xp = xpad.typed_data();
  const float* wp = w.typed_data();
  float* yp = y->typed_data();
  parallel_for(pool, N * H, threads, [=](int64_t r) {
    if (KS == 3)
      forward_rows<3>(xp, wp, yp, H, W, C, K, r, r + 1);
    else
      forward_rows<1>(xp, wp, yp, H, W, C, K, r, r + 1);
  });
  return ffi::Error::Success();
}

ffi::Error KernelGrad(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> xpad,
                      ffi::Buffer<ffi::F32> g, ffi::ResultBuffer<ffi::F32> dw,
                      int64_t threads) {
  const auto d = xpad.dimensions();
  const auto gd = g.dimensions();
  const int64_t KS = (d.size() == 4 && gd.size() == 4) ? d[1] - gd[1] + 1 : 0;
  if ((KS != 1 && KS != 3) || gd[0] != d[0] || d[2] - gd[2] + 1 != KS)
    return ffi::Error::InvalidArgument(
        "direct_conv: want an input [N][H+KS-1][W+KS-1][C] and a gradient "
        "[N][H][W][K], KS 1 or 3");
  if (ffi::Error e = check_channels(gd[3]); e.failure()) return e;
  const int64_t N = d[0], H = gd[1], W = gd[2], C = d[3], K = gd[3];
  float* dp = dw->typed_data();
  std::memset(dp, 0, sizeof(float) * KS * KS * C * K);
  const float* xp = xpad.typed_data();
  const float* gp = g.typed_data();
  // Each index: a contiguous group of units over all pixels (more groups
  // than threads, for balance; each group streams the input and the
  // gradient once).
  const int64_t units = (K / CB) * KS * KS * ((C + NPC - 1) / NPC);
  const int64_t groups = std::min<int64_t>(units, kDwGroupsPerThread * threads);
  parallel_for(pool, groups, threads, [=](int64_t q) {
    const int64_t a = units * q / groups, b = units * (q + 1) / groups;
    if (KS == 3)
      kernel_grad_units<3>(xp, gp, dp, N, H, W, C, K, a, b);
    else
      kernel_grad_units<1>(xp, gp, dp, N, H, W, C, K, a, b);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_direct_conv_forward, Forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_direct_conv_kernel_grad, KernelGrad,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));

// Output channels per tile: the kernels need K (and, for the input
// gradient, C) to be a multiple of it.
extern "C" int mlperf_jax_direct_conv_channel_block() { return CB; }
