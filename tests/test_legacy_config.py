"""Run directories saved before a config key existed still resume, as they behaved then."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wsgm.cli import main
from wsgm.data.io import save_fields
from wsgm.models import load_model
from wsgm.training.config import LEGACY_DEFAULTS, with_legacy_defaults


def test_with_legacy_defaults_fills_only_missing_keys() -> None:
    saved = {"unet": {"base_channels": 8}, "train": {"steps": 3}}
    out = with_legacy_defaults(saved)
    assert out["unet"]["mean_head"] is False
    assert "mean_head" not in saved["unet"]  # the input is not modified
    assert with_legacy_defaults({"unet": {"mean_head": True}})["unet"]["mean_head"] is True
    assert set(LEGACY_DEFAULTS) == {"unet.mean_head"}


def test_run_saved_without_mean_head_resumes_without_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "fields.npz"
    save_fields(data, rng.standard_normal((32, 8, 8)).astype(np.float32), {"source": "test"})
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
                "--steps",
                str(steps),
                "--batch-size",
                "8",
                "--no-progress",
                "--wavelet",
                "haar",
                "--set",
                "unet.base_channels=8",
                *extra,
            ]
        )

    assert train(3, "--set", "unet.mean_head=false") == 0
    # Make the checkpoint look like one written before the key existed.
    state_file = run / "model" / "train_state.json"
    state = json.loads(state_file.read_text())
    del state["run_config"]["unet"]["mean_head"]
    state_file.write_text(json.dumps(state))
    assert train(5) == 0
    model = load_model(run)
    assert all(not cfg.mean_head for cfg in model.config.unets.values())
