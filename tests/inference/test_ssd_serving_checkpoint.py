# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD served from `load_serving_checkpoint`: at the reference scale MLPerf
Inference v1.x's SSD-ResNet-34 1200 (not the training SSD300) from a
`torch.save` file in the layout of the official `resnet34-ssd1200.pytorch`,
BatchNorm statistics included; QSL samples at 1200x1200.

The files are written here without torch (`support/torch_checkpoint_writer`);
their keys are our importer's names, whose match with the reference module
tree `tests/models/test_ssd_r34_1200.py` checks against a transcription.
"""

import json
import math

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util
from PIL import Image
from support import torch_checkpoint_writer as tw

from mlperf_jax import workloads
from mlperf_jax.inference import run as inference_run
from mlperf_jax.models import ssd as ssd_model
from mlperf_jax.models import ssd_reference_weights as refw


def _write_state_dict(path, shapes, rng):
  """A legacy-format `torch.save` state dict with a key per variable of
  `shapes` (torch layouts), every tensor a view into one shared storage at
  its own offset (as torch may store them; keeps the 1200 model's file at
  9 MB). Returns {(collection,) + path: our-layout value}."""
  flat = {(coll,) + k: v for coll in ('params', 'batch_stats')
          for k, v in traverse_util.flatten_dict(
              flax.linen.meta.unbox(shapes[coll])).items()}
  size = max(math.prod(v.shape) for v in flat.values()) + len(flat)
  storage = tw.Storage(rng.uniform(0.5, 1.5, size).astype(np.float32))
  state, want = {}, {}
  for i, (k, leaf) in enumerate(sorted(flat.items())):
    shape = leaf.shape if len(leaf.shape) != 4 else tuple(
        leaf.shape[j] for j in (3, 2, 0, 1))     # HWIO -> OIHW
    n = math.prod(shape)
    value = storage.data[i:i + n].reshape(shape)
    state[refw.reference_key(k[1:], k[0])] = tw.Tensor(value, storage, i)
    want[k] = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value
  state['model.layer1.1.num_batches_tracked'] = tw.Tensor(
      np.zeros((), np.int64))
  tw.save_legacy(state, str(path))
  return want


def _coco_val(root, sizes):
  """A COCO val2017 layout of `sizes` (h, w) random images, one box each."""
  rng = np.random.default_rng(0)
  (root / 'annotations').mkdir(parents=True)
  (root / 'val2017').mkdir()
  images, anns = [], []
  for i, (h, w) in enumerate(sizes, 1):
    name = f'{i:012d}.jpg'
    Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(
        root / 'val2017' / name)
    images.append({'id': i, 'file_name': name, 'height': h, 'width': w})
    anns.append({'id': i, 'image_id': i, 'category_id': 1, 'iscrowd': 0,
                 'bbox': [1.0, 2.0, 10.0, 8.0], 'area': 80.0})
  (root / 'annotations' / 'instances_val2017.json').write_text(json.dumps(
      {'images': images, 'annotations': anns,
       'categories': [{'id': 1, 'name': 'one'}]}))
  return root


def test_reference_serves_ssd_resnet34_1200_from_the_torch_file(tmp_path):
  wl = workloads.get('ssd', 'reference', data_dir=str(
      _coco_val(tmp_path / 'coco', [(30, 40), (50, 20)])))
  cfg = wl.serving_config()
  assert (cfg.image_size, cfg.head_stride, cfg.boxes.num_boxes) == (
      1200, 3, 15_130)
  assert wl.model_config().image_size == 300   # training: SSD300
  x = jax.ShapeDtypeStruct((1, 1200, 1200, 3), jnp.float32)
  shapes = jax.eval_shape(lambda x: ssd_model.SSD(cfg).init(
      jax.random.PRNGKey(0), x, train=False), x)
  assert ssd_model.param_count(shapes['params']) == 19_972_534
  want = _write_state_dict(tmp_path / 'resnet34-ssd1200.pytorch', shapes,
                           np.random.default_rng(1))
  assert (tmp_path / 'resnet34-ssd1200.pytorch').stat().st_size < 12e6
  # What `infer --checkpoint` calls.
  params, state = inference_run.trained_params(
      wl, str(tmp_path / 'resnet34-ssd1200.pytorch'))
  got = {**{('params',) + k: v for k, v in
            traverse_util.flatten_dict(params).items()},
         **{('batch_stats',) + k: v for k, v in traverse_util.flatten_dict(
             state['batch_stats']).items()}}
  assert set(got) == set(want) and len(want) > 150
  for k, v in want.items():
    np.testing.assert_array_equal(np.asarray(got[k]), v, err_msg=str(k))
  # The spec serves the 1200 model (SSD300's 8732 boxes would not decode
  # its maps) on QSL samples preprocessed at 1200x1200.
  spec = wl.inference()
  assert spec.count == 2
  sample = spec.load_sample(1)
  assert sample['image'].shape == (1200, 1200, 3)
  batch = {'image': x, 'index': jax.ShapeDtypeStruct((1,), jnp.int32)}
  out = jax.eval_shape(spec.predict, params, state, batch)
  assert out['boxes'].shape == (1, 200, 4)
  # Trained parameters are not the inference network; other files are
  # named problems.
  (tmp_path / 'final_params').mkdir()
  with pytest.raises(inference_run.InferenceInputError,
                     match='resnet34-ssd1200.pytorch'):
    inference_run.trained_params(wl, str(tmp_path / 'final_params'))
  (tmp_path / 'x.onnx').write_bytes(b'\x08\x07not torch')
  with pytest.raises(inference_run.InferenceInputError,
                     match='neither a torch zip checkpoint nor a legacy'):
    inference_run.trained_params(wl, str(tmp_path / 'x.onnx'))


def test_mini_serves_a_torch_file_of_its_own_tree(tmp_path):
  wl = workloads.get('ssd', 'mini')
  cfg = wl.serving_config()
  assert cfg == wl.model_config()
  x = jax.ShapeDtypeStruct((1, 64, 64, 1), jnp.float32)
  shapes = jax.eval_shape(lambda x: wl.model().init(
      jax.random.PRNGKey(0), x, train=False), x)
  want = _write_state_dict(tmp_path / 'mini.pt', shapes,
                           np.random.default_rng(2))
  params, state = wl.load_serving_checkpoint(str(tmp_path / 'mini.pt'))
  np.testing.assert_array_equal(
      state['batch_stats']['backbone']['bn1']['var'],
      want[('batch_stats', 'backbone', 'bn1', 'var')])
  np.testing.assert_array_equal(params['conf2']['kernel'],
                                want[('params', 'conf2', 'kernel')])
  # A state dict (zip format) with a key missing and one of another shape:
  # both named.
  torch = {refw.reference_key(k[1:], k[0]):
           v.transpose(3, 2, 0, 1) if v.ndim == 4 else v
           for k, v in want.items()}
  del torch['conf.2.bias']
  torch['loc.0.weight'] = np.zeros((16, 7, 3, 3), np.float32)
  tw.save_zip(torch, str(tmp_path / 'bad.pt'))
  with pytest.raises(ValueError) as e:
    wl.load_serving_checkpoint(str(tmp_path / 'bad.pt'))
  assert 'not SSD-ResNet-34 weights' in str(e.value)
  assert 'missing conf.2.bias' in str(e.value)
  assert 'loc.0.weight has shape (16, 7, 3, 3)' in str(e.value)
