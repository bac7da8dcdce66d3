# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MLPerf Inference LoadGen: a pure-Python port and the official adapter.

The package is a drop-in for the official binding (``mlperf_loadgen``
6.0.17, wheel ``mlcommons-loadgen``)::

  import mlperf_jax.loadgen as lg      # instead of: import mlperf_loadgen as lg
  settings = lg.TestSettings()
  settings.scenario = lg.TestScenario.Offline
  sut = lg.ConstructSUT(issue_queries, flush_queries)
  qsl = lg.ConstructQSL(total, performance, load, unload)
  lg.StartTest(sut, qsl, settings)

Every public name of the official module is re-exported here from
``pyloadgen`` (the implementation). ``official.get(name)`` returns either
LoadGen module so the same SUT/QSL code runs under both. Importing this
package imports NumPy and the standard library only, never JAX.
"""

from mlperf_jax.loadgen import official
from mlperf_jax.loadgen import pyloadgen
from mlperf_jax.loadgen.pyloadgen import ConfigError
from mlperf_jax.loadgen.pyloadgen import ConstructFastSUT
from mlperf_jax.loadgen.pyloadgen import ConstructQDL
from mlperf_jax.loadgen.pyloadgen import ConstructQSL
from mlperf_jax.loadgen.pyloadgen import ConstructSUT
from mlperf_jax.loadgen.pyloadgen import DestroyFastSUT
from mlperf_jax.loadgen.pyloadgen import DestroyQDL
from mlperf_jax.loadgen.pyloadgen import DestroyQSL
from mlperf_jax.loadgen.pyloadgen import DestroySUT
from mlperf_jax.loadgen.pyloadgen import FirstTokenComplete
from mlperf_jax.loadgen.pyloadgen import LogOutputSettings
from mlperf_jax.loadgen.pyloadgen import LoggingMode
from mlperf_jax.loadgen.pyloadgen import LogSettings
from mlperf_jax.loadgen.pyloadgen import QuerySample
from mlperf_jax.loadgen.pyloadgen import QuerySampleResponse
from mlperf_jax.loadgen.pyloadgen import QuerySamplesComplete
from mlperf_jax.loadgen.pyloadgen import StartTest
from mlperf_jax.loadgen.pyloadgen import StartTestWithLogSettings
from mlperf_jax.loadgen.pyloadgen import SUTError
from mlperf_jax.loadgen.pyloadgen import TestMode
from mlperf_jax.loadgen.pyloadgen import TestScenario
from mlperf_jax.loadgen.pyloadgen import TestSettings
from mlperf_jax.loadgen.pyloadgen import VectorQuerySample
from mlperf_jax.loadgen.pyloadgen import VectorQuerySampleResponse
from mlperf_jax.loadgen.pyloadgen import VERSION

__all__ = list(pyloadgen.__all__) + ['VERSION', 'official', 'pyloadgen']
