"""The model card names every shipped checkpoint with the sha256 of the file that ships: a
model swapped without its card (or a card edited without its model) is caught here, since
`HumanForecast.model_id` and every figure in the card are keyed by that hash."""

import re
from pathlib import Path

from nermo_ros.checkpoint import file_hash, load_checkpoint

MODELS = Path(__file__).resolve().parents[1] / "models"
ROW = re.compile(r"^\| `(?P<file>[\w.]+\.pt)`.*\| `(?P<id>[0-9a-f]{12})` \| `(?P<sha>[0-9a-f]{64})` \|$",
                 re.MULTILINE)


def test_every_shipped_checkpoint_is_in_the_card_with_its_own_hash():
    rows = {m["file"]: (m["id"], m["sha"]) for m in ROW.finditer((MODELS / "MODEL_CARD.md").read_text())}
    shipped = sorted(p.name for p in MODELS.glob("*.pt"))
    assert sorted(rows) == shipped
    for name in shipped:
        model_id, sha = rows[name]
        kind = "dct_mlp" if name.startswith("dct_mlp") else "nermo"
        actual = file_hash(MODELS / name)
        assert sha == actual, f"{name}: the card says {sha[:12]}, the file is {actual[:12]}"
        assert model_id == load_checkpoint(MODELS / name, expect_kind=kind).model_id  # what forecasts carry
