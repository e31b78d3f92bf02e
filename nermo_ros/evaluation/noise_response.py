"""Does a forecaster degrade gracefully when the observed window is noisy, or does it
extrapolate the jitter?

Every window is observed several times at 25 Hz with only the measured jitter (no glitches,
swaps, drops or stamp jitter), scaled by 0, 1 and 2. Two figures per method and horizon:

- **error**: the mean joint error against the clean future (mm) at each scale;
- **jitter gain**: how far the forecast moves between noise draws of the same window (the
  3D RMS across draws, over joints and windows) over the injected jitter's 3D RMS.
  Standing still at the last observation has gain 1 at every horizon; constant velocity
  turns jitter into velocity and its gain grows with the horizon. Graceful: a gain that does
  not grow like that, and that stays the same when the noise doubles (the forecast responds
  in proportion, with no threshold where it breaks down).
"""

from __future__ import annotations

import numpy as np

from nermo_ros.evaluation import protocol
from nermo_ros.evaluation.noisy_windows import NOISE_SEED, noisy_batch
from nermo_ros.evaluation.perception_noise import PerceptionNoise

SCALES = (0.0, 1.0, 2.0)
DRAWS = 4
RESPONSE_RATE_HZ = 25.0  # the trained rate: only the noise changes


def jitter_response(samples, methods: dict, noise: PerceptionNoise, scales=SCALES,
                    draws: int = DRAWS) -> dict:
    """{method: {"scales", "error_mm": [per scale: 6 horizons], "gain": [per scale > 0]}}."""
    if noise.jitter_rms_3d_m() <= 0:
        raise ValueError("the noise model has no jitter, so there is no response to measure; "
                         "give a measured file (config/perception_noise.yaml)")
    idx = list(protocol.EVAL_FRAME_INDEX)
    future = samples.windows_m()[:, protocol.INPUT_FRAMES:][:, idx]  # (S, 6, J, 3)
    out = {name: {"scales": list(scales), "error_mm": [], "gain": []} for name in methods}
    for k, scale in enumerate(scales):
        scaled = noise.jitter_only(scale)
        count = draws if scale > 0 else 1
        batches = [noisy_batch(samples, scaled, RESPONSE_RATE_HZ, NOISE_SEED + 100 * k + d)
                   for d in range(count)]
        for name, method in methods.items():
            preds = np.stack([method(b)[:, idx] for b in batches])  # (R, S, 6, J, 3)
            error = np.linalg.norm(preds - future[None], axis=-1).mean(axis=(0, 1, 3))
            out[name]["error_mm"].append((1e3 * error).tolist())
            if scale > 0:
                spread = np.sqrt(preds.var(axis=0, ddof=1).sum(axis=-1).mean(axis=(0, 2)))
                out[name]["gain"].append((spread / scaled.jitter_rms_3d_m()).tolist())
    return out


def response_text(response: dict, title: str) -> str:
    """Markdown: per method and scale, the error and the jitter gain at each horizon."""
    head = " | ".join(f"{ms} ms" for ms in protocol.EVAL_HORIZONS_MS)
    lines = [title, "", f"| method | jitter | error mm: {head} | gain: {head} |",
             "|---|---:|" + "---:|" * (2 * len(protocol.EVAL_HORIZONS_MS))]
    for name, figures in response.items():
        gains = iter(figures["gain"])
        for scale, error in zip(figures["scales"], figures["error_mm"]):
            gain = next(gains) if scale > 0 else [None] * len(error)
            cells = [f"{e:.1f}" for e in error] + ["-" if g is None else f"{g:.2f}" for g in gain]
            lines.append(f"| {name} | {scale:g}x | " + " | ".join(cells) + " |")
    return "\n".join(lines)
