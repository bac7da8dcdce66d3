// Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
//
// Direct 3x3 stride-1 convolutions on the CPU, NHWC activations and HWIO
// kernels, as XLA FFI custom calls (models/conv3x3_direct.py builds this file
// with the host's C++ compiler and registers the two targets).
//
//   mlperf_jax_conv3x3_forward(xpad[N][H+2][W+2][C], w[3][3][C][K]) -> y[N][H][W][K]
//   mlperf_jax_conv3x3_kernel_grad(xpad[N][H+2][W+2][C], g[N][H][W][K]) -> dw[3][3][C][K]
//
// The input gradient is the forward kernel on the padded output gradient
// with the kernel flipped and its channel axes swapped (done in JAX).
//
// Both kernels keep a tile of accumulators in vector registers: the forward
// one P output pixels x NJ vectors of output channels, summing over the 3x3
// taps and the input channels (a weight vector loaded once per input channel
// serves P pixels); the kernel-gradient one P input channels x NJ vectors of
// output channels for one tap, summing over a chunk of pixels before it goes
// back to memory. Work is split over threads by output rows (forward) and by
// (output-channel block, tap, input-channel block) (kernel gradient), so each
// output element is summed by one thread in a fixed order: results do not
// depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

#if defined(__AVX512F__)
constexpr int VL = 16;  // floats per vector
constexpr int NJ = 4;   // output-channel vectors per tile
#else
constexpr int VL = 8;
constexpr int NJ = 2;
#endif
constexpr int NP = 6;   // forward: output pixels per tile
constexpr int NPC = 6;  // kernel gradient: input channels per tile
constexpr int CB = NJ * VL;  // output channels per tile
constexpr int64_t kDwChunkPixels = 256;

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4)));

inline vf load(const float* p) { return *reinterpret_cast<const vfu*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }

// Runs f(begin, end) over [0, total) split into `threads` contiguous parts.
template <typename F>
void parallel(int64_t total, int64_t threads, F f) {
  const int64_t nt = std::max<int64_t>(1, std::min(threads, total));
  if (nt == 1) {
    f(0, total);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < nt; ++t)
    pool.emplace_back([=] { f(total * t / nt, total * (t + 1) / nt); });
  f(0, total / nt);
  for (auto& t : pool) t.join();
}

