# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Test settings with the official defaults, conf files, effective values.

``TestSettings`` has the attribute names and defaults of the official
``mlperf_loadgen.TestSettings`` (6.0.17); ``FromConfig`` applies the embedded
``mlperf.conf`` and then a ``user.conf`` with the official keys, wildcards
(``model.scenario.key`` > ``*.scenario.key`` > ``model.*.key`` > ``*.*.key``),
units (ms, %) and restrictions (only the embedded file may set seeds).
Unlike the official parser, a malformed line raises ``ConfigError`` naming
the file and line instead of silently dropping the whole file, and so does a
user.conf key the official LoadGen would silently ignore (an unknown name or
scenario, a seed, a key of another scenario). Numbers parse as the official
``strtoull``/``strtod`` do (hexadecimal only with ``0x``).
``EffectiveSettings`` reproduces ``TestSettingsInternal``.
"""

import difflib
import enum
import math
import re

from mlperf_jax.loadgen import mlperf_conf


class TestScenario(enum.IntEnum):
  SingleStream = 0
  MultiStream = 1
  Server = 2
  Offline = 3


class TestMode(enum.IntEnum):
  SubmissionRun = 0
  AccuracyOnly = 1
  PerformanceOnly = 2
  FindPeakPerformance = 3


class LoggingMode(enum.IntEnum):
  AsyncPoll = 0
  EndOfTestOnly = 1
  Synchronous = 2


class ConfigError(ValueError):
  """A malformed or unreadable conf file, or settings a test cannot run."""


# Fields whose C++ type is double (they print as doubles in the logs).
DOUBLE_FIELDS = frozenset([
    'single_stream_expected_latency_ns',
    'single_stream_target_latency_percentile',
    'multi_stream_expected_latency_ns',
    'multi_stream_target_latency_percentile', 'server_target_qps',
    'server_target_latency_percentile',
    'server_find_peak_qps_boundary_step_size', 'offline_expected_qps',
    'accuracy_log_probability'
])

DEFAULTS = {
    'scenario': TestScenario.SingleStream,
    'mode': TestMode.PerformanceOnly,
    'single_stream_expected_latency_ns': 1000000.0,
    'single_stream_target_latency_percentile': 0.9,
    'multi_stream_expected_latency_ns': 8000000.0,
    'multi_stream_target_latency_percentile': 0.99,
    'multi_stream_samples_per_query': 8,
    'server_target_qps': 1.0,
    'server_target_latency_ns': 100000000,
    'server_target_latency_percentile': 0.99,
    'server_coalesce_queries': False,
    'server_find_peak_qps_decimals_of_precision': 1,
    'server_find_peak_qps_boundary_step_size': 1.0,
    'server_max_async_queries': 0,
    'server_num_issue_query_threads': 0,
    'offline_expected_qps': 1.0,
    'sample_concatenate_permutation': False,
    'min_duration_ms': 10000,
    'max_duration_ms': 0,
    'min_query_count': 100,
    'max_query_count': 0,
    'qsl_rng_seed': 0,
    'sample_index_rng_seed': 0,
    'schedule_rng_seed': 0,
    'accuracy_log_rng_seed': 0,
    'accuracy_log_probability': 0.0,
    'accuracy_log_sampling_target': 0,
    'test05': False,
    'test05_qsl_rng_seed': 0,
    'test05_sample_index_rng_seed': 0,
    'test05_schedule_rng_seed': 0,
    'print_timestamps': False,
    'performance_issue_unique': False,
    'performance_issue_same': False,
    'performance_issue_same_index': 0,
    'performance_sample_count_override': 0,
    'accuracy_sample_count_override': 0,
    'use_token_latencies': False,
    'ttft_latency': 100000000,
    'tpot_latency': 100000000,
    'infer_token_latencies': False,
    'token_latency_scaling_factor': 0,
}

# Conf-file errors of the official parser are logged into the next test's
# detail log (a second FromConfig per process is an error there too).
PENDING_ERRORS = []
_CONF_COUNT = [0]

_INT_PREFIX = re.compile(r'\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)')
_FULL_INT = re.compile(r'[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z')


def _strtoull(text):
  """C ``strtoull(text, nullptr, 0)``: the value of the longest prefix.

  Out of range (magnitude >= 2^64) saturates to 2^64 - 1, as C does; a
  negative value wraps modulo 2^64.
  """
  m = _INT_PREFIX.match(text)
  if not m:
    return 0
  sign, digits = m.groups()
  if digits[:2] in ('0x', '0X'):
    v = int(digits, 16)
  elif digits.startswith('0'):
    v = int(digits, 8) if len(digits) > 1 else 0
  else:
    v = int(digits)
  if v >= 1 << 64:
    return (1 << 64) - 1
  return (-v if sign == '-' else v) % (1 << 64)


def _strtod(text):
  """C ``strtod``: the value of the longest numeric prefix (0 if none)."""
  for end in range(len(text), 0, -1):
    try:
      return _parse_double(text[:end])
    except ValueError:
      continue
  return 0.0


_HEX_FLOAT = re.compile(r'[+-]?0[xX]')


def _parse_double(tok):
  """C ``strtod`` of the whole token (ValueError if it stops early).

  Python's ``float`` accepts what ``strtod`` does for decimal text
  (``1e3``, ``.5``, ``inf``, ``nan``) but also ``1_0`` (rejected here);
  ``strtod``'s hexadecimal form needs the ``0x`` prefix, so a bare ``abc``
  is not a number (``float.fromhex`` alone would read it as 2748).
  """
  if '_' in tok or tok != tok.strip():
    raise ValueError(tok)
  try:
    return float(tok)
  except ValueError:
    if not _HEX_FLOAT.match(tok):
      raise
    return float.fromhex(tok)


def _is_number(tok):
  if _FULL_INT.match(tok):
    return True
  try:
    _parse_double(tok)
    return True
  except ValueError:
    return False


SCENARIO_NAMES = ('SingleStream', 'MultiStream', 'Server', 'Offline')
# The keys FromConfig reads from a user.conf, each with the scenarios it is
# read for (None: the running one); test_settings_internal.cc:690-814. A
# scenario-specific key is looked up under that scenario whatever scenario
# runs (``*.Server.target_qps`` sets server_target_qps in an Offline test).
USER_CONF_KEYS = {
    'mode': None, 'min_duration': None, 'max_duration': None,
    'min_query_count': None, 'max_query_count': None,
    'performance_sample_count_override': None,
    'accuracy_sample_count_override': None,
    'performance_issue_unique': None, 'performance_issue_same': None,
    'performance_issue_same_index': None,
    'sample_concatenate_permutation': None, 'print_timestamps': None,
    'use_token_latencies': None, 'infer_token_latencies': None,
    'token_latency_scaling_factor': None, 'accuracy_log_rng_seed': None,
    'accuracy_log_sampling_target': None,
    'target_latency': ('SingleStream', 'MultiStream', 'Server'),
    'target_latency_percentile': ('SingleStream', 'MultiStream', 'Server'),
    'samples_per_query': ('MultiStream',),
    'target_qps': ('Server', 'Offline'),
    'coalesce_queries': ('Server',), 'max_async_queries': ('Server',),
    'ttft_latency': ('Server',), 'tpot_latency': ('Server',),
}
# Read only from the mlperf.conf embedded in LoadGen (conf_type 0); the
# official LoadGen silently ignores them in a user.conf.
EMBEDDED_ONLY_KEYS = frozenset([
    'qsl_rng_seed', 'sample_index_rng_seed', 'schedule_rng_seed',
    'accuracy_log_probability', 'test05', 'test05_qsl_rng_seed',
    'test05_sample_index_rng_seed', 'test05_schedule_rng_seed'])


def _key_problem(key):
  """Why a user.conf key has no effect in LoadGen 6.0.17, or None."""
  parts = key.rsplit('.', 2)  # model names may hold dots (wan-2.2-t2v-a14b)
  if len(parts) != 3 or not all(parts):
    return (f'key {key!r} is not model.scenario.key (for example '
            "'resnet50.Offline.target_qps' or '*.*.min_duration')")
  _, scenario, name = parts
  if scenario != '*' and scenario not in SCENARIO_NAMES:
    return (f'unknown scenario {scenario!r} in {key!r}; use one of '
            f"{', '.join(SCENARIO_NAMES)} or '*'")
  if name in EMBEDDED_ONLY_KEYS:
    return (f'{name!r} can only be set by the mlperf.conf built into '
            'LoadGen; the official LoadGen ignores it in a user.conf (remove '
            'the line)')
  if name not in USER_CONF_KEYS:
    close = difflib.get_close_matches(name, USER_CONF_KEYS, n=1)
    hint = f'did you mean {close[0]!r}? ' if close else ''
    return (f'unknown key {name!r} in {key!r}; {hint}LoadGen reads '
            f"{', '.join(sorted(USER_CONF_KEYS))}")
  only = USER_CONF_KEYS[name]
  if only and scenario != '*' and scenario not in only:
    return (f'{name!r} is read only for {", ".join(only)}: LoadGen ignores '
            f'{key!r}')
  return None


def parse_conf(text, path, check_keys=False):
  """Parses conf text into ``{key: value_token}``.

  Args:
    text: the file contents.
    path: the file name, used in error messages.
    check_keys: also reject keys LoadGen would ignore (unknown names or
      scenarios, seeds, a key of another scenario): for a user.conf.

  Returns:
    dict from the full key (``model.scenario.key``) to the value token.

  Raises:
    ConfigError: naming ``path`` and the line for a malformed line.
  """
  kv = {}
  for line_nr, line in enumerate(text.splitlines(), start=1):
    toks = line.split()
    if not toks or toks[0] == '#' or toks[0].startswith('#'):
      continue
    key = toks[0]
    if len(toks) == 1 or len(toks) == 2 and toks[1] == '=':
      raise ConfigError(
          f'{path}:{line_nr}: {line.strip()!r} has no value; write '
          "'model.scenario.key = value'.")
    if toks[1] != '=':
      raise ConfigError(
          f"{path}:{line_nr}: expected 'key = value' (spaces around '='), got "
          f'{line.strip()!r}.')
    for tok in toks[2:]:
      if not _is_number(tok):
        hint = (' Comments must be on their own line: the official LoadGen '
                'rejects a comment after a value.' if tok.startswith('#')
                else '')
        raise ConfigError(
            f'{path}:{line_nr}: value {tok!r} of {key!r} needs to be an '
            f'integer or a double.{hint}')
      if check_keys:
        problem = _key_problem(key)
        if problem:
          raise ConfigError(f'{path}:{line_nr}: {problem}.')
      kv[key] = tok
  return kv


def _lookup(kv, model, scenario, key):
  for k in (f'{model}.{scenario}.{key}', f'*.{scenario}.{key}',
            f'{model}.*.{key}', f'*.*.{key}'):
    if k in kv:
      return kv[k]
  return None


def apply_conf(settings, kv, model, scenario, conf_type):
  """Applies parsed conf ``kv`` to ``settings`` as ``FromConfig`` does."""
  def get_l(key, scen=scenario, mult=1):
    v = _lookup(kv, model, scen, key)
    return None if v is None else (_strtoull(v) * int(mult)) % (1 << 64)

  def get_d(key, scen=scenario, mult=1.0):
    v = _lookup(kv, model, scen, key)
    return None if v is None else _strtod(v) * mult

  def set_l(attr, key, scen=scenario, mult=1):
    v = get_l(key, scen, mult)
    if v is not None:
      setattr(settings, attr, v)

  def set_d(attr, key, scen=scenario, mult=1.0):
    v = get_d(key, scen, mult)
    if v is not None:
      setattr(settings, attr, v)

  val = get_l('mode')
  if val is not None:
    if val in (0, 1, 2, 3):
      # This module's TestMode or the official binding's (apply_user_conf).
      settings.mode = type(settings.mode)(val)
    else:
      PENDING_ERRORS.append(('error_invalid_config',
                             'Invalid value passed to Mode key in config.'))
  if conf_type == 0:
    set_l('qsl_rng_seed', 'qsl_rng_seed')
    set_l('sample_index_rng_seed', 'sample_index_rng_seed')
    set_l('schedule_rng_seed', 'schedule_rng_seed')
    set_d('accuracy_log_probability', 'accuracy_log_probability', mult=0.01)
    val = get_l('test05')
    if val is not None:
      settings.test05 = val == 1
    set_l('test05_qsl_rng_seed', 'test05_qsl_rng_seed')
    set_l('test05_sample_index_rng_seed', 'test05_sample_index_rng_seed')
    set_l('test05_schedule_rng_seed', 'test05_schedule_rng_seed')
  val = get_l('use_token_latencies')
  if val is not None:
    settings.use_token_latencies = val == 1
  if settings.use_token_latencies:
    set_l('ttft_latency', 'ttft_latency', 'Server', 1000 * 1000)
    set_l('tpot_latency', 'tpot_latency', 'Server', 1000 * 1000)
  val = get_l('infer_token_latencies')
  if val is not None:
    settings.infer_token_latencies = val == 1
  if settings.infer_token_latencies:
    set_l('token_latency_scaling_factor', 'token_latency_scaling_factor')
  set_d('single_stream_target_latency_percentile', 'target_latency_percentile',
        'SingleStream', 0.01)
  set_d('multi_stream_target_latency_percentile', 'target_latency_percentile',
        'MultiStream', 0.01)
  set_l('multi_stream_samples_per_query', 'samples_per_query', 'MultiStream')
  set_d('server_target_latency_percentile', 'target_latency_percentile',
        'Server', 0.01)
  set_l('server_target_latency_ns', 'target_latency', 'Server', 1000 * 1000)
  for attr in ('performance_issue_unique', 'performance_issue_same'):
    val = get_l(attr)
    if val is not None:
      setattr(settings, attr, val != 0)
  set_l('performance_issue_same_index', 'performance_issue_same_index')
  val = get_l('sample_concatenate_permutation')
  if val is not None:
    settings.sample_concatenate_permutation = val == 1
  val = get_l('coalesce_queries', 'Server')
  if val is not None:
    settings.server_coalesce_queries = val != 0
  val = get_l('max_async_queries', 'Server')
  if val is not None:
    settings.server_max_async_queries = int(val) & 0xFFFFFFFF
  set_l('min_duration_ms', 'min_duration')
  set_l('max_duration_ms', 'max_duration')
  set_l('min_query_count', 'min_query_count')
  set_l('max_query_count', 'max_query_count')
  set_l('performance_sample_count_override',
        'performance_sample_count_override')
  set_l('accuracy_sample_count_override', 'accuracy_sample_count_override')
  set_d('single_stream_expected_latency_ns', 'target_latency', 'SingleStream',
        1000 * 1000)
  set_d('multi_stream_expected_latency_ns', 'target_latency', 'MultiStream',
        1000 * 1000)
  set_d('server_target_qps', 'target_qps', 'Server')
  set_d('offline_expected_qps', 'target_qps', 'Offline')
  val = get_l('print_timestamps')
  if val is not None:
    settings.print_timestamps = val != 0
  set_l('accuracy_log_rng_seed', 'accuracy_log_rng_seed')
  set_l('accuracy_log_sampling_target', 'accuracy_log_sampling_target')


class TestSettings:
  """The official ``TestSettings``: same attributes, defaults, FromConfig."""

  def __init__(self):
    for k, v in DEFAULTS.items():
      setattr(self, k, v)

  def FromConfig(self, path, model, scenario, conf_type=1):  # pylint: disable=invalid-name
    """Applies the embedded mlperf.conf (first call only) then ``path``.

    Args:
      path: a user.conf (conf_type 1) or audit.config (conf_type 2).
      model: the model name the keys are looked up for (e.g. resnet50).
      scenario: 'SingleStream', 'MultiStream', 'Server' or 'Offline'.
      conf_type: 0 embedded mlperf.conf, 1 user.conf, 2 audit.config.

    Returns:
      0 on success (the official return code).

    Raises:
      ConfigError: the file cannot be read or has a malformed line.
    """
    if conf_type == 1:
      if _CONF_COUNT[0] == 0:
        self.FromConfig('', model, scenario, 0)
      else:
        PENDING_ERRORS.append((
            'error_invalid_config',
            'Multiple conf files are used. This is not valid for official '
            'submission.'))
      _CONF_COUNT[0] += 1
    if conf_type == 0:
      text, name = mlperf_conf.MLPERF_CONF, '<embedded mlperf.conf>'
    else:
      try:
        with open(path, encoding='utf-8') as f:
          text = f.read()
      except OSError as e:
        raise ConfigError(f"can't open conf file {path!r}: {e}") from e
      name = path
    kv = parse_conf(text, name, check_keys=conf_type == 1)
    apply_conf(self, kv, model, scenario, conf_type)
    return 0

  def __repr__(self):
    return 'TestSettings(%s)' % ', '.join(
        f'{k}={getattr(self, k)!r}' for k in DEFAULTS)


def read_user_conf(path):
  """Parses and checks a user.conf as ``FromConfig`` would; ``{key: token}``.

  Raises:
    ConfigError: the file cannot be read, or a line is malformed, has a value
      that is not a number, or a key LoadGen would ignore (with file:line).
  """
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    raise ConfigError(f"can't read conf file {path!r}: {e}") from e
  return parse_conf(text, path, check_keys=True)


def apply_user_conf(settings, path, model, scenario):
  """Applies only the user.conf ``path`` to ``settings``, as its last layer.

  ``FromConfig`` layers defaults < the embedded mlperf.conf < user.conf.
  Settings that stand in for mlperf.conf (a scale that is not a result:
  short mini tests) keep that order with this function: the user.conf's
  keys override them, nothing else changes. Works on this module's
  ``TestSettings`` and on the official binding's.

  Raises:
    ConfigError: as ``read_user_conf``, or for a ``mode`` other than 0-3.
  """
  kv = read_user_conf(path)
  val = _lookup(kv, model, scenario, 'mode')
  if val is not None and _strtoull(val) not in (0, 1, 2, 3):
    raise ConfigError(f'{path}: mode = {val} is not 0 (submission), 1 '
                      '(accuracy), 2 (performance) or 3 (find peak).')
  apply_conf(settings, kv, model, scenario, 1)


def scenario_name(scenario):
  return TestScenario(int(scenario)).name


def mode_name(mode):
  return TestMode(int(mode)).name


class EffectiveSettings:
  """``TestSettingsInternal``: the settings a test really runs with."""

  def __init__(self, req, qsl_performance_count, qsl_total_count):
    self.requested = req
    self.errors = []
    self.scenario = scenario_name(req.scenario)
    self.mode = mode_name(req.mode)
    self.samples_per_query = 1
    self.target_qps = 1.0
    self.target_latency_ns = 0
    self.max_async_queries = 0
    self.target_duration_ms = int(req.min_duration_ms)
    self.min_duration_ms = int(req.min_duration_ms)
    self.max_duration_ms = int(req.max_duration_ms)
    self.min_query_count = int(req.min_query_count)
    self.max_query_count = int(req.max_query_count)
    self.qsl_rng_seed = int(req.qsl_rng_seed)
    self.sample_index_rng_seed = int(req.sample_index_rng_seed)
    self.schedule_rng_seed = int(req.schedule_rng_seed)
    self.accuracy_log_rng_seed = int(req.accuracy_log_rng_seed)
    self.accuracy_log_probability = float(req.accuracy_log_probability)
    self.accuracy_log_sampling_target = int(req.accuracy_log_sampling_target)
    self.print_timestamps = bool(req.print_timestamps)
    self.performance_issue_unique = bool(req.performance_issue_unique)
    self.performance_issue_same = bool(req.performance_issue_same)
    self.performance_issue_same_index = int(req.performance_issue_same_index)
    self.use_token_latencies = bool(req.use_token_latencies)
    self.ttft_latency = int(req.ttft_latency)
    self.tpot_latency = int(req.tpot_latency)
    sc = self.scenario
    if sc == 'SingleStream':
      self.target_qps = 1e9 / float(req.single_stream_expected_latency_ns)
      self.max_async_queries = 1
      self.target_latency_percentile = float(
          req.single_stream_target_latency_percentile)
    elif sc == 'MultiStream':
      self.target_qps = 1e9 / float(req.multi_stream_expected_latency_ns)
      self.max_async_queries = 1
      self.target_latency_percentile = float(
          req.multi_stream_target_latency_percentile)
    elif sc == 'Server':
      if req.server_target_qps >= 0:
        self.target_qps = float(req.server_target_qps)
      else:
        self.errors.append(('error_invalid_test_settings',
                            'Invalid value for server_target_qps requested. '
                            f'requested: {req.server_target_qps:g} using: 1'))
      self.target_latency_ns = int(req.server_target_latency_ns)
      self.target_latency_percentile = float(
          req.server_target_latency_percentile)
      self.max_async_queries = int(req.server_max_async_queries)
    else:
      self.target_latency_percentile = 0.99
      if req.offline_expected_qps >= 0:
        self.target_qps = float(req.offline_expected_qps)
      else:
        self.errors.append(('error_invalid_test_settings',
                            'Invalid value for offline_expected_qps '
                            f'requested. requested: '
                            f'{req.offline_expected_qps:g} using: 1'))
      self.max_async_queries = 1
    self.performance_sample_count = int(
        req.performance_sample_count_override or qsl_performance_count)
    self.accuracy_sample_count = int(
        req.accuracy_sample_count_override or qsl_total_count)
    self.sample_concatenate_permutation = bool(
        req.sample_concatenate_permutation)
    if sc == 'MultiStream':
      self.samples_per_query = int(req.multi_stream_samples_per_query)
    if sc == 'Offline':
      target = int(1.1 * (self.target_duration_ms / 1000.0) * self.target_qps)
      self.samples_per_query = (
          self.performance_sample_count if req.performance_issue_unique else
          max(self.min_query_count, target))
      self.min_query_count = 1
      self.target_duration_ms = 0
    if self.sample_concatenate_permutation and sc == 'SingleStream':
      expected = int(2.0 * (self.target_duration_ms / 1000.0) * self.target_qps)
      self.min_query_count = max(self.min_query_count, expected)
      self.min_query_count += (
          qsl_performance_count - self.min_query_count % qsl_performance_count)
    self.min_sample_count = self.min_query_count * self.samples_per_query
    if (req.performance_issue_same and
        req.performance_issue_same_index >= self.performance_sample_count):
      self.errors.append((
          'error_invalid_test_settings',
          'Sample Idx to be repeated in performance_issue_same mode cannot be '
          'greater than loaded performance_sample_count. '
          f'performance_issue_same_index: {req.performance_issue_same_index} '
          f'performance_sample_count: {self.performance_sample_count}'))
    if req.performance_issue_unique and req.performance_issue_same:
      self.errors.append((
          'error_invalid_test_settings',
          'Performance_issue_unique and performance_issue_same, both cannot '
          'be true at the same time.'))

  def copy(self, **changes):
    """A shallow copy with some attributes replaced (FindPeak)."""
    new = object.__new__(EffectiveSettings)
    new.__dict__.update(self.__dict__)
    new.__dict__.update(changes)
    return new

  @property
  def multi_stream(self):
    return self.scenario == 'MultiStream'


def requested_items(s):
  """``(key, value)`` pairs of the ``requested_*`` detail-log keys."""
  sc = scenario_name(s.scenario)
  out = [('requested_scenario', sc), ('requested_test_mode',
                                      mode_name(s.mode))]
  per = {
      'SingleStream': ['single_stream_expected_latency_ns',
                       'single_stream_target_latency_percentile'],
      'MultiStream': ['multi_stream_expected_latency_ns',
                      'multi_stream_target_latency_percentile',
                      'multi_stream_samples_per_query'],
      'Server': ['server_target_qps', 'server_target_latency_ns',
                 'server_target_latency_percentile', 'server_coalesce_queries',
                 'server_find_peak_qps_decimals_of_precision',
                 'server_find_peak_qps_boundary_step_size',
                 'server_max_async_queries', 'server_num_issue_query_threads'],
      'Offline': ['offline_expected_qps'],
  }[sc]
  common = ['min_duration_ms', 'max_duration_ms', 'min_query_count',
            'max_query_count', 'qsl_rng_seed', 'sample_index_rng_seed',
            'schedule_rng_seed', 'accuracy_log_rng_seed',
            'accuracy_log_probability', 'accuracy_log_sampling_target',
            'print_timestamps', 'performance_issue_unique',
            'performance_issue_same', 'performance_issue_same_index',
            'performance_sample_count_override',
            'accuracy_sample_count_override',
            'sample_concatenate_permutation']
  for k in per + common:
    v = getattr(s, k)
    out.append(('requested_' + k, float(v) if k in DOUBLE_FIELDS else v))
  if s.use_token_latencies:
    out.append(('requested_use_token_latencies', True))
    if sc != 'Offline':
      out.append(('requested_server_ttft_latency', int(s.ttft_latency)))
      out.append(('requested_server_tpot_latency', int(s.tpot_latency)))
  return out


def effective_items(e):
  """``(key, value)`` pairs of the ``effective_*`` detail-log keys."""
  keys = [
      ('scenario', e.scenario), ('test_mode', e.mode),
      ('samples_per_query', e.samples_per_query),
      ('target_qps', float(e.target_qps)),
      ('target_latency_ns', e.target_latency_ns),
      ('target_latency_percentile', float(e.target_latency_percentile)),
      ('max_async_queries', e.max_async_queries),
      ('target_duration_ms', e.target_duration_ms),
      ('min_duration_ms', e.min_duration_ms),
      ('max_duration_ms', e.max_duration_ms),
      ('min_query_count', e.min_query_count),
      ('max_query_count', e.max_query_count),
      ('min_sample_count', e.min_sample_count),
      ('qsl_rng_seed', e.qsl_rng_seed),
      ('sample_index_rng_seed', e.sample_index_rng_seed),
      ('schedule_rng_seed', e.schedule_rng_seed),
      ('accuracy_log_rng_seed', e.accuracy_log_rng_seed),
      ('accuracy_log_probability', float(e.accuracy_log_probability)),
      ('accuracy_log_sampling_target', e.accuracy_log_sampling_target),
      ('print_timestamps', e.print_timestamps),
      ('performance_issue_unique', e.performance_issue_unique),
      ('performance_issue_same', e.performance_issue_same),
      ('performance_issue_same_index', e.performance_issue_same_index),
      ('performance_sample_count', e.performance_sample_count),
      ('accuracy_sample_count', e.accuracy_sample_count),
      ('sample_concatenate_permutation', e.sample_concatenate_permutation),
  ]
  return [('effective_' + k, v) for k, v in keys]


def is_finite(x):
  return math.isfinite(x)
