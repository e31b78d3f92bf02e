"""Checkpoints: one file with the weights, the configs that fix their meaning, and validation.

Loading checks that the file is a checkpoint of the expected kind and skeleton before any
weight is used, so a predictor never runs a model made for another layout.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from nermo_ros.engine.cache import atomic_write_bytes
from nermo_ros.model import ModelConfig
from nermo_ros.paths import find_package_data, package_data_candidates

FORMAT = "nermo_ros.checkpoint/1"
# models/ of the checkout, or share/nermo_ros/models of a colcon install.
MODELS_DIR = find_package_data("models") or package_data_candidates("models")[0]


def model_path(kind: str, layout: str, models_dir: Path = MODELS_DIR) -> Path:
    """Where a shipped model lives: models/<kind>_<layout without "nermo_">.pt."""
    return Path(models_dir) / f"{kind}_{layout.removeprefix('nermo_')}.pt"


SHIPPED_DEFAULT = model_path("nermo", "nermo_body17")  # models/nermo_body17.pt


@dataclass(frozen=True)
class Checkpoint:
    kind: str  # "nermo" or "dct_mlp"
    layout: str
    num_joints: int
    params: dict[str, torch.Tensor]
    model_config: ModelConfig | None  # NeRMo only
    train_config: dict
    validation: dict  # {"horizons_s": [...], "mpjpe_m": [...], "samples": n, ...}
    default_steps: int
    obs_window_s: float  # history the model was trained to read
    model_id: str  # first 12 hex digits of the file's sha256
    step: int


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_checkpoint(path: str | Path, *, kind: str, layout: str, num_joints: int,
                    params: dict[str, torch.Tensor], train_config: dict,
                    model_config: ModelConfig | None = None, validation: dict | None = None,
                    default_steps: int = 3, obs_window_s: float = 0.36, step: int = 0,
                    training_state: dict | None = None) -> None:
    """Write atomically (a crash mid-write never leaves a truncated checkpoint)."""
    payload = {
        "format": FORMAT, "kind": kind, "layout": layout, "num_joints": num_joints,
        "params": {k: v.detach().float().cpu().contiguous() for k, v in params.items()},
        "model_config": model_config.to_dict() if model_config else None,
        "train_config": train_config, "validation": validation or {},
        "default_steps": int(default_steps), "obs_window_s": float(obs_window_s), "step": int(step),
    }
    if training_state is not None:
        payload["training_state"] = training_state
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_raw(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train one with `nermo-ros "
                                "train --config config/train_body17.yaml` or leave the "
                                "checkpoint parameter empty for the shipped model")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ValueError(f"{path} is not a readable checkpoint ({error}); was it truncated?") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a {FORMAT} checkpoint (found {found!r})")
    # Weights in 32 bits for every reader: a copy stored in 16 (to fit a transfer) computes
    # like the rest.
    payload["params"] = {k: v.float() if v.is_floating_point() else v
                         for k, v in payload.get("params", {}).items()}
    return payload


def load_checkpoint(path: str | Path = SHIPPED_DEFAULT, *, expect_layout: str | None = None,
                    expect_kind: str = "nermo", expect_num_joints: int | None = None) -> Checkpoint:
    """Load and check a checkpoint; refuse one of another kind or skeleton, naming both."""
    payload = load_raw(path)
    if payload["kind"] != expect_kind:
        raise ValueError(f"{path} is a {payload['kind']!r} checkpoint, expected {expect_kind!r}")
    if expect_layout is not None and payload["layout"] != expect_layout:
        raise ValueError(f"{path} was trained for skeleton layout {payload['layout']!r} but this "
                         f"predictor needs {expect_layout!r}; use a checkpoint trained for "
                         f"{expect_layout!r} (the shipped default is {SHIPPED_DEFAULT.name})")
    if expect_num_joints is not None and payload["num_joints"] != expect_num_joints:
        raise ValueError(f"{path} has {payload['num_joints']} joints, expected {expect_num_joints}")
    model_config = None
    if payload["model_config"] is not None:
        model_config = ModelConfig.from_dict(payload["model_config"])
        if model_config.num_joints != payload["num_joints"] or model_config.layout != payload["layout"]:
            raise ValueError(f"{path}: its model config ({model_config.num_joints} joints, "
                             f"{model_config.layout!r}) contradicts its header; the file is corrupt")
        kept = max(model_config.dropout, model_config.encoder_dropout)
        if kept:
            raise ValueError(f"{path}: its model config keeps dropout {kept} for "
                             f"inference, which would make every forecast random; dropout is a "
                             f"training setting (optim.dropout)")
    return Checkpoint(
        kind=payload["kind"], layout=payload["layout"], num_joints=payload["num_joints"],
        params=payload["params"], model_config=model_config, train_config=payload["train_config"],
        validation=payload["validation"], default_steps=payload["default_steps"],
        obs_window_s=payload["obs_window_s"], model_id=file_hash(path)[:12], step=payload["step"])
