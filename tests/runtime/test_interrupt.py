"""Ctrl-C swallowed by a __del__ / gc callback is raised again at check()."""

import os
import signal
import sys
import time

import pytest

from mlperf_jax.runtime import interrupt


class _SignalInDel:
  """Delivers SIGINT while the interpreter runs a finalizer, where Python
  prints "Exception ignored" and drops the KeyboardInterrupt."""

  def __del__(self):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs here, inside __del__


def _swallowed_ctrl_c():
  obj = _SignalInDel()
  del obj


@pytest.fixture(autouse=True)
def _python_ctrl_c():
  """A terminal's SIGINT disposition (pytest-xdist workers ignore SIGINT)."""
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  yield
  signal.signal(signal.SIGINT, previous)


def test_swallowed_ctrl_c_is_raised_at_check(monkeypatch):
  ignored = []
  monkeypatch.setattr(sys, 'unraisablehook', ignored.append)
  with interrupt.CtrlC() as c:
    _swallowed_ctrl_c()  # does not raise: the finalizer swallowed it
    assert [u.exc_type for u in ignored] == [KeyboardInterrupt]
    assert c.pressed
    with pytest.raises(KeyboardInterrupt):
      c.check()
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_ctrl_c_check_passes_and_raise_is_immediate():
  with interrupt.CtrlC() as c:
    c.check()
    assert not c.pressed
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(1)
    assert c.pressed
