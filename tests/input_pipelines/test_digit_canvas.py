# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The mini detection canvases: disjoint glyph pools, exact boxes and masks."""

import numpy as np
import pytest

from mlperf_jax.input_pipelines import digit_canvas as dc


@pytest.fixture(scope='module')
def small():
  return {s: dc.make_canvases(s, 60, seed=5) for s in dc.SPLITS}


def test_glyph_pools_are_disjoint_and_cover_the_digits():
  from sklearn import datasets
  raw = (datasets.load_digits().images / 16.0).astype(np.float32)
  pools = dc.glyph_pools()
  train, evl = pools['train'][0], pools['eval'][0]
  assert len(train) == dc.TRAIN_GLYPHS and len(evl) == dc.EVAL_GLYPHS
  # Which sklearn rows each pool holds (a glyph matches its own row).
  def rows(glyphs):
    flat = raw.reshape(len(raw), -1)
    return {int(np.flatnonzero((flat == g.ravel()).all(1))[0])
            for g in glyphs}
  tr, ev = rows(train), rows(evl)
  assert len(tr) + len(ev) == 1797 and not tr & ev
  assert set(pools['eval'][1]) == set(range(10))


def test_boxes_are_the_tight_bounds_of_exact_masks(small):
  for split in dc.SPLITS:
    c = small[split]
    assert c.image.shape == (60, dc.CANVAS_SIZE, dc.CANVAS_SIZE, 1)
    assert set(c.num_instances.tolist()) <= {1, 2, 3}
    for n in range(len(c)):
      k = c.num_instances[n]
      assert (c.labels[n, :k] >= 1).all() and (c.labels[n, :k] <= 10).all()
      assert (c.labels[n, k:] == 0).all() and not c.masks[n, k:].any()
      # Instances never share a pixel.
      assert c.masks[n].sum(0).max() <= 1
      for i in range(k):
        m = c.masks[n, i]
        ys, xs = np.nonzero(m)
        np.testing.assert_array_equal(
            c.boxes[n, i], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        w = c.boxes[n, i, 2] - c.boxes[n, i, 0]
        assert 2 <= w <= dc.GLYPH_SIZES[1]
        # Mask pixels are bright glyph pixels under the noise.
        assert c.image[n, ..., 0][m].mean() > 0.5
    # Background is noise around 0.
    bg = ~c.masks.any(1)
    assert abs(c.image[..., 0][bg].mean()) < 0.05


def test_splits_are_fixed_and_seeded(small):
  again = dc.make_canvases('train', 60, seed=5)
  np.testing.assert_array_equal(again.image, small['train'].image)
  other = dc.make_canvases('train', 60, seed=6)
  assert not np.array_equal(other.boxes, small['train'].boxes)
  with pytest.raises(ValueError, match='split'):
    dc.make_canvases('test', 1, seed=0)


def test_coco_ground_truth_layout(small):
  from pycocotools import mask as mask_util
  c = small['eval']
  gt = dc.coco_ground_truth(c)
  assert [im['id'] for im in gt['images']] == c.image_id.tolist()
  assert len(gt['annotations']) == int(c.num_instances.sum())
  assert [x['id'] for x in gt['categories']] == list(range(1, 11))
  ann = gt['annotations'][0]
  x0, y0, x1, y1 = c.boxes[0, 0]
  assert ann['bbox'] == [x0, y0, x1 - x0, y1 - y0]
  decoded = mask_util.decode(dict(ann['segmentation'],
                                  counts=ann['segmentation']['counts']))
  np.testing.assert_array_equal(decoded.astype(bool), c.masks[0, 0])
  assert ann['area'] == c.masks[0, 0].sum() and ann['iscrowd'] == 0
