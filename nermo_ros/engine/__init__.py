"""The compiled adapt-and-predict engine: one interface, several backends.

``make_engine(backend, checkpoint, steps=K, window_frames=T, num_queries=Q)`` returns a callable
``engine(obs_t, obs_x, obs_mask, z_init, query_t) -> (pred, z, recon)`` over numpy arrays,
running eager PyTorch, CUDA graphs, ONNX Runtime or TensorRT (see docs/engine.md).
"""

from nermo_ros.engine.engine import Engine
from nermo_ros.engine.factory import engine_for_choice, engine_for_program, make_engine
from nermo_ros.engine.select import BACKEND_CHOICES, BACKENDS, BackendUnavailable, Choice, choose

__all__ = ["BACKEND_CHOICES", "BACKENDS", "BackendUnavailable", "Choice", "Engine", "choose",
           "engine_for_choice", "engine_for_program", "make_engine"]
