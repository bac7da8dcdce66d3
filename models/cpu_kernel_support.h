// Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
//
// What the host-compiled XLA FFI kernels share (models/cpu_kernels.py builds
// every kernel source into one library): the vector type of the build's
// widest f32 FMA and a parallel loop on XLA's intra-op thread pool.
#ifndef MLPERF_JAX_MODELS_CPU_KERNEL_SUPPORT_H_
#define MLPERF_JAX_MODELS_CPU_KERNEL_SUPPORT_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "xla/ffi/api/ffi.h"

namespace mlperf_jax {

namespace ffi = xla::ffi;

#if defined(__AVX512F__)
constexpr int VL = 16;  // floats per vector
#else
constexpr int VL = 8;
#endif

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4)));

inline vf load(const float* p) { return *reinterpret_cast<const vfu*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }

// Runs f(i) for every i in [0, total): the calling thread and up to
// threads - 1 tasks on XLA's intra-op thread pool claim indices from a shared
// counter, so a pool thread busy with another thunk costs no waiting (the
// caller does its share) and no oversubscription (no threads of our own).
// The caller returns once every index is done; a task that starts later
// finds none left. Which thread runs an index does not change its result.
template <typename F>
void parallel_for(ffi::ThreadPool& pool, int64_t total, int64_t threads, F f) {
  struct Shared {
    std::atomic<int64_t> next{0}, done{0};
    int64_t total;
    F f;
    Shared(int64_t t, F fn) : total(t), f(std::move(fn)) {}
    void work() {
      for (int64_t i; (i = next.fetch_add(1)) < total;) {
        f(i);
        done.fetch_add(1, std::memory_order_release);
      }
    }
  };
  auto shared = std::make_shared<Shared>(total, std::move(f));
  const int64_t helpers =
      std::min<int64_t>(std::min(threads, pool.num_threads()), total) - 1;
  for (int64_t t = 0; t < helpers; ++t) pool.Schedule([shared] { shared->work(); });
  shared->work();
  while (shared->done.load(std::memory_order_acquire) < total)
    std::this_thread::yield();
}

}  // namespace mlperf_jax

// The attributes of a pooling or patch window, for an FFI binding.
#define MLPERF_JAX_WINDOW_ATTRS                                         \
  .Attr<int64_t>("kh").Attr<int64_t>("kw").Attr<int64_t>("sh")          \
      .Attr<int64_t>("sw").Attr<int64_t>("pt").Attr<int64_t>("pl")      \
      .Attr<int64_t>("threads")

#endif  // MLPERF_JAX_MODELS_CPU_KERNEL_SUPPORT_H_
