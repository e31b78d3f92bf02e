"""`nermo-ros`: what a user gives that cannot be used ends the command with its message and
exit status 2, not a traceback (unless NERMO_TRACEBACK=1 asks for it)."""

from pathlib import Path

import pytest

from nermo_ros.cli import main


@pytest.mark.parametrize("argv, message", [
    (["train", "--config", "nope.yaml"], "training config nope.yaml does not exist"),
    (["train", "--recipe", "nope.yaml"], "recipe nope.yaml does not exist"),
    (["calibrate", "--checkpoint", "/nope.pt"], "checkpoint /nope.pt does not exist"),
    (["bench", "--checkpoint", "/nope.pt"], "checkpoint /nope.pt does not exist"),
    (["perception", "bench", "--video", "/nope.mp4"], "neither a packaged video"),
    (["bag", "replay", "/nope"], "no bag at /nope"),
])
def test_a_missing_input_ends_with_its_message_and_status_2(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("NERMO_TRACEBACK", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nermo-ros {argv[0]}") and message in err and "Traceback" not in err


def test_a_malformed_config_names_its_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NERMO_TRACEBACK", raising=False)
    config = tmp_path / "bad.yaml"
    config.write_text("kind: nermo\nmodel: {layout: nermo_body17}\nlayout: cmu_protocol25\n")
    assert main(["train", "--config", str(config), "--device", "cpu", "--out",
                 str(tmp_path / "run")]) == 2
    assert "model.layout 'nermo_body17' differs from layout" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_nermo_traceback_1_lets_the_error_through_for_debugging(monkeypatch):
    monkeypatch.setenv("NERMO_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        main(["train", "--config", str(Path("nope.yaml"))])


@pytest.mark.parametrize("argv, message", [
    (["train", "--config", "x.yaml", "--steps", "-5"], "give a whole number of steps"),
    (["bench", "--people", "0"], "argument --people: '0': give whole numbers of at least 1"),
    (["bench", "--steps", "1,x"], "give whole numbers separated by commas"),
])
def test_a_count_out_of_range_is_refused_by_the_argument_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["bag", "convert", "pybullet:humanoid3d_walk.txt"], ["demo"]])
def test_a_clip_played_no_times_is_refused_before_anything_is_written(verb, tmp_path, capfd,
                                                                        monkeypatch):
    monkeypatch.delenv("NERMO_TRACEBACK", raising=False)
    monkeypatch.chdir(tmp_path)
    out = ["walk_bag"] if verb[0] == "bag" else ["--duration", "1"]
    assert main([*verb, *out, "--cycles", "0"]) == 2
    assert "cycles 0: a clip plays at least once" in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, says", [
    ("onnx", "nermo_ros[export]"), ("google.protobuf", "nermo_ros[export]"),
    ("rosbags.rosbag2", "nermo_ros[bag]"), ("mediapipe", "nermo_ros[perception]"),
    ("matplotlib.pyplot", "nermo_ros[plots]"), ("rclpy", "./nermo"),
    ("diagnostic_msgs.msg", "./nermo"), ("nermo_ros.msg", "./nermo"),
])
def test_a_missing_optional_dependency_names_what_to_install(name, says):
    from nermo_ros.cli import missing_dependency_hint

    assert says in missing_dependency_hint(ModuleNotFoundError(f"No module named {name!r}",
                                                                 name=name))


@pytest.mark.parametrize("name", ["nermo_ros.predictors.nope", "numpy", "yaml"])
def test_a_missing_module_that_is_no_optional_dependency_is_not_explained_away(name):
    from nermo_ros.cli import missing_dependency_hint

    assert missing_dependency_hint(ModuleNotFoundError("gone", name=name)) is None
