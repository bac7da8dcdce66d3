# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Win rate per generation of MiniGo mini runs, read from their MLLOG logs.

Each log's `eval_accuracy` records (the win rate against the shipped target,
`epoch_num` = generation) are drawn as one line per run, with the target
(0.5) and the trivial baselines' win rates against the same target, read
from the target file's `meta['baselines']` (measured by `python -m
mlperf_jax.selfplay.make_target`, see that module). A log of a package
(`results/SYSTEM/mini_minigo/result_*.txt`) or of a single run
(`runs/mini_minigo/.../mllog.txt`) both work:

  python benchmarks/minigo_winrate_plot.py PKG/results/*/mini_minigo/result_*.txt \\
      --out benchmarks/plots/minigo_mini_winrate.png
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=wrong-import-position
from mlperf_jax.selfplay import target_model  # noqa: E402
from mlperf_jax.submission import result_log  # noqa: E402

BASELINE_LABELS = {'random': 'uniformly random player',
                   'untrained_net_with_search': 'untrained net + search'}


def curves(paths: list[str]) -> list[tuple[result_log.ResultLog, list]]:
  """(parsed log, [(generation, win rate), ...]) of each log with evals."""
  out = []
  for p in paths:
    log = result_log.parse(p)
    pts = [(float(e), float(v)) for e, v in log.evals
           if isinstance(v, (int, float))]
    if not pts:
      raise SystemExit(f'{p}: no eval_accuracy records; pass MLLOG files of '
                       'MiniGo mini runs')
    out.append((log, pts))
  return out


def plot(runs, baselines: dict[str, float], out: str, title: str) -> None:
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(6.4, 3.8))
  last = 1
  for log, pts in runs:
    g, w = zip(*pts)
    last = max(last, max(g))
    ok = log.status == 'success'
    ax.plot(g, w, marker='o' if ok else 'x', ms=3.5, lw=1, alpha=0.8,
            label=f'seed {log.seed}' if len(runs) <= 10 else None)
  ax.axhline(0.5, color='k', ls='--', lw=1, label='target 0.5')
  for (name, rate), ls in zip(sorted(baselines.items()), (':', '-.')):
    ax.axhline(rate, color='gray', ls=ls, lw=1.2,
               label=f'{BASELINE_LABELS.get(name, name)} {rate:.2f}')
  ax.set_xlim(0.5, last + 0.5)
  ax.set_ylim(0, 1)
  ax.set_xlabel('generation (epoch_num)')
  ax.set_ylabel('win rate vs shipped target')
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=6, ncol=2, loc='upper left')
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  fig.savefig(out, dpi=90)
  plt.close(fig)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('logs', nargs='+', help='MLLOG files of mini MiniGo runs')
  p.add_argument('--out', required=True, help='PNG to write')
  p.add_argument('--target', default=target_model.SHIPPED,
                 help='target .npz whose meta holds the baselines')
  p.add_argument('--title', default='MiniGo mini (5x5): win rate against '
                 'the shipped target; not an MLPerf result')
  args = p.parse_args(argv)
  missing = [f for f in args.logs if not os.path.isfile(f)]
  if missing:
    print(f'error: no such log file(s): {", ".join(missing)}',
          file=sys.stderr)
    return 2
  runs = curves(args.logs)
  _, meta = target_model.load_npz(args.target)
  plot(runs, dict(meta.get('baselines', {})), args.out, args.title)
  for log, pts in runs:
    print(f'seed {log.seed}: {log.status}; win rate by generation '
          + ' '.join(f'{w:.3f}' for _, w in pts))
  print(f'wrote {args.out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
