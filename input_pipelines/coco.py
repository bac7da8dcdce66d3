# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""COCO 2017 detection data: the official annotation JSON, images on the host.

Layout under `--data-dir` (as downloaded from cocodataset.org):

    annotations/instances_train2017.json   train2017/<file_name>.jpg
    annotations/instances_val2017.json     val2017/<file_name>.jpg

As the SSD reference (`single_stage_detector/ssd/utils.py` `COCODetection`):

* categories are numbered 1..80 in the order the JSON lists them (0 is
  background); `category_ids[label]` maps back to the COCO id;
* every annotation of an image is kept, crowd ones included, with its box
  `[x, y, w, h]` turned into ltrb divided by the image's width and height;
* images without any annotation are dropped: 117,266 of 118,287 train
  images and 4,952 of 5,000 val images remain.

Images are decoded with PIL on the host as RGB uint8 (`decode_image`).
Mask R-CNN reads the same index (`index_images`) with its own filters.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np

TRAIN_IMAGES = 117_266            # train2017 images with annotations
VAL_IMAGES = 5000                 # val2017
VAL_IMAGES_WITH_ANNOTATIONS = 4952
NUM_CATEGORIES = 80
SPLITS = {'train': 'train2017', 'val': 'val2017'}


@dataclasses.dataclass(frozen=True)
class CocoImage:
  """One image record with its raw annotations (JSON dicts)."""
  image_id: int
  file_name: str
  height: int
  width: int
  annotations: tuple[Mapping[str, Any], ...]


@dataclasses.dataclass(frozen=True)
class CocoSplit:
  """A split: its image records (JSON order) and the category map."""
  name: str
  image_dir: str
  annotation_file: str
  images: tuple[CocoImage, ...]
  category_ids: tuple[int, ...]   # label -> COCO category id; [0] is 0
  label_of: Mapping[int, int]     # COCO category id -> label 1..80

  def __len__(self) -> int:
    return len(self.images)

  def image_path(self, i: int) -> str:
    return os.path.join(self.image_dir, self.images[i].file_name)


def paths(data_dir: str, split: str) -> tuple[str, str]:
  """(annotation JSON, image folder) of `split` ('train' or 'val')."""
  if split not in SPLITS:
    raise ValueError(f'unknown COCO split {split!r}; valid: {sorted(SPLITS)}')
  name = SPLITS[split]
  return (os.path.join(data_dir, 'annotations', f'instances_{name}.json'),
          os.path.join(data_dir, name))


def layout_problems(data_dir: str | None,
                    splits: Sequence[str] = ('train', 'val')) -> list[str]:
  """What is missing from a COCO 2017 folder (empty: nothing), without
  reading the JSON; each line names the fix."""
  if not data_dir:
    return ['COCO 2017 needs --data-dir: a folder holding annotations/'
            'instances_{train,val}2017.json and the train2017/ and val2017/ '
            'image folders (from cocodataset.org)']
  problems = []
  for split in splits:
    ann, images = paths(data_dir, split)
    if not os.path.isfile(ann):
      problems.append(f'COCO annotation file {ann} is missing; download '
                      'annotations_trainval2017.zip from cocodataset.org '
                      f'and unpack it into {data_dir}')
    if not os.path.isdir(images):
      problems.append(f'COCO image folder {images} is missing; unpack '
                      f'{SPLITS[split]}.zip into {data_dir}')
  return problems


def index_images(coco: Mapping[str, Any], *, drop_empty: bool = True
                 ) -> list[CocoImage]:
  """Image records in JSON order, each with its annotations (JSON order).

  Raises ValueError on a duplicate image id or an annotation naming an
  unknown image or category.
  """
  records: dict[int, tuple[dict, list]] = {}
  for img in coco['images']:
    if img['id'] in records:
      raise ValueError(f'COCO JSON lists image id {img["id"]} twice')
    records[img['id']] = (img, [])
  cats = {c['id'] for c in coco['categories']}
  for ann in coco['annotations']:
    if ann['image_id'] not in records:
      raise ValueError(f'COCO annotation {ann.get("id")} names unknown image '
                       f'{ann["image_id"]}')
    if ann['category_id'] not in cats:
      raise ValueError(f'COCO annotation {ann.get("id")} names unknown '
                       f'category {ann["category_id"]}')
    records[ann['image_id']][1].append(ann)
  return [CocoImage(int(img['id']), img['file_name'], int(img['height']),
                    int(img['width']), tuple(anns))
          for img, anns in records.values() if anns or not drop_empty]


def open_split(data_dir: str, split: str, *, drop_empty: bool = True
               ) -> CocoSplit:
  """Reads `split`'s annotation JSON (images without annotations dropped)."""
  ann_file, image_dir = paths(data_dir, split)
  with open(ann_file, encoding='utf-8') as f:
    coco = json.load(f)
  category_ids = (0,) + tuple(int(c['id']) for c in coco['categories'])
  return CocoSplit(
      name=split, image_dir=image_dir, annotation_file=ann_file,
      images=tuple(index_images(coco, drop_empty=drop_empty)),
      category_ids=category_ids,
      label_of={c: i for i, c in enumerate(category_ids) if i})


def boxes_and_labels(split: CocoSplit, i: int, *, normalize: bool = True
                     ) -> tuple[np.ndarray, np.ndarray]:
  """Image `i`'s boxes float32 [n, 4] ltrb (divided by width/height when
  `normalize`) and labels int32 [n] (1..80)."""
  img = split.images[i]
  xywh = np.asarray([a['bbox'] for a in img.annotations],
                    np.float64).reshape(-1, 4)
  ltrb = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
  if normalize:
    ltrb = ltrb / np.asarray([img.width, img.height] * 2, np.float64)
  labels = np.asarray([split.label_of[a['category_id']]
                       for a in img.annotations], np.int32)
  return ltrb.astype(np.float32), labels


def decode_image(path: str) -> np.ndarray:
  """An image file as RGB uint8 [H, W, 3] (grey and CMYK converted)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  with Image.open(path) as img:
    return np.asarray(img.convert('RGB'), np.uint8)
