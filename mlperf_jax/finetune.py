# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.finetune --workload bert ...`: BERT on SQuAD.

Fine-tunes a pre-trained BERT (the `final_params` of a `train` run, or a
reference-format TF checkpoint prefix) with the SQuAD span head, as
google-research/bert `run_squad.py` (`mlperf_jax.inference.squad_finetune`),
and writes the result as `<output-dir>/final_params`, which
`python -m mlperf_jax.infer --workload bert --checkpoint ...` serves.

  Mini: python -m mlperf_jax.finetune --workload bert \\
            --checkpoint RUN/final_params --output-dir D
        (the mini QA set built from the mini corpus; without --checkpoint
        the mini BERT is pre-trained first). Prints the held-out EM / F1.
  Reference: python -m mlperf_jax.finetune --workload bert --scale reference
            --checkpoint bert_model.ckpt --train-file train-v1.1.json \\
            --vocab vocab.txt --output-dir D
        (sequence 384, stride 128, query 64; defaults 2 epochs at 5e-5,
        batch 32). A mini model is not an MLPerf result.

Exit codes: 0 done; 2 bad input (reported before anything is computed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from mlperf_jax.cli import checks


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog='python -m mlperf_jax.finetune',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', required=True, choices=('bert',))
  p.add_argument('--scale', choices=('mini', 'reference'), default='mini')
  p.add_argument('--checkpoint',
                 help='pre-trained parameters: a train run\'s final_params '
                 'or a TF checkpoint prefix (reference variable names)')
  p.add_argument('--train-file', help='SQuAD v1.1 training JSON (reference)')
  p.add_argument('--vocab', help='the model\'s uncased vocab.txt (reference)')
  p.add_argument('--output-dir', required=True,
                 help='new directory; final_params is written into it')
  p.add_argument('--learning-rate', type=float)
  p.add_argument('--epochs', type=float)
  p.add_argument('--batch-size', type=int)
  p.add_argument('--seed', type=int, default=0)
  return p


def _problems(args) -> list[str]:
  out = []
  if args.scale == 'reference':
    for flag, v in (('--checkpoint', args.checkpoint),
                    ('--train-file', args.train_file), ('--vocab', args.vocab)):
      if not v:
        out.append(f'--scale reference needs {flag}')
  for flag, v in (('--train-file', args.train_file), ('--vocab', args.vocab)):
    if v and not os.path.isfile(v):
      out.append(f'{flag} {v!r} is not a file')
  if args.checkpoint and not (os.path.exists(args.checkpoint)
                              or os.path.isfile(args.checkpoint + '.index')):
    out.append(f'--checkpoint {args.checkpoint!r} does not exist (a train '
               "run's final_params directory or a TF checkpoint prefix)")
  if os.path.exists(os.path.join(args.output_dir, 'final_params')):
    out.append(f'--output-dir {args.output_dir!r} already holds final_params; '
               'they are never overwritten: choose a new directory')
  else:
    d = checks.writable_dir_problem('--output-dir', args.output_dir)
    if d:
      out.append(d)
  for flag, v in (('--learning-rate', args.learning_rate),
                  ('--epochs', args.epochs), ('--batch-size', args.batch_size)):
    if v is not None and not v > 0:
      out.append(f'{flag} {v} must be > 0')
  s = checks.seed_problem('--seed', args.seed)
  if s:
    out.append(s)
  return out


def _pretrained_encoder(workload, path: str | None):
  """The 'bert' subtree of pre-trained parameters."""
  import jax  # pylint: disable=import-outside-toplevel
  if path is None:
    from mlperf_jax.inference import run as inference_run  # pylint: disable=import-outside-toplevel
    return inference_run.trained_params(workload, None)[0]['bert']
  prefix = path[:-len('.index')] if path.endswith('.index') else path
  if os.path.isfile(prefix + '.index'):
    hp = workload.resolve_hparams()
    abstract = jax.eval_shape(workload.init, jax.random.PRNGKey(0), hp)[0]
    return workload.load_init_checkpoint(prefix, abstract, hp)['bert']
  from mlperf_jax.runtime import checkpoint as ckpt  # pylint: disable=import-outside-toplevel
  return ckpt.load_final_params(path, workload)[0]['bert']


def main(argv: list[str] | None = None) -> int:
  p = _parser()
  args = p.parse_args(argv)
  problems = _problems(args)
  if problems:
    checks.fail(p, problems)
  from mlperf_jax.runtime import compilation_cache  # pylint: disable=import-outside-toplevel
  compilation_cache.enable()
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  from mlperf_jax.inference import squad_finetune, squad_task  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import squad  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import checkpoint as ckpt  # pylint: disable=import-outside-toplevel
  from mlperf_jax.workloads import bert as bert_workload  # pylint: disable=import-outside-toplevel
  wl = workloads.get('bert', args.scale)
  try:
    if args.scale == 'mini':
      train = squad_task.mini('train')
      dev = squad_task.mini('dev')
      defaults = bert_workload.MINI_FINETUNE
    else:
      from mlperf_jax.input_pipelines import bert_tokenization  # pylint: disable=import-outside-toplevel
      train = squad_task.build(
          squad_task.read_json(args.train_file),
          bert_tokenization.load_vocab(args.vocab),
          max_seq_length=squad.MAX_SEQ_LENGTH, doc_stride=squad.DOC_STRIDE,
          max_query_length=squad.MAX_QUERY_LENGTH, is_training=True)
      dev, defaults = None, {}
    encoder = _pretrained_encoder(wl, args.checkpoint)
  except (OSError, ValueError, KeyError) as e:
    p.error(f'cannot fine-tune: {e}')
  fields = dict(defaults)
  for k in ('learning_rate', 'epochs', 'batch_size'):
    if getattr(args, k) is not None:
      fields[k] = getattr(args, k)
  fields['seed'] = args.seed
  fc = squad_finetune.FinetuneConfig(**fields)
  cfg = wl.model_config()
  try:
    params = squad_finetune.init_qa_params(cfg, encoder, fc.seed)
  except ValueError as e:
    p.error(f'cannot fine-tune: {e}')
  print(f'fine-tuning on {len(train.features)} windows of '
        f'{len(train.examples)} questions: {fc}', flush=True)
  params, losses = squad_finetune.finetune(cfg, params, train.arrays, fc,
                                           log_every=50)
  result = {'workload': 'bert', 'scale': args.scale, 'task': 'squad_v1.1',
            'finetune': fc.__dict__, 'final_loss': losses[-1]}
  if dev is not None:
    metrics = dev.score_array(squad_finetune.logits_of(cfg, params,
                                                       dev.arrays))
    result['dev'] = metrics
    print(f'held-out: f1 = {metrics["f1"]:.3f}, exact_match = '
          f'{metrics["exact_match"]:.3f} ({int(metrics["questions"])} '
          'questions)', flush=True)
  out = os.path.join(args.output_dir, 'final_params')
  ckpt.save_final_params(out, params, {}, result)
  with open(os.path.join(args.output_dir, 'finetune.json'), 'w') as f:
    json.dump(result, f, indent=1, default=str)
  print(f'fine-tuned parameters: {out}', flush=True)
  if args.scale == 'mini':
    print('(mini scale: a scaled-down model and data set; not an MLPerf '
          'result)', flush=True)
  return 0


if __name__ == '__main__':
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
