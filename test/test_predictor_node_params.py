"""Parameters from one spec (YAML defaults, descriptions, type checks) and diagnostics helpers."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from nermo_ros.forecasting.settings import NODE_NAME, PARAMS, settings_from
from nermo_ros.parameters import (ParamSpec, coerce_value, load_parameter_file, merge_values,
                                  specs_as_markdown)
from nermo_ros.stats import DropCounter, LatencyWindow

REPO = Path(__file__).resolve().parents[1]


def test_predictor_yaml_holds_exactly_the_declared_defaults():
    document = yaml.safe_load((REPO / "config" / "predictor.yaml").read_text())
    values = document[NODE_NAME]["ros__parameters"]
    expected = {s.name: list(s.default) if isinstance(s.default, tuple) else s.default
                for s in PARAMS}
    assert values == expected


def test_every_parameter_is_described_and_documented_once_in_the_docs():
    docs = (REPO / "docs" / "nodes.md").read_text()
    assert specs_as_markdown(PARAMS) in docs
    assert all(len(spec.description) > 15 for spec in PARAMS)


def test_defaults_pass_the_settings_check_and_bad_horizons_do_not():
    defaults = {s.name: s.default for s in PARAMS}
    assert settings_from(defaults) == settings_from({})
    with pytest.raises(ValueError, match=r"horizons_s=\[0.4, 0.2\] must be .* increasing"):
        settings_from(dict(defaults, horizons_s=[0.4, 0.2]))


@pytest.mark.parametrize("name, value, message", [
    ("backend", "tensorrtx", "backend='tensorrtx' must be one of auto, torch"),
    ("horizons_s", [], "horizons_s=\\[\\] must be a non-empty list"),
    ("num_adapt_steps", -1, "num_adapt_steps=-1 must be >= 0"),
    ("max_stamp_age_s", -1.0, "max_stamp_age_s=-1.0 must be >= 0"),
    ("min_joint_confidence", 1.5, "min_joint_confidence=1.5 must be in \\[0, 1\\)"),
    ("min_frames", 40, "min_frames=40 must be <= window_frames=30"),
    ("predictor", "nermo2", "predictor='nermo2' must be one of nermo"),
    ("input_queue_depth", 0, "input_queue_depth=0 must be >= 1"),
])
def test_settings_that_cannot_be_honoured_are_refused_with_the_value(name, value, message):
    with pytest.raises(ValueError, match=message):
        settings_from({name: value})


def test_every_problem_is_named_at_once():
    with pytest.raises(ValueError, match="window_s=-1.0 .*; max_tracks=0"):
        settings_from({"window_s": -1.0, "max_tracks": 0})


def test_file_values_then_overrides_win_and_ints_become_floats(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    use_sim_time: true\n"
                    "predictor:\n  ros__parameters:\n    window_s: 2\n    max_tracks: 4\n")
    assert load_parameter_file(path, "predictor") == {"use_sim_time": True, "window_s": 2,
                                                       "max_tracks": 4}
    values = merge_values(PARAMS, "predictor", path, {"max_tracks": 8, "horizons_s": [1, 2]})
    assert values == {"use_sim_time": True, "window_s": 2.0, "max_tracks": 8,
                      "horizons_s": [1.0, 2.0]}
    assert isinstance(values["window_s"], float)


def test_misspelt_or_mistyped_parameters_are_errors_that_name_them(tmp_path):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['windw_s'\]"):
        merge_values(PARAMS, "predictor", None, {"windw_s": 1.0})
    with pytest.raises(ValueError, match="'max_tracks' must be an integer .* got 'many'"):
        merge_values(PARAMS, "predictor", None, {"max_tracks": "many"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_parameter_file(tmp_path / "missing.yaml", "predictor")


def test_a_bool_is_not_taken_for_a_number():
    with pytest.raises(ValueError):
        coerce_value(ParamSpec("n", 1.0, "a number"), True)


def test_declared_parameters_carry_their_descriptions():
    rclpy = pytest.importorskip("rclpy")
    from nermo_ros.nodes.params import declare_parameters, parameter_overrides

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        specs = (ParamSpec("rate_hz", 1.0, "How often, in hertz"),
                 ParamSpec("names", ("a",), "Some names"))
        node = rclpy.create_node("param_probe", context=context,
                                 parameter_overrides=parameter_overrides(
                                     specs, "param_probe", None, {"rate_hz": 5}))
        assert declare_parameters(node, specs) == {"rate_hz": 5.0, "names": ["a"]}
        assert node.describe_parameter("rate_hz").description == "How often, in hertz"
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_latency_percentiles_are_of_the_most_recent_samples():
    window = LatencyWindow(size=100)
    assert np.isnan(window.percentiles_ms()[0])
    for ms in range(1, 201):  # only 101..200 remain
        window.add(ms / 1000)
    p50, p99 = window.percentiles_ms()
    assert p50 == pytest.approx(150.5) and p99 == pytest.approx(199.01)


class FakeLogger:
    def __init__(self):
        self.lines = []

    def warning(self, line):
        self.lines.append(line)


def test_drops_are_all_counted_but_warned_at_most_once_per_throttle_period():
    now = [0.0]
    counter = DropCounter(throttle_s=5.0, clock=lambda: now[0])
    logger = FakeLogger()
    for second in range(12):
        now[0] = float(second)
        counter.warn(logger, "non_finite", "joint 3 is NaN")
    counter.warn(logger, "empty", "no joints")
    assert counter.totals == {"non_finite": 12, "empty": 1} and counter.total == 13
    assert len(logger.lines) == 4  # at 0 s, 5 s, 10 s for non_finite; once for empty
    assert "[5 since the last line of this kind, 6 in total]" in logger.lines[1]
