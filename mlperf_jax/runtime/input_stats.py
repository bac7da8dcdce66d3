# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Is the train loop input-bound? Where the host's time in it went.

The loop (`loop._train_block`) fetches each step's loss one step late, so
the host blocks on the device only at those fetches (and at the end of a
block); the rest of its time goes to the input pipeline (the next batch and
its transfer, `host_to_global`) and to dispatching. `InputStats` adds up,
per train block, the seconds in each and the block's wall time.

The rule (`classify`): the loop is **input-bound** when the host spent more
time in the input pipeline than waiting on the device, and that input time
is at least `MIN_INPUT_SHARE` (10 %) of the loop's wall time; otherwise it
is **compute-bound**. With one step in flight a step takes max(input,
device step) and the host waits max(0, device step - input), so the rule
flags a pipeline from more than half the device's step time on: the device
idles only beyond the whole step, but by then a little jitter in the
pipeline already costs steps (less than a 2x margin is called input-bound).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any, Iterator

# Input time below this share of the loop's wall time never makes the loop
# input-bound (the pipeline hardly matters, whatever the device did).
MIN_INPUT_SHARE = 0.10

INPUT_BOUND = 'input-bound'
COMPUTE_BOUND = 'compute-bound'


def classify(input_s: float, device_wait_s: float, loop_s: float) -> str:
  """`INPUT_BOUND` when `input_s` > `device_wait_s` and `input_s` >=
  `MIN_INPUT_SHARE` x `loop_s` (with `loop_s` > 0), else `COMPUTE_BOUND`."""
  if loop_s <= 0:
    return COMPUTE_BOUND
  if input_s > device_wait_s and input_s >= MIN_INPUT_SHARE * loop_s:
    return INPUT_BOUND
  return COMPUTE_BOUND


def predicted(input_per_step_s: float, step_s: float) -> str:
  """The verdict `classify` would give a run whose input takes
  `input_per_step_s` and whose device step takes `step_s` (one step in
  flight: each step lasts the longer of the two, and the host waits for
  the rest of the device's)."""
  wait = max(0.0, step_s - input_per_step_s)
  return classify(input_per_step_s, wait, max(input_per_step_s, step_s))


@dataclasses.dataclass
class InputStats:
  """Host seconds of this process's train loop (a resumed run counts from
  the resume; evaluation and MiniGo's self-play are not in it).

  Attributes:
    input_s: in the input pipeline: `next(train_iter)` and `host_to_global`.
    device_wait_s: blocked on the device: the loss fetches and the
      `block_until_ready` that ends each block.
    loop_s: wall time of the train blocks (both of the above, dispatch,
      progress bar and checkpoint hooks).
    steps: train steps they cover.
  """
  input_s: float = 0.0
  device_wait_s: float = 0.0
  loop_s: float = 0.0
  steps: int = 0

  @contextlib.contextmanager
  def timing(self, field: str) -> Iterator[None]:
    """Adds the seconds the `with` body takes to `field`."""
    t = time.perf_counter()
    try:
      yield
    finally:
      setattr(self, field, getattr(self, field) + time.perf_counter() - t)

  @property
  def verdict(self) -> str:
    return classify(self.input_s, self.device_wait_s, self.loop_s)

  @property
  def input_share(self) -> float:
    return self.input_s / self.loop_s if self.loop_s > 0 else 0.0

  def as_dict(self) -> dict[str, Any]:
    """For metrics.json: the seconds, the share and the verdict."""
    return {**dataclasses.asdict(self), 'input_share': self.input_share,
            'verdict': self.verdict}

  def line(self) -> str:
    """The run summary's line."""
    return (f'input pipeline: {self.input_s:.1f} s of {self.loop_s:.1f} s in '
            f'the train loop ({100 * self.input_share:.0f} %), host waited '
            f'{self.device_wait_s:.1f} s on the device: {self.verdict}')
