# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""RNN-T speech recognition on LibriSpeech (reference) and on synthesised
spoken numbers (mini).

Reference: MLPerf Training v1.x `rnnt` (mlcommons/training
`rnn_speech_recognition/pytorch`): the 49,006,080-parameter RNN-T
(`models/rnnt.py`) on LibriSpeech 960 h (utterances <= 16.7 s) with the
1023-piece SentencePiece vocabulary + blank, the reference features
(`input_pipelines/audio_features.py`, speed perturbation and SpecAugment in
training), the transducer loss (`models/transducer_loss.py`, mean over the
batch as warp-rnnt's), LAMB with the reference schedule
(`hparams/rnnt.py`), 6 length buckets; evaluated every epoch on dev-clean
(2,703 utterances) with the EMA weights (decay `model_eval_ema_factor`),
greedy decoding (<= 30 symbols per frame, 300 per utterance), WER over the
set; target WER <= 0.058.

EMA: the train state's `model_state['ema']` holds the reference's EMA as of
the parameters the current step starts from (initialised to the initial
weights, updated inside the loss with the step's input parameters, out of
the gradient); evaluation applies the last update with the current
parameters, so it evaluates exactly `E_N = d E_{N-1} + (1 - d) p_N`, the
reference's `apply_ema` after N optimizer steps.

Mini: the same model code, narrower (`models.rnnt.mini_config`, 0.69 M
parameters, 48 SentencePiece pieces + blank), on espeak-ng speech of spelled-out
numbers (`input_pipelines/spoken_numbers.py`: 7 voices train, a held-out
8th voice is the eval set), the reference feature pipeline and decoder,
LAMB with a short warmup. The target (WER <= 0.058, the MLPerf number) is
this project's own and a mini run is not an MLPerf result; the empty output
scores WER 1.0 on the eval set.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from mlperf_jax.api import (InferenceSpec, LazyModule, Target, Variant,
                            Workload, scenario_buckets)
from mlperf_jax.hparams import registry
from mlperf_jax.hparams import rnnt as rnnt_hparams

# Imported on first use: reading the variants imports no JAX.
jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
traverse_util = LazyModule('flax.traverse_util')
linen = LazyModule('flax.linen')
rnnt_model = LazyModule('mlperf_jax.models.rnnt')
rnnt_decode = LazyModule('mlperf_jax.models.rnnt_decode')
transducer_loss = LazyModule('mlperf_jax.models.transducer_loss')
librispeech = LazyModule('mlperf_jax.input_pipelines.librispeech')
audio_features = LazyModule('mlperf_jax.input_pipelines.audio_features')
spoken_numbers = LazyModule('mlperf_jax.input_pipelines.spoken_numbers')
wer_metric = LazyModule('mlperf_jax.metrics.wer')

DEV_CLEAN = 2703
# The reference's logged training-set size after the 16.7 s filter
# (NVIDIA's v1.1 log); used only when no dataset is read (synthetic data).
REFERENCE_TRAIN_SAMPLES = 278_528
# Synthetic reference batches: 16.7 s -> 1671 STFT frames -> 557 stacked,
# padded to 560; 128 SentencePiece labels.
REFERENCE_SYNTHETIC_BUCKET = (560, 128)
MINI_TRAIN = 700   # spoken_numbers.TRAIN_UTTERANCES (tested)
MINI_EVAL = 120    # spoken_numbers.EVAL_UTTERANCES
MINI_VOCAB = 48    # spoken_numbers.SENTENCEPIECE_VOCAB


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


@functools.lru_cache(maxsize=2)
def _mini_data(data_dir, augment):
  return spoken_numbers.SpokenNumbers(data_dir, augment=augment)


@functools.lru_cache(maxsize=1)
def _librispeech(root, max_duration, num_buckets):
  return librispeech.LibriSpeech(root, max_duration, num_buckets)


def _reference_data(wl, hp):
  return _librispeech(wl.data_dir, float(hp['data_train_max_duration']),
                      int(hp['data_train_num_buckets']))


# ---- data sources (signatures: see mlperf_jax.api.TrainData / EvalData) ----

def _mini_train(wl, data_dir, hp, *, seed, host, start_step):
  return _mini_data(data_dir, wl.variant.extra['augment']).train_batches(
      global_batch_size=int(hp['global_batch_size']), seed=seed, host=host,
      start_step=start_step)


def _mini_eval(wl, data_dir, hp, *, global_batch_size, host):
  return _mini_data(data_dir, wl.variant.extra['augment']).eval_batches(
      global_batch_size=global_batch_size, host=host)


def _ls_train(wl, data_dir, hp, *, seed, host, start_step):
  del data_dir
  return _reference_data(wl, hp).train_batches(
      global_batch_size=int(hp['global_batch_size']), seed=seed, host=host,
      start_step=start_step)


def _ls_eval(wl, data_dir, hp, *, global_batch_size, host):
  del data_dir
  return _reference_data(wl, hp).eval_batches(
      global_batch_size=global_batch_size, host=host)


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='rnnt',
        target=Target('wer', 0.058, higher_is_better=False),
        train_samples=REFERENCE_TRAIN_SAMPLES, eval_samples=DEV_CLEAN,
        num_runs=10, rulesets=('1.1.0', '3.1.0'),
        model=lambda dtype: rnnt_model.reference_config(dtype=_dtype(dtype)),
        train_data=_ls_train, eval_data=_ls_eval, needs_data_dir=True,
        eval_batch_size=None, eval_every_epochs=1, max_epochs=100,
        log_init_tensors=True, mlperf_conf_model='rnnt',
        # The joint + loss in chunks of 16 encoder frames, rematerialised.
        extra={'joint_chunk_frames': 16, 'augment': True,
               'tokenizer': 'sentencepiece'}),
    'mini': Variant(
        scale='mini', benchmark='mini_rnnt',
        target=Target('wer', 0.058, higher_is_better=False),
        # 5 runs a mini score (the official RNN-T needs 10): its RCP is 2N =
        # 10 runs of ~160 CPU-s each (rcps_mini.md).
        train_samples=MINI_TRAIN, eval_samples=MINI_EVAL, num_runs=5,
        rulesets=('mini',),
        defaults={
            'global_batch_size': 32,
            'opt_base_learning_rate': 0.02,
            'opt_learning_rate_warmup_epochs': 1,
            'opt_lamb_learning_rate_hold_epochs': 20,
            'opt_lamb_learning_rate_decay_poly_power': 0.9,
            'model_eval_ema_factor': 0.9,
            'data_train_num_buckets': 1,
        },
        model=lambda dtype: rnnt_model.mini_config(
            MINI_VOCAB + 1, dtype=_dtype(dtype), lstm_impl='auto'),
        train_data=_mini_train, eval_data=_mini_eval,
        eval_batch_size=64, first_eval_epochs=6, eval_every_epochs=2,
        max_epochs=60, mlperf_conf_model='rnnt',
        extra={'joint_chunk_frames': None, 'augment': True,
               'tokenizer': 'mini'}),
}


