# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Reading the official compliance checker's verdict on smoke logs."""


def assert_only_the_target_fails(result, target: str) -> None:
  """A reference smoke log (a step or two on random data) must fail the
  official checker on the quality target `target` (e.g. '0.720') and on
  nothing else; the target appearing in the output shows the checker read
  the log to its end."""
  assert not result.passed, result.output
  complaints = [l for l in result.output.splitlines()
                if 'fail' in l.lower() or 'required' in l.lower()
                or 'error' in l.lower() or 'warning' in l.lower()]
  assert complaints, result.output
  for line in complaints:
    assert ('eval_accuracy' in line or f"v['value'] >= {target}" in line
            or line.strip().endswith('FAILED')), result.output
  assert target in result.output
