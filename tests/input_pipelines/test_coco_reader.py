# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The COCO 2017 reader on a locally made miniature of the official layout."""

import json

import numpy as np
import pytest
from PIL import Image

from mlperf_jax.input_pipelines import coco


def make_coco_dir(root, *, n_images=4, seed=0):
  """A COCO-layout folder: JSON with two categories (ids 3 and 1, in that
  order), image 2 without annotations, a crowd box on image 1."""
  rng = np.random.default_rng(seed)
  (root / 'annotations').mkdir(parents=True)
  for split in ('train2017', 'val2017'):
    (root / split).mkdir()
    images, anns = [], []
    for i in range(1, n_images + 1):
      h, w = 40 + 4 * i, 60 - 2 * i
      name = f'{i:012d}.jpg'
      pixels = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
      mode = 'L' if i == 3 else 'RGB'
      img = Image.fromarray(pixels).convert(mode)
      img.save(root / split / name, quality=95)
      images.append({'id': i, 'file_name': name, 'height': h, 'width': w})
      if i == 2:
        continue
      for k in range(i % 3 + 1):
        anns.append({'id': len(anns) + 1, 'image_id': i,
                     'category_id': (3, 1)[k % 2],
                     'bbox': [2.0 * k, 3.0, 10.0, 8.0 + k],
                     'iscrowd': int(i == 1 and k == 1), 'area': 80.0})
    cats = [{'id': 3, 'name': 'three'}, {'id': 1, 'name': 'one'}]
    (root / 'annotations' / f'instances_{split}.json').write_text(
        json.dumps({'images': images, 'annotations': anns,
                    'categories': cats}))
  return root


def test_reference_filters_and_label_map(tmp_path):
  root = make_coco_dir(tmp_path / 'coco')
  assert coco.layout_problems(str(root)) == []
  split = coco.open_split(str(root), 'train')
  # Image 2 has no annotation: dropped, as COCODetection does.
  assert [im.image_id for im in split.images] == [1, 3, 4]
  assert split.category_ids == (0, 3, 1) and split.label_of == {3: 1, 1: 2}
  boxes, labels = coco.boxes_and_labels(split, 0)
  img = split.images[0]
  # Image 1: two boxes, the crowd one kept; ltrb over width/height.
  np.testing.assert_array_equal(labels, [1, 2])
  np.testing.assert_allclose(
      boxes[1], [2 / img.width, 3 / img.height, 12 / img.width,
                 12 / img.height], rtol=1e-6)
  pixels, _ = coco.boxes_and_labels(split, 0, normalize=False)
  np.testing.assert_allclose(pixels[1], [2, 3, 12, 12])
  rgb = coco.decode_image(split.image_path(1))   # a grey JPEG
  assert rgb.shape == (img.height + 8, img.width - 4, 3)
  assert rgb.dtype == np.uint8 and (rgb[..., 0] == rgb[..., 1]).all()
  everything = coco.open_split(str(root), 'val', drop_empty=False)
  assert len(everything) == 4


def test_bad_layout_and_json_name_the_problem(tmp_path):
  problems = coco.layout_problems(str(tmp_path))
  assert len(problems) == 4 and 'instances_train2017.json' in problems[0]
  assert 'cocodataset.org' in problems[0]
  assert 'data-dir' in coco.layout_problems(None)[0]
  with pytest.raises(ValueError, match='unknown image 9'):
    coco.index_images({'images': [], 'categories': [],
                       'annotations': [{'id': 1, 'image_id': 9,
                                        'category_id': 1}]})
  with pytest.raises(ValueError, match='twice'):
    coco.index_images({'images': [{'id': 1}, {'id': 1}], 'categories': [],
                       'annotations': []})
  with pytest.raises(ValueError, match='split'):
    coco.paths(str(tmp_path), 'test')
