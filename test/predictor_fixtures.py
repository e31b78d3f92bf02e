"""A NeRMo checkpoint for tests of the plumbing around the model."""

from pathlib import Path

import yaml

from nermo_ros.skeleton import LAYOUT_ID, NUM_JOINTS

REPO = Path(__file__).resolve().parents[1]


def nermo_checkpoint(directory: Path) -> str:
    """The shipped model where it exists, else an untrained one (the plumbing is the same)."""
    from nermo_ros.checkpoint import SHIPPED_DEFAULT, save_checkpoint
    from nermo_ros.meta import init_params
    from nermo_ros.model import ModelConfig

    if SHIPPED_DEFAULT.is_file():
        return str(SHIPPED_DEFAULT)
    train = yaml.safe_load((REPO / "config" / "train_body17.yaml").read_text())
    config = ModelConfig.from_dict(train["model"])
    horizons_s = [0.08, 0.4, 1.0]
    path = directory / "untrained_body17.pt"
    save_checkpoint(path, kind="nermo", layout=LAYOUT_ID, num_joints=NUM_JOINTS,
                    params=init_params(config, seed=0), train_config=train, model_config=config,
                    validation={"horizons_s": horizons_s, "mpjpe_m": horizons_s,
                                "mpjpe_joint_m": [[h] * NUM_JOINTS for h in horizons_s]})
    return str(path)
