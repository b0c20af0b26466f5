"""Run directories saved before a config key existed still resume, as they behaved then."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from wsgm.cli import main
from wsgm.data.io import save_fields
from wsgm.errors import WSGMError
from wsgm.models import load_model
from wsgm.models.config import ModelConfig
from wsgm.training.config import LEGACY_DEFAULTS, with_legacy_defaults


def test_with_legacy_defaults_fills_only_missing_keys() -> None:
    saved = {"model": {"kind": "wsgm"}, "unet": {"base_channels": 8}, "train": {"steps": 3}}
    out = with_legacy_defaults(saved)
    assert out["unet"]["mean_head"] is False
    assert "mean_head" not in saved["unet"]  # the input is not modified
    assert out["model"]["prediction"] == "eps"
    assert with_legacy_defaults({"unet": {"mean_head": True}})["unet"]["mean_head"] is True
    assert set(LEGACY_DEFAULTS) == {"unet.mean_head", "model.prediction", "kind"}


@pytest.mark.parametrize(
    "section,key,old,new", [("unet", "mean_head", False, True), ("model", "prediction", "eps", "v")]
)
def test_run_saved_before_a_key_resumes_as_it_was(
    tmp_path: Path, section: str, key: str, old: object, new: object
) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "fields.npz"
    save_fields(
        data,
        rng.standard_normal((32, 8, 8)).astype(np.float32),
        {"source": "test", "kind": "field"},
    )
    run = tmp_path / "run"

    def train(steps: int, *extra: str) -> int:
        return main(
            [
                "train",
                "--data",
                str(data),
                "--model",
                "wsgm",
                "--run-dir",
                str(run),
                "--train-steps",
                str(steps),
                "--train-batch",
                "8",
                "--no-progress",
                "--wavelet",
                "haar",
                "--set",
                "unet.base_channels=8",
                *extra,
            ]
        )

    assert train(3, "--set", f"{section}.{key}={json.dumps(old)}") == 0
    # Make the checkpoint and the model look like ones written before the key existed.
    state_file = run / "model" / "train_state.json"
    state = json.loads(state_file.read_text())
    del state["run_config"][section][key]
    state_file.write_text(json.dumps(state))
    assert train(5) == 0
    model = load_model(run)
    got = (
        getattr(model.config, key)
        if section == "model"
        else {getattr(c, key) for c in model.config.unets.values()}
    )
    assert got == (old if section == "model" else {old})
    # A new run gets the new default.
    assert with_legacy_defaults({section: {key: new}})[section][key] == new


def test_model_saved_before_prediction_loads_as_eps(tmp_path: Path) -> None:
    # config.json of models written before ModelConfig.prediction existed lacks the key.
    cfg = ModelConfig.from_dict(
        {"kind": "sgm", "channels": 1, "size": [8, 8], "unets": {"net": {"in_channels": 1}}}
    )
    assert cfg.prediction == "eps"
    with pytest.raises(WSGMError, match="unknown prediction 'x0'; allowed: eps, v"):
        dataclasses.replace(cfg, prediction="x0")
