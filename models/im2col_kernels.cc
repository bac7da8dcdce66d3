// Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
//
// Convolution patches (im2col) and their transpose (col2im) over NHWC
// activations on the CPU, as XLA FFI custom calls (models/cpu_kernels.py
// builds this file, models/conv_lowering.py calls it):
//
//   mlperf_jax_im2col(x[N][H][W][C]) -> p[N][Ho][Wo][kh*kw*C]
//   mlperf_jax_col2im(p[N][Ho][Wo][kh*kw*C]) -> x[N][H][W][C]
//
// attributes kh, kw (window), sh, sw (strides), pt, pl (zero padding
// before; after is implied by the shapes). The patch columns are tap-major
// (dy, dx, c), an HWIO kernel's reshape. XLA builds the patches as one
// strided slice per tap and a concatenation (ResNet-50's 7x7 stem: 49 slices
// of the image, about 60 ms a step) and their transpose as one pad per tap
// and a sum; here each is one pass. im2col is split by output rows, col2im
// by images (each image's sum by one thread in a fixed order), so results
// do not depend on the thread count.
#include <cstdint>
#include <cstring>

#include "cpu_kernel_support.h"

namespace {

using mlperf_jax::parallel_for;
namespace ffi = xla::ffi;

struct Window {
  int64_t N, H, W, C, Ho, Wo, kh, kw, sh, sw, pt, pl;
};

ffi::Error make_window(ffi::Span<const int64_t> xd, ffi::Span<const int64_t> pd,
                       int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                       int64_t pt, int64_t pl, Window& q) {
  if (xd.size() != 4 || pd.size() != 4 || xd[0] != pd[0] ||
      pd[3] != kh * kw * xd[3] || kh < 1 || kw < 1 || sh < 1 || sw < 1 ||
      pt < 0 || pl < 0)
    return ffi::Error::InvalidArgument(
        "im2col: want x [N][H][W][C] and patches [N][Ho][Wo][kh*kw*C], "
        "a window, strides and non-negative padding");
  q = Window{xd[0], xd[1], xd[2], xd[3], pd[1], pd[2], kh, kw, sh, sw, pt, pl};
  return ffi::Error::Success();
}

void im2col_row(const Window& q, const float* x, float* p, int64_t r) {
  const int64_t n = r / q.Ho, oh = r % q.Ho, C = q.C;
  const size_t bytes = sizeof(float) * C;
  float* out = p + r * q.Wo * q.kh * q.kw * C;
  for (int64_t ow = 0; ow < q.Wo; ++ow)
    for (int64_t dy = 0; dy < q.kh; ++dy) {
      const int64_t h = oh * q.sh - q.pt + dy;
      for (int64_t dx = 0; dx < q.kw; ++dx, out += C) {
        const int64_t w = ow * q.sw - q.pl + dx;
        if (h < 0 || h >= q.H || w < 0 || w >= q.W)
          std::memset(out, 0, bytes);
        else
          std::memcpy(out, x + ((n * q.H + h) * q.W + w) * C, bytes);
      }
    }
}

void col2im_image(const Window& q, const float* p, float* x, int64_t n) {
  const int64_t C = q.C;
  float* xn = x + n * q.H * q.W * C;
  std::memset(xn, 0, sizeof(float) * q.H * q.W * C);
  const float* in = p + n * q.Ho * q.Wo * q.kh * q.kw * C;
  for (int64_t oh = 0; oh < q.Ho; ++oh)
    for (int64_t ow = 0; ow < q.Wo; ++ow)
      for (int64_t dy = 0; dy < q.kh; ++dy) {
        const int64_t h = oh * q.sh - q.pt + dy;
        for (int64_t dx = 0; dx < q.kw; ++dx, in += C) {
          const int64_t w = ow * q.sw - q.pl + dx;
          if (h < 0 || h >= q.H || w < 0 || w >= q.W) continue;
          float* d = xn + (h * q.W + w) * C;
          for (int64_t c = 0; c < C; ++c) d[c] += in[c];
        }
      }
}

ffi::Error Im2col(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                  ffi::ResultBuffer<ffi::F32> p, int64_t kh, int64_t kw,
                  int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                  int64_t threads) {
  Window q;
  if (ffi::Error e = make_window(x.dimensions(), p->dimensions(), kh, kw, sh,
                                 sw, pt, pl, q);
      e.failure())
    return e;
  const float* xp = x.typed_data();
  float* pp = p->typed_data();
  parallel_for(pool, q.N * q.Ho, threads,
               [=](int64_t r) { im2col_row(q, xp, pp, r); });
  return ffi::Error::Success();
}

ffi::Error Col2im(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> p,
                  ffi::ResultBuffer<ffi::F32> x, int64_t kh, int64_t kw,
                  int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                  int64_t threads) {
  Window q;
  if (ffi::Error e = make_window(x->dimensions(), p.dimensions(), kh, kw, sh,
                                 sw, pt, pl, q);
      e.failure())
    return e;
  const float* pp = p.typed_data();
  float* xp = x->typed_data();
  parallel_for(pool, q.N, threads,
               [=](int64_t n) { col2im_image(q, pp, xp, n); });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_im2col, Im2col,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  MLPERF_JAX_WINDOW_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(mlperf_jax_col2im, Col2im,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  MLPERF_JAX_WINDOW_ATTRS);
