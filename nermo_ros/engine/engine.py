"""The numpy-in/numpy-out adapt-and-predict step the predictor calls, on any backend.

``Engine(obs_t, obs_x, obs_mask, z_init, query_t) -> (pred, z, recon)``, model units, as
``nermo_ros.meta.adapt_and_predict`` with the weights and K bound. All people in view go in
one call: the batch is padded up to the next bucket (1, 2, 4, 8, 16 by default) with copies
of the first person, so compiled graphs exist per bucket and a call never re-traces. Every
bucket is built at start-up, so the first frame with five people is as fast as the rest.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.engine.backends.base import Backend, Runner
from nermo_ros.engine.spec import INPUT_NAMES, AdaptProgram, EngineSpec


class Engine:
    """One compiled adapt-and-predict step, all buckets ready."""

    def __init__(self, program: AdaptProgram, backend: Backend, fallback_reason: str = ""):
        """``fallback_reason``: "" when ``backend`` is what was asked for, else why it runs
        instead (``select.choose``); the predictor node reports it as a warning."""
        self.program = program
        self.spec: EngineSpec = program.spec
        self.backend = backend
        # A backend may run small batches faster padded to a larger bucket (see
        # InductorBackend.smallest_bucket); buckets below it are not built.
        smallest = getattr(backend, "smallest_bucket", 1)
        self.buckets = tuple(b for b in self.spec.buckets if b >= smallest) or self.spec.buckets[-1:]
        self.runners: dict[int, Runner] = {b: backend.runner(b) for b in self.buckets}
        self.fallback_reason = fallback_reason

    @property
    def name(self) -> str:
        return self.backend.name

    def describe(self) -> str:
        return f"{self.backend.name} ({self.backend.detail}), K={self.spec.steps}"

    def __call__(self, obs_t, obs_x, obs_mask, z_init, query_t):
        """Arrays as ``adapt_and_predict`` takes them (mask bool or 0/1). Returns new float32
        (pred, z, recon) arrays: callers keep z per track, so results must not alias the
        runner's buffers (copying a few kilobytes out is the only per-call allocation)."""
        inputs = (obs_t, obs_x, obs_mask, z_init, query_t)
        batch = self._check(inputs)
        largest = self.spec.buckets[-1]
        if batch <= largest:
            result = tuple(out.copy() for out in self._run(inputs, batch))
        else:  # more people than the largest bucket: run it in slices, join the results
            parts = [tuple(out.copy() for out in self._run([a[i:i + largest] for a in inputs],
                                                           min(largest, batch - i)))
                     for i in range(0, batch, largest)]
            result = tuple(np.concatenate(p) for p in zip(*parts))
        return result

    def _run(self, inputs, batch: int):
        runner = self.runners[next(b for b in self.buckets if b >= batch)]
        for dst, src in zip(runner.inputs, inputs):
            dst[:batch] = src
            dst[batch:] = src[:1]  # padding people copy the first: finite, and ignored
        runner.run()
        return tuple(out[:batch] for out in runner.outputs)

    def _check(self, inputs) -> int:
        batch = int(np.shape(inputs[0])[0])
        if batch < 1:
            raise ValueError("adapt-and-predict needs at least one person, got an empty batch")
        expected = self.spec.input_shapes(batch)
        for name, arr, shape in zip(INPUT_NAMES, inputs, expected):
            if tuple(np.shape(arr)) != shape:
                raise ValueError(
                    f"{name} has shape {tuple(np.shape(arr))}, this engine was built for {shape} "
                    f"({self.spec.describe()}); rebuild it with matching window_frames/num_queries")
        return batch
