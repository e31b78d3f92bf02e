"""Package data (config/, models/) is found in the checkout or in a colcon install's share/."""

from nermo_ros.paths import SOURCE_ROOT, find_package_data, package_data_candidates


def test_a_checkout_finds_its_own_config_and_models_first():
    assert find_package_data("config/predictor.yaml") == SOURCE_ROOT / "config" / "predictor.yaml"
    assert find_package_data("models") == SOURCE_ROOT / "models"


def test_an_installed_prefix_is_searched_after_the_checkout(tmp_path, monkeypatch):
    installed = tmp_path / "prefix" / "share" / "nermo_ros" / "models" / "extra.pt"
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"x")
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path / 'nothing'}:{tmp_path / 'prefix'}")
    assert package_data_candidates("models/extra.pt")[-1] == installed
    assert find_package_data("models/extra.pt") == installed
    assert find_package_data("models/missing.pt") is None
