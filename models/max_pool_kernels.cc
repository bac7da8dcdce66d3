// Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
//
// Max pooling over NHWC activations on the CPU, as XLA FFI custom calls
// (models/cpu_kernels.py builds this file, models/max_pool.py calls it):
//
//   mlperf_jax_max_pool_forward(x[N][H][W][C]) -> y[N][Ho][Wo][C]
//   mlperf_jax_max_pool_backward(x[N][H][W][C], g[N][Ho][Wo][C]) -> dx[N][H][W][C]
//
// attributes kh, kw (window), sh, sw (strides), pt, pl (padding before;
// padded positions count as -inf). The backward pass recomputes each
// window's maximum from x and gives the output's gradient to the first tap
// in row-major window order that holds it (the tap XLA's select-and-scatter
// picks), so no index tensor is stored. Forward work is split by output
// rows, backward by images (each image's dx is summed by one thread in a
// fixed order): results do not depend on the thread count.
#include <cstdint>
#include <cstring>
#include <limits>

#include "cpu_kernel_support.h"

namespace {

using mlperf_jax::load;
using mlperf_jax::parallel_for;
using mlperf_jax::store;
using mlperf_jax::vf;
using mlperf_jax::VL;
namespace ffi = xla::ffi;

typedef int32_t vi __attribute__((vector_size(VL * 4)));

struct Geometry {
  int64_t N, H, W, C, Ho, Wo, kh, kw, sh, sw, pt, pl;
  // The window's valid input rows [h0, h1) and columns [w0, w1).
  void rows(int64_t oh, int64_t& h0, int64_t& h1) const {
    h0 = oh * sh - pt;
    h1 = std::min(H, h0 + kh);
    h0 = std::max<int64_t>(0, h0);
  }
  void cols(int64_t ow, int64_t& w0, int64_t& w1) const {
    w0 = ow * sw - pl;
    w1 = std::min(W, w0 + kw);
    w0 = std::max<int64_t>(0, w0);
  }
};

void forward_row(const Geometry& q, const float* x, float* y, int64_t r) {
  const int64_t n = r / q.Ho, oh = r % q.Ho, C = q.C;
  int64_t h0, h1;
  q.rows(oh, h0, h1);
  const float* xn = x + n * q.H * q.W * C;
  float* yr = y + r * q.Wo * C;
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t ow = 0; ow < q.Wo; ++ow) {
    int64_t w0, w1;
    q.cols(ow, w0, w1);
    float* yo = yr + ow * C;
    int64_t c = 0;
    for (; c + VL <= C; c += VL) {
      vf best = vf{} + lowest;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) {
          const vf v = load(xn + (h * q.W + w) * C + c);
          best = v > best ? v : best;
        }
      store(yo + c, best);
    }
    for (; c < C; ++c) {
      float best = lowest;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w)
          best = std::max(best, xn[(h * q.W + w) * C + c]);
      yo[c] = best;
    }
  }
}

void backward_image(const Geometry& q, const float* x, const float* g,
                    float* dx, int64_t n) {
  const int64_t C = q.C, plane = q.H * q.W * C;
  const float* xn = x + n * plane;
  float* dn = dx + n * plane;
  std::memset(dn, 0, sizeof(float) * plane);
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t oh = 0; oh < q.Ho; ++oh) {
    int64_t h0, h1;
    q.rows(oh, h0, h1);
    for (int64_t ow = 0; ow < q.Wo; ++ow) {
      int64_t w0, w1;
      q.cols(ow, w0, w1);
      const float* go = g + ((n * q.Ho + oh) * q.Wo + ow) * C;
      int64_t c = 0;
      for (; c + VL <= C; c += VL) {
        vf best = vf{} + lowest;
        vi arg = vi{} - 1;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const vf v = load(xn + (h * q.W + w) * C + c);
            const vi take = v > best;
            best = take ? v : best;
            arg = take ? (vi{} + static_cast<int32_t>(h * q.W + w)) : arg;
          }
        const vf gv = load(go + c);
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const vi here = arg == static_cast<int32_t>(h * q.W + w);
            float* d = dn + (h * q.W + w) * C + c;
            store(d, load(d) + (here ? gv : vf{}));
          }
      }
      for (; c < C; ++c) {
        float best = lowest;
        int64_t arg = -1;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w)
            if (xn[(h * q.W + w) * C + c] > best) {
              best = xn[(h * q.W + w) * C + c];
              arg = h * q.W + w;
            }
        if (arg >= 0) dn[arg * C + c] += go[c];
      }
    }
  }
}

ffi::Error make_geometry(ffi::Span<const int64_t> xd, ffi::Span<const int64_t> yd,
                         int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                         int64_t pt, int64_t pl, Geometry& q) {
  if (xd.size() != 4 || yd.size() != 4 || xd[0] != yd[0] || xd[3] != yd[3] ||
      kh < 1 || kw < 1 || sh < 1 || sw < 1 || pt < 0 || pl < 0 || pt >= kh ||
      pl >= kw)
    return ffi::Error::InvalidArgument(
        "max_pool: want x [N][H][W][C], y [N][Ho][Wo][C], a window, strides "
        "and padding before smaller than the window");
  q = Geometry{xd[0], xd[1], xd[2], xd[3], yd[1], yd[2], kh, kw, sh, sw, pt, pl};
  if (q.H * q.W >= (int64_t{1} << 31))
    return ffi::Error::InvalidArgument("max_pool: image too large");
  return ffi::Error::Success();
}

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                   ffi::ResultBuffer<ffi::F32> y, int64_t kh, int64_t kw,
                   int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                   int64_t threads) {
  Geometry q;
  if (ffi::Error e = make_geometry(x.dimensions(), y->dimensions(), kh, kw, sh,
                                   sw, pt, pl, q);
      e.failure())
    return e;
  const float* xp = x.typed_data();
  float* yp = y->typed_data();
  parallel_for(pool, q.N * q.Ho, threads,
               [=](int64_t r) { forward_row(q, xp, yp, r); });
  return ffi::Error::Success();
}

ffi::Error Backward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                    ffi::Buffer<ffi::F32> g, ffi::ResultBuffer<ffi::F32> dx,
                    int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                    int64_t pl, int64_t threads) {
  Geometry q;
  if (ffi::Error e = make_geometry(x.dimensions(), g.dimensions(), kh, kw, sh,
                                   sw, pt, pl, q);
      e.failure())
    return e;
  const float* xp = x.typed_data();
  const float* gp = g.typed_data();
  float* dp = dx->typed_data();
  parallel_for(pool, q.N, threads,
               [=](int64_t n) { backward_image(q, xp, gp, dp, n); });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_max_pool_forward, Forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  MLPERF_JAX_WINDOW_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_max_pool_backward, Backward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  MLPERF_JAX_WINDOW_ATTRS);
