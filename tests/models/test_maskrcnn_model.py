# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN model: reference parameter counts, frozen parts, STRIDE_IN_1X1,
FrozenBatchNorm and FPN shapes (maskrcnn-benchmark e2e_mask_rcnn_R_50_FPN_1x).
"""

import flax
import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.models import maskrcnn as m


def _abstract_variables(cfg, hw=128, channels=3):
  model = m.MaskRCNN(cfg)
  batch = {'image': jnp.zeros((1, hw, hw, channels)),
           'image_hw': jnp.full((1, 2), hw, jnp.int32)}
  return flax.linen.meta.unbox(jax.eval_shape(
      lambda: model.init({'params': jax.random.key(0)}, batch, train=False)))


def _size(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_reference_parameter_counts_equal_maskrcnn_benchmark():
  v = _abstract_variables(m.reference_config())
  # sum(p.numel() for p in model.parameters()) and the requires_grad ones.
  assert m.parameter_counts(v) == (44_347_573, 44_125_173)
  # The frozen part is exactly the stem and res2 convs (FREEZE_CONV_BODY_AT
  # 2): 7*7*3*64 + res2's three bottlenecks with their downsample.
  frozen = v['frozen']['backbone']
  assert sorted(frozen) == ['res2_0', 'res2_1', 'res2_2', 'stem_conv']
  res2 = (64 * 64 + 9 * 64 * 64 + 64 * 256 + 64 * 256) + 2 * (
      256 * 64 + 9 * 64 * 64 + 64 * 256)
  assert _size(frozen) == 7 * 7 * 3 * 64 + res2 == 222_400
  # FrozenBatchNorm buffers: four per channel of each of the 53 norms.
  assert _size(v['frozen_bn']) == 4 * 26_560
  p = v['params']
  assert p['box_head']['fc6']['kernel'].shape == (256 * 7 * 7, 1024)
  assert p['box_head']['bbox_pred']['kernel'].shape == (1024, 81 * 4)
  assert p['mask_head']['conv5_mask']['kernel'].shape == (2, 2, 256, 256)
  assert p['mask_head']['mask_fcn_logits']['kernel'].shape == (1, 1, 256, 81)
  assert p['rpn']['bbox_pred']['kernel'].shape == (1, 1, 256, 12)


def test_stride_sits_in_the_first_1x1_and_fpn_levels_have_strides_4_to_64():
  cfg = m.reference_config()
  model = m.MaskRCNN(cfg)
  x = {'image': jnp.zeros((1, 128, 192, 3)),
       'image_hw': jnp.asarray([[128, 192]], jnp.int32)}
  variables = jax.eval_shape(
      lambda: model.init({'params': jax.random.key(0)}, x, train=False))

  def feats(v):
    return model.apply(v, x['image'], method=lambda mdl, im: mdl.backbone(im),
                       capture_intermediates=True, mutable=['intermediates'])
  outs, inter = jax.eval_shape(feats, variables)
  assert [o.shape[1:3] for o in outs] == [(32, 48), (16, 24), (8, 12),
                                          (4, 6), (2, 3)]
  blk = inter['intermediates']['backbone']['res3_0']
  # STRIDE_IN_1X1: conv1 already halves 32x48, conv2 keeps 16x24.
  assert blk['conv1']['__call__'][0].shape[1:3] == (16, 24)
  assert blk['conv2']['__call__'][0].shape[1:3] == (16, 24)


def test_frozen_batch_norm_has_no_epsilon():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
  w, b = rng.uniform(0.5, 2, 4), rng.normal(size=4)
  mean, var = rng.normal(size=4), rng.uniform(1e-4, 1e-3, 4)
  bn = m.FrozenBN()
  variables = {'frozen_bn': {'weight': w, 'bias': b, 'running_mean': mean,
                             'running_var': var}}
  got = np.asarray(bn.apply(variables, jnp.asarray(x)))
  scale = w / np.sqrt(var)
  np.testing.assert_allclose(got, x * scale + (b - mean * scale), rtol=1e-5)


def test_mini_is_small_and_fully_trainable():
  v = _abstract_variables(m.mini_config(), 64, 1)
  total, trainable = m.parameter_counts(v)
  assert total == trainable and 5e5 < trainable < 2e6
  assert 'frozen' not in v and 'frozen_bn' not in v