// y[p][co0 .. co0+CB) for P pixels from column ow of one output row; rows[kh]
// is padded input row oh+kh.
template <int P>
inline void forward_tile(const float* const* rows, int64_t ow, int64_t C,
                         int64_t K, const float* w, int64_t co0, float* y) {
  vf acc[P][NJ];
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NJ; ++j) acc[p][j] = vf{};
  for (int kh = 0; kh < 3; ++kh) {
    for (int kw = 0; kw < 3; ++kw) {
      const float* x = rows[kh] + (ow + kw) * C;
      const float* wt = w + (kh * 3 + kw) * C * K + co0;
      for (int64_t ci = 0; ci < C; ++ci) {
        vf wv[NJ];
        for (int j = 0; j < NJ; ++j) wv[j] = load(wt + ci * K + j * VL);
        for (int p = 0; p < P; ++p) {
          const float s = x[p * C + ci];
          for (int j = 0; j < NJ; ++j) acc[p][j] += wv[j] * s;
        }
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < NJ; ++j) store(y + p * K + j * VL, acc[p][j]);
}

void forward_rows(const float* xpad, const float* w, float* y, int64_t H,
                  int64_t W, int64_t C, int64_t K, int64_t r0, int64_t r1) {
  const int64_t Wp = W + 2;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / H, oh = r % H;
    const float* rows[3];
    for (int kh = 0; kh < 3; ++kh)
      rows[kh] = xpad + ((n * (H + 2) + oh + kh) * Wp) * C;
    float* yrow = y + r * W * K;
    for (int64_t co0 = 0; co0 < K; co0 += CB) {
      int64_t ow = 0;
      for (; ow + NP <= W; ow += NP)
        forward_tile<NP>(rows, ow, C, K, w, co0, yrow + ow * K + co0);
      float* yt = yrow + ow * K + co0;
      switch (W - ow) {
        case 5: forward_tile<5>(rows, ow, C, K, w, co0, yt); break;
        case 4: forward_tile<4>(rows, ow, C, K, w, co0, yt); break;
        case 3: forward_tile<3>(rows, ow, C, K, w, co0, yt); break;
        case 2: forward_tile<2>(rows, ow, C, K, w, co0, yt); break;
        case 1: forward_tile<1>(rows, ow, C, K, w, co0, yt); break;
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
    for (int64_t ow = 0; ow < W; ++ow) {
      vf gv[NJ];
      for (int j = 0; j < NJ; ++j) gv[j] = load(g + ow * K + j * VL);
      for (int i = 0; i < P; ++i) {
        const float s = x[ow * C + i];
        for (int j = 0; j < NJ; ++j) acc[i][j] += gv[j] * s;
      }
    }
  }
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < NJ; ++j) store(dw + (ci0 + i) * K + co0 + j * VL, acc[i][j]);
}

// Units u0 .. u1 of ((co block) * 9 + tap) * (ci blocks) + ci block, each
// over all pixels in chunks of whole rows.
void kernel_grad_units(const float* xpad, const float* g, float* dw, int64_t N,
                       int64_t H, int64_t W, int64_t C, int64_t K, int64_t u0,
                       int64_t u1) {
  const int64_t Wp = W + 2;
  const int64_t rows_total = N * H;
  const int64_t cib = (C + NPC - 1) / NPC;
  const int64_t chunk = std::max<int64_t>(1, (kDwChunkPixels + W - 1) / W);
  std::vector<const float*> xr(chunk), gr(chunk);
  for (int64_t r0 = 0; r0 < rows_total; r0 += chunk) {
    const int nr = static_cast<int>(std::min(chunk, rows_total - r0));
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t ci0 = (u % cib) * NPC;
      const int64_t tap = (u / cib) % 9;
      const int64_t co0 = (u / cib / 9) * CB;
      const int64_t kh = tap / 3, kw = tap % 3;
      for (int q = 0; q < nr; ++q) {
        const int64_t r = r0 + q, n = r / H, oh = r % H;
        xr[q] = xpad + ((n * (H + 2) + oh + kh) * Wp) * C;
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

ffi::Error check_shapes(ffi::Span<const int64_t> x, int64_t k_dim) {
  if (x.size() != 4 || x[1] < 3 || x[2] < 3)
    return ffi::Error::InvalidArgument(
        "conv3x3: the input must be padded NHWC, [N][H+2][W+2][C]");
  if (k_dim % CB != 0)
    return ffi::Error::InvalidArgument(
        "conv3x3: output channels must be a multiple of conv3x3_channel_block()");
  return ffi::Error::Success();
}

ffi::Error Forward(ffi::Buffer<ffi::F32> xpad, ffi::Buffer<ffi::F32> w,
                   ffi::ResultBuffer<ffi::F32> y, int64_t threads) {
  const auto d = xpad.dimensions();
  const auto wd = w.dimensions();
  if (wd.size() != 4 || wd[0] != 3 || wd[1] != 3 || wd[2] != d[3])
    return ffi::Error::InvalidArgument("conv3x3: the kernel must be [3][3][C][K]");
  if (ffi::Error e = check_shapes(d, wd[3]); e.failure()) return e;
  const int64_t N = d[0], H = d[1] - 2, W = d[2] - 2, C = d[3], K = wd[3];
  const float* xp = xpad.typed_data();
  const float* wp = w.typed_data();
  float* yp = y->typed_data();
  parallel(N * H, threads, [=](int64_t a, int64_t b) {
    forward_rows(xp, wp, yp, H, W, C, K, a, b);
  });
  return ffi::Error::Success();
}

ffi::Error KernelGrad(ffi::Buffer<ffi::F32> xpad, ffi::Buffer<ffi::F32> g,
                      ffi::ResultBuffer<ffi::F32> dw, int64_t threads) {
  const auto d = xpad.dimensions();
  const auto gd = g.dimensions();
  if (ffi::Error e = check_shapes(d, gd.size() == 4 ? gd[3] : 0); e.failure()) return e;
  const int64_t N = d[0], H = d[1] - 2, W = d[2] - 2, C = d[3], K = gd[3];
  if (gd[0] != N || gd[1] != H || gd[2] != W)
    return ffi::Error::InvalidArgument("conv3x3: the gradient must be [N][H][W][K]");
  float* dp = dw->typed_data();
  std::memset(dp, 0, sizeof(float) * 9 * C * K);
  const float* xp = xpad.typed_data();
  const float* gp = g.typed_data();
  const int64_t units = (K / CB) * 9 * ((C + NPC - 1) / NPC);
  parallel(units, threads, [=](int64_t a, int64_t b) {
    kernel_grad_units(xp, gp, dp, N, H, W, C, K, a, b);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_conv3x3_forward, Forward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_conv3x3_kernel_grad, KernelGrad,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("threads"));

// Output channels per tile: the kernels need K (and, for the input
// gradient, C) to be a multiple of it.
extern "C" int mlperf_jax_conv3x3_channel_block() { return CB; }
