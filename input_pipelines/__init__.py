# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Host-side input pipelines for the mlperf_jax workloads.

Everything here runs on the host in numpy (plus PIL and tensorflow-datasets'
TensorFlow-free `data_source` for the reference data) and yields dicts of numpy
arrays: one host's slice of one global batch per step. Modules:

* `batching`: deterministic, resumable, host-sharded train and eval batching
  over any indexable dataset.
* `image_ops`: the MLPerf ResNet-50 image preprocessing in numpy/PIL.
* `imagenet`: ImageNet 2012 as prepared for tensorflow-datasets.
* `digits`: scikit-learn's bundled 8x8 digits, the offline mini dataset.
* `synthetic`: random data of given shapes for smoke and throughput runs.

Import the modules by their full name, e.g.
`from mlperf_jax.input_pipelines import batching`.
"""
