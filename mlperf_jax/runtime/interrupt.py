"""Ctrl-C that cannot be lost.

Python turns SIGINT into a KeyboardInterrupt raised wherever the main thread
happens to be. When that is inside a garbage-collection callback or a
`__del__` (JAX registers one: `_xla_gc_callback`), the interpreter prints
"Exception ignored" and the run goes on as if nothing happened. `CtrlC`
keeps the default behaviour (the exception is raised at once) and also
records the signal, so the training loop's `check()` at every step raises it
again if it was swallowed.
"""

from __future__ import annotations

import signal
import threading


class CtrlC:
  """Context manager: SIGINT -> KeyboardInterrupt now and at `check()`."""

  def __init__(self):
    self._flag = threading.Event()
    self._previous = None

  def __enter__(self) -> 'CtrlC':
    if (threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
      self._previous = signal.signal(signal.SIGINT, self._on_signal)
    return self

  def __exit__(self, *exc) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)
      self._previous = None

  def _on_signal(self, signum, frame) -> None:
    del signum, frame
    self._flag.set()
    raise KeyboardInterrupt

  @property
  def pressed(self) -> bool:
    return self._flag.is_set()

  def check(self) -> None:
    """Raises KeyboardInterrupt when Ctrl-C was pressed inside the block,
    even if the first KeyboardInterrupt was swallowed."""
    if self._flag.is_set():
      raise KeyboardInterrupt
