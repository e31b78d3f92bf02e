"""How close each backend must stay to eager PyTorch (FP32, CPU), in model units.

Model positions are metres / ``position_unit_m`` (0.1 m by default), so 1e-4 is 10 µm. The
TensorRT bound admits FP16 engines: 2e-2 model units is 2 mm, far below the forecast error.
The CUDA-graph backends are held to it with TF32 products, to 1e-4 with FP32.
"""

from __future__ import annotations

import numpy as np

from nermo_ros.engine.engine import Engine
from nermo_ros.engine.spec import OUTPUT_NAMES, example_inputs

# Any reduced precision: TensorRT's FP16/TF32 engines, the CUDA-graph backends' TF32 products.
REDUCED_PRECISION_ATOL = 2e-2
PARITY_ATOL: dict[str, float] = {
    "torch": 1e-4,  # CPU vs GPU summation order
    "cudagraph": 1e-4,
    "inductor": 1e-4,  # fused kernels reorder sums
    "onnxruntime": 1e-4,
    "tensorrt": REDUCED_PRECISION_ATOL,
}


def parity_errors(engine: Engine, reference: Engine, batch: int, seed: int = 3) -> dict[str, float]:
    """Largest absolute difference per output on a test window of ``batch`` people."""
    inputs = example_inputs(engine.spec, batch, seed=seed)
    expected = [a.copy() for a in reference(*inputs)]
    got = engine(*inputs)
    return {name: float(np.abs(g - e).max()) for name, g, e in zip(OUTPUT_NAMES, got, expected)}