class RnntWorkload(Workload):
  """MLPerf speech recognition (`rnnt`)."""

  name = 'rnnt'
  variants = VARIANTS

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return rnnt_hparams.hparams(opt_name)

  def logged_train_samples(self, hp) -> int:
    if self.variant.needs_data_dir and self.data_dir and not self.synthetic:
      return len(_reference_data(self, hp).train)
    return self.variant.train_samples

  def steps_per_epoch(self, hp) -> int:
    if self.variant.needs_data_dir and self.data_dir and not self.synthetic:
      data = _reference_data(self, hp)
      return librispeech.batches_per_epoch(
          data.bucket_ids, data.num_buckets, self.global_batch_size(hp))
    return super().steps_per_epoch(hp)

  def check_request(self, hp, *, division, init_checkpoint, dry_run):
    del hp, division, init_checkpoint
    if self.synthetic or dry_run:
      return []
    if self.variant.needs_data_dir:
      return (librispeech.check_layout(self.data_dir) if self.data_dir
              else [])
    import shutil  # pylint: disable=import-outside-toplevel
    if shutil.which('espeak-ng') is None:
      return ['the mini RNN-T data are synthesised with espeak-ng, which is '
              'not installed: run `apt-get install espeak-ng`, or use '
              '--synthetic-data']
    return []

  # ---- model ---------------------------------------------------------------

  def model_config(self, hp=None):
    cfg = self.variant.model(self.compute_dtype)
    if hp is not None:
      cfg = dataclasses.replace(cfg, weights_init_scale=float(
          hp['model_weights_initialization_scale']))
    return cfg

  def model(self, hp=None):
    return rnnt_model.RNNT(self.model_config(hp))

  def init(self, rng, hp):
    cfg = self.model_config(hp)
    variables = self.model(hp).init(
        rng, jnp.zeros((1, 4, cfg.in_features), jnp.float32),
        jnp.array([4], jnp.int32), jnp.zeros((1, 2), jnp.int32))
    params = variables['params']
    return params, {'ema': linen.meta.unbox(params)}

  def _chunk(self):
    return self.variant.extra['joint_chunk_frames']

  def loss(self, params, model_state, batch, rng, hp):
    model = self.model(hp)
    v = {'params': params}
    enc_rng, pred_rng, joint_rng = jax.random.split(rng, 3)
    f, f_lens = model.apply(v, batch['feats'], batch['feat_lens'],
                            deterministic=False, rngs={'dropout': enc_rng},
                            method=model.encode)
    g, _ = model.apply(v, batch['labels'], deterministic=False,
                       rngs={'dropout': pred_rng}, method=model.predict)
    fp = model.apply(v, f, method=model.project_enc)
    gp = model.apply(v, g, method=model.project_pred)

    def joint(e, p, i):
      return model.apply(v, e, p, deterministic=False,
                         rngs={'dropout': jax.random.fold_in(joint_rng, i)},
                         method=model.joint)

    blank_lp, emit_lp = transducer_loss.joint_log_probs(
        joint, fp, gp, batch['labels'], model.cfg.blank, self._chunk())
    per = transducer_loss.loss_from_log_probs(
        blank_lp, emit_lp, f_lens, batch['label_lens'])
    decay = float(hp['model_eval_ema_factor'])
    ema = jax.tree.map(
        lambda e, p: decay * e + (1 - decay) * jax.lax.stop_gradient(p),
        model_state['ema'], params)
    n = jnp.asarray(per.shape[0], jnp.float32)
    return jnp.sum(per), n, ({'ema': ema}, {})

  def eval_params(self, params, model_state, hp):
    """The reference's EMA weights after the last step (see the module
    docstring)."""
    decay = float(hp['model_eval_ema_factor'])
    return jax.tree.map(lambda e, p: decay * e + (1 - decay) * p,
                        model_state['ema'], params)

  def eval_step(self, params, model_state, batch, hp):
    model = self.model(hp)
    hyp, hyp_lens = rnnt_decode.greedy_decode(
        model, self.eval_params(params, model_state, hp), batch['feats'],
        batch['feat_lens'],
        per_sample=int(hp['eval_max_prediction_symbols']))
    return {'hyp': hyp, 'hyp_lens': hyp_lens, 'labels': batch['labels'],
            'label_lens': batch['label_lens'], 'mask': batch['mask']}

  @functools.cached_property
  def tokenizer(self):
    """Label ids -> text: the mini's or the reference's SentencePiece
    model, or the ids themselves (synthetic reference data)."""
    if self.variant.extra['tokenizer'] == 'mini':
      return spoken_numbers.tokenizer(self.data_dir)
    if self.synthetic or not self.data_dir:
      return _IdTokenizer()
    import os  # pylint: disable=import-outside-toplevel
    return librispeech.SentencePieceTokenizer(
        os.path.join(self.data_dir, librispeech.SENTENCEPIECE_MODEL))

  def eval_accumulator(self):
    return wer_metric.WerAccumulator(self.tokenizer.decode)

  def param_labels(self, params):
    flat = traverse_util.flatten_dict(dict(params))

    def label(path):
      if path[-1] == 'embedding':
        return registry.EMBEDDING
      return registry.BIAS if path[-1].startswith('bias') else registry.KERNEL
    return traverse_util.unflatten_dict({p: label(p) for p in flat})

  def logical_axis_rules(self):
    return rnnt_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
    del params
    return list(rnnt_model.INIT_TENSOR_NAMES)

  def memory_report(self, hp, mesh_shape):
    b_dev = max(1, self.global_batch_size(hp) // max(
        1, math.prod(mesh_shape.values())))
    frames, labels = max(self._train_buckets(hp))
    t_enc = -(-frames // self.model_config().stack_time)
    vocab = self.model_config().num_classes
    whole = transducer_loss.joint_bytes(b_dev, t_enc, labels, vocab)
    chunk = self._chunk()
    lines = [f'RNN-T joint tensor per device (B={b_dev}, T={t_enc}, '
             f'U+1={labels + 1}, V={vocab}, float32): '
             f'{whole / 2**30:.2f} GiB whole']
    if chunk:
      part = transducer_loss.joint_bytes(b_dev, min(chunk, t_enc), labels,
                                         vocab)
      lines.append(f'  computed in chunks of {chunk} frames, rematerialised '
                   f'in the backward pass: {part / 2**30:.3f} GiB live per '
                   'chunk (logits; log-softmax and its gradient about 3x)')
    return '\n'.join(lines)

  # ---- data ----------------------------------------------------------------

  def _train_buckets(self, hp):
    if self.synthetic:
      return (REFERENCE_SYNTHETIC_BUCKET if self.variant.needs_data_dir
              else self._mini_bucket(),)
    if self.variant.needs_data_dir:
      if not self.data_dir:
        return (REFERENCE_SYNTHETIC_BUCKET,)
      data = _reference_data(self, hp)
      return tuple((f, data.max_labels) for f in data.bucket_sizes)
    return (self._mini_bucket(),)

  def _mini_bucket(self):
    data = _mini_data(self.data_dir, self.variant.extra['augment'])
    return (data.frames, data.max_labels)

  def buckets(self, hp, *, train):
    if train:
      return self._train_buckets(hp)
    if self.variant.needs_data_dir and self.data_dir and not self.synthetic:
      data = _reference_data(self, hp)
      return ((data.eval_frames, data.max_labels),)
    return (max(self._train_buckets(hp)),)

  def batch_spec(self, hp, *, train, bucket=None):
    if bucket is None:
      bucket = max(self.buckets(hp, train=train))
    frames, labels = bucket
    b = self.global_batch_size(hp) if train else self.eval_batch_size(hp)
    i32, f32 = jnp.int32, jnp.float32
    feats = self.model_config().in_features
    spec = {'feats': jax.ShapeDtypeStruct((b, frames, feats), f32),
            'feat_lens': jax.ShapeDtypeStruct((b,), i32),
            'labels': jax.ShapeDtypeStruct((b, labels), i32),
            'label_lens': jax.ShapeDtypeStruct((b,), i32)}
    if not train:
      spec['mask'] = jax.ShapeDtypeStruct((b,), f32)
    return spec

  def synthetic_bounds(self, hp):
    frames, labels = max(self.buckets(hp, train=True))
    return {'labels': self.model_config().blank, 'feat_lens': frames + 1,
            'label_lens': labels + 1}

  # ---- inference -----------------------------------------------------------

  def _inference_set(self):
    """(count, load_sample, reference transcript) of the served set: the
    mini's held-out voice with the training features, or LibriSpeech
    dev-clean with the inference features (the v1.x QSL, `QSL.py` with
    `parts/manifest.py`, keeps the utterances of at most 15 s: 2,513)."""
    if self.variant.needs_data_dir:
      utts = [u for u in librispeech.read_split(self.data_dir,
                                                librispeech.EVAL_SPLIT)
              if u.duration <= INFERENCE_MAX_SECONDS]
      if not utts:
        raise ValueError(f'--data-dir {self.data_dir!r} holds no '
                         f'{librispeech.EVAL_SPLIT} utterances (expected '
                         f'<data-dir>/{librispeech.EVAL_SPLIT}/<speaker>/'
                         '<chapter>/*.flac)')
      frames = librispeech.stacked_frames(
          int(INFERENCE_MAX_SECONDS * audio_features.SAMPLE_RATE))

      def load(i):
        f, n = audio_features.inference_features(librispeech.read_audio(
            utts[int(i)].path))
        return _padded_sample(f, n, frames)
      return len(utts), load, lambda i: utts[int(i)].transcript
    hp = self.resolve_hparams()
    frames, _ = max(self.buckets(hp, train=False))
    data = _mini_data(self.data_dir, self.variant.extra['augment'])
    unit = spoken_numbers.SPEEDS.index(1.0)

    def load_mini(i):
      j = int(data.eval_idx[int(i)])
      f, n = audio_features.splice(*data.log_mel(unit, j))
      return _padded_sample(f, n, frames)
    return (len(data.eval_idx), load_mini,
            lambda i: data.transcript(int(data.eval_idx[int(i)])))

  def serving_model(self):
    """The served model: the mini's own; at the reference scale the MLPerf
    Inference v1.x RNN-T (`models.rnnt.inference_config`, 29 characters),
    whose parameters `python -m mlperf_jax.inference.rnnt_checkpoint`
    imports from the official `rnnt.pt`."""
    if self.variant.needs_data_dir:
      return rnnt_model.RNNT(rnnt_model.inference_config(
          dtype=_dtype(self.compute_dtype)))
    return self.model(self.resolve_hparams())

  def predict(self, params, model_state, inputs):
    model = self.serving_model()
    if self.variant.needs_data_dir:
      classes = params['joint_net']['kernel'].shape[-1]
      if classes != model.cfg.num_classes:
        raise ValueError(
            f'these parameters have {classes} output classes; MLPerf '
            'Inference serves the 29-character RNN-T: import the official '
            'rnnt.pt with python -m mlperf_jax.inference.rnnt_checkpoint')
      # ScriptGreedyDecoder: 30 symbols per frame, no per-utterance limit.
      frames = inputs['feats'].shape[1]
      hyp, hyp_lens = rnnt_decode.greedy_decode(
          model, params, inputs['feats'], inputs['feat_lens'].reshape(-1),
          per_sample=rnnt_decode.MAX_SYMBOLS_PER_STEP * frames)
      return {'hyp': hyp, 'hyp_lens': hyp_lens}
    hp = self.resolve_hparams()
    hyp, hyp_lens = rnnt_decode.greedy_decode(
        model, self.eval_params(params, model_state, hp),
        inputs['feats'], inputs['feat_lens'].reshape(-1),
        per_sample=int(hp['eval_max_prediction_symbols']))
    return {'hyp': hyp, 'hyp_lens': hyp_lens}

  def inference(self) -> InferenceSpec:
    """MLPerf Inference speech recognition.

    Mini: the mini model on its held-out voice. Reference: the MLPerf
    Inference v1.x RNN-T on LibriSpeech dev-clean (<= 15 s) from
    `--data-dir`, with the inference features and characters. Samples are
    {'feats' [frames, 240], 'feat_lens' [1]} (features computed when the
    QSL loads them); each response is the hypothesis' label ids as
    little-endian int64, the bytes `accuracy_eval.py --output_dtype int64`
    reads; accuracy is the WER over the logged samples (for the mini, as
    the training eval computes it: the same EMA weights and decoder).
    """
    count, load_sample, transcript = self._inference_set()
    tok = (librispeech.CharTokenizer() if self.variant.needs_data_dir
           else self.tokenizer)

    def accuracy(responses):
      idx = sorted(responses)
      hyps = [tok.decode(np.frombuffer(responses[i], '<i8').tolist())
              for i in idx]
      refs = [transcript(i) for i in idx]
      out = {'wer': wer_metric.word_error_rate(hyps, refs) if idx
             else float('nan'), 'samples': float(len(idx))}
      return out

    return InferenceSpec(
        count=count, performance_count=count, load_sample=load_sample,
        buckets=scenario_buckets(INFERENCE_BUCKETS), predict=self.predict,
        encode=encode_tokens,
        accuracy=accuracy, metric='wer')


INFERENCE_MAX_SECONDS = 15.0
# Batch sizes compiled per LoadGen scenario (both scales).
INFERENCE_BUCKETS = {'SingleStream': (1,), 'Server': (1, 4, 16),
                     'Offline': (1, 16, 64)}


def _padded_sample(feats, length, frames):
  out = np.zeros((frames, feats.shape[1]), np.float32)
  n = min(length, frames, len(feats))
  out[:n] = feats[:n]
  # A 1-element length (the serving layer makes every leaf at least 1-D).
  return {'feats': out, 'feat_lens': np.asarray([n], np.int32)}


def encode_tokens(outputs, row: int) -> bytes:
  """The hypothesis of `row` as little-endian int64 label ids."""
  n = int(outputs['hyp_lens'][row])
  return np.asarray(outputs['hyp'][row, :n], '<i8').tobytes()


class _IdTokenizer:
  """Synthetic data: label ids as words (WER over ids)."""

  def decode(self, ids):
    return ' '.join(str(int(i)) for i in ids)
