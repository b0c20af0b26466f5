"""Hostile inputs and numerical guards: damaged checkpoints, wrong shapes, newer formats,
NaN/Inf or mis-shaped data, a full disk, no code execution when loading, exploding losses.
(Covered elsewhere: sizes not divisible by 2^J and a NaN loss in test_train.py; unreadable
image files in test_images.py; truncated data files in test_data_io.py.)"""

from __future__ import annotations

import errno
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import wsgm.training.checkpoint as checkpoint_module
from wsgm.cli import main
from wsgm.data.io import load_fields, save_fields
from wsgm.errors import WSGMError
from wsgm.models.io import load_model
from wsgm.training.checkpoint import load_checkpoint
from wsgm.training.config import RunConfig, apply_overrides
from wsgm.training.loop import TrainingDiverged, train


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _data(path: Path, channels: int = 1) -> Path:
    x = np.random.default_rng(0).standard_normal((16, channels, 8, 8)).astype(np.float32)
    save_fields(path, x + np.roll(x, 1, axis=-1), {"source": "test", "kind": "field"})
    return path


def _cfg(data: Path, steps: int = 2, **sets: object) -> RunConfig:
    items = [
        "model.kind=sgm",
        f"train.steps={steps}",
        "train.batch_size=4",
        "unet.base_channels=8",
        "train.progress=false",
        "train.checkpoint_every=2",
    ]
    return apply_overrides(RunConfig(data=str(data)), items + [f"{k}={v}" for k, v in sets.items()])


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run directory holding a complete checkpoint at step 2."""
    train(_cfg(_data(tmp_path / "d.npz")), tmp_path / "run")
    return tmp_path / "run"


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x40  # inside the tensor data: still a valid safetensors file
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda m: _truncate(m / "weights.safetensors"), "corrupt"),
        (lambda m: _flip_a_byte(m / "optimizer.safetensors"), "SHA-256 differs"),
        (lambda m: (m / "ema.safetensors").unlink(), "missing"),
        (lambda m: (m / "train_state.json").write_text('{"steps": '), "not readable JSON"),
    ],
    ids=["truncated", "bit-flip", "missing-file", "garbage-json"],
)
def test_damaged_checkpoint_is_refused_with_what_to_do(  # type: ignore[no-untyped-def]
    run: Path, damage, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    damage(run / "model")
    before = _snapshot(run / "model")
    with pytest.raises(WSGMError, match=match) as info:
        train(_cfg(run.parent / "d.npz", steps=4), run)
    assert "move it away" in str(info.value) and str(run / "model") in str(info.value)
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run), "--train-steps", "4"]) == 2  # the CLI: one line
    assert "move it away" in capsys.readouterr().err
    assert _snapshot(run / "model") == before  # nothing was overwritten


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: _truncate(m / "weights.safetensors"),
        lambda m: (m / "train_state.json").write_text("{"),
    ],
    ids=["truncated", "garbage-json"],
)
def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(  # type: ignore[no-untyped-def]
    tmp_path: Path, damage, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(tmp_path / "d.npz")
    train(_cfg(data, steps=6), tmp_path / "ref")
    run = tmp_path / "run"
    train(_cfg(data, steps=4), run)  # checkpoints at steps 2 and 4: model.previous is step 2
    assert load_checkpoint(run).steps == {"net": 4}
    damage(run / "model")
    capsys.readouterr()
    assert main(["train", "--run-dir", str(run), "--train-steps", "6"]) == 0  # the CLI resumes
    assert "resuming from the previous checkpoint (steps {'net': 2})" in capsys.readouterr().err
    (aside,) = run.glob("model.damaged-*")  # nothing is deleted
    assert (aside / "weights.safetensors").exists()
    ref, got = _snapshot(tmp_path / "ref" / "model"), _snapshot(run / "model")
    for name in ("weights.safetensors", "ema.safetensors", "optimizer.safetensors"):
        assert ref[name] == got[name], name  # as if the damaged checkpoint had never existed
    events = [json.loads(line).get("event") for line in (run / "metrics.jsonl").open()]
    assert "restored_previous" in events


def test_bare_model_dir_is_not_overwritten(run: Path) -> None:
    (run / "model" / "train_state.json").unlink()
    with pytest.raises(WSGMError, match="no training state"):
        train(_cfg(run.parent / "d.npz", steps=4), run)
    assert (run / "model" / "weights.safetensors").exists()


def test_interrupted_swap_is_recovered_and_used_on_resume(run: Path) -> None:
    # killed between the two renames of a checkpoint swap, with a dead writer's temporary
    (run / "model").rename(run / ".model.prev")
    (run / ".model.tmp-999999999").mkdir()
    (run / ".model.tmp-999999999" / "weights.safetensors").write_bytes(b"half")
    r = train(_cfg(run.parent / "d.npz", steps=4), run)
    assert r.steps == {"net": 4}
    events = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    assert [e["steps"] for e in events if e.get("event") == "resume"] == [{"net": 2}]
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_weights_with_wrong_shapes(run: Path) -> None:
    m = run / "model"
    bad = {
        k: torch.zeros(v.shape[0] + 1, *v.shape[1:])
        for k, v in load_file(m / "ema.safetensors").items()
    }
    save_file(bad, str(m / "ema.safetensors"))
    with pytest.raises(
        WSGMError,
        match=r"ema.safetensors does not match config.json: \d+ problem\(s\), the first: size",
    ):
        load_model(run)
    # the same file in a checkpoint whose checksums agree: resume refuses it too
    state = json.loads((m / "train_state.json").read_text())
    state["sha256"]["ema.safetensors"] = checkpoint_module._sha256(m / "ema.safetensors")
    (m / "train_state.json").write_text(json.dumps(state))
    with pytest.raises(WSGMError, match="ema.safetensors does not match config.json"):
        load_checkpoint(run)


def test_formats_from_a_newer_version_name_both_versions(run: Path) -> None:
    m = run / "model"
    meta = json.loads((m / "config.json").read_text())
    meta["model"]["format_version"] = 7
    (m / "config.json").write_text(json.dumps(meta))
    with pytest.raises(WSGMError, match=r"version 7 is newer .*\(1\); upgrade wsgm"):
        load_model(m)
    state = json.loads((m / "train_state.json").read_text())
    state["version"] = 3
    (m / "train_state.json").write_text(json.dumps(state))
    with pytest.raises(WSGMError, match=r"version 3, this wsgm reads version 1; upgrade wsgm"):
        load_checkpoint(run)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_data_is_refused_with_the_first_bad_index(tmp_path: Path, bad: float) -> None:
    x = np.zeros((10, 8, 8), np.float32)
    x[7, 2, 3] = x[9, 0, 0] = bad
    np.savez(tmp_path / "bad.npz", fields=x)  # written without wsgm's own check
    with pytest.raises(WSGMError, match="2 bad sample.*first at index 7"):
        train(_cfg(tmp_path / "bad.npz"), tmp_path / "r")
    assert not (tmp_path / "r" / "model").exists()


def test_data_with_other_channels_than_the_checkpoint(run: Path) -> None:
    data = _data(run.parent / "d.npz", channels=3)  # the same file, now with 3 channels
    with pytest.raises(WSGMError, match=r"fields 3x8x8 but the model .* trained on 1x8x8"):
        train(_cfg(data, steps=4), run)


def test_full_disk_while_writing_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data(tmp_path / "d.npz")
    real = checkpoint_module.save_tensors
    calls = {"n": 0}

    def full_disk(path: Path, tensors: dict[str, torch.Tensor]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint (step 4)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, tensors)

    monkeypatch.setattr(checkpoint_module, "save_tensors", full_disk)
    with pytest.raises(WSGMError, match=r"disk full .* previous .*model is kept"):
        train(_cfg(data, steps=6), tmp_path / "r")
    assert load_checkpoint(tmp_path / "r").steps == {"net": 2}
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "data.json",
        "lock",
        "metrics.jsonl",
        "model",
        "model.previous",
        "run_config.json",
    ]
    monkeypatch.setattr(checkpoint_module, "save_tensors", real)
    assert train(_cfg(data, steps=6), tmp_path / "r").steps == {"net": 6}


def test_loading_never_unpickles(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling while loading")

    for mod, name in [(torch, "load"), (torch.serialization, "load"), (pickle, "load"),
                      (pickle, "loads"), (pickle, "Unpickler")]:  # fmt: skip
        monkeypatch.setattr(mod, name, forbidden)
    load_model(run)
    load_checkpoint(run)
    load_fields(run.parent / "d.npz")
    assert train(_cfg(run.parent / "d.npz", steps=3), run).steps == {"net": 3}


def test_exploding_loss_stops_naming_the_step_and_keeps_the_checkpoint(run: Path) -> None:
    before = _snapshot(run / "model")
    with pytest.raises(TrainingDiverged, match=r"at step 3 \(limit train.max_loss=1e-09\)"):
        train(_cfg(run.parent / "d.npz", steps=6, **{"train.max_loss": 1e-9}), run)
    assert _snapshot(run / "model") == before
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "diverged" and "step 3" in last["message"]


def test_infinite_gradient_stops(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: torch.tensor(np.inf))
    with pytest.raises(TrainingDiverged, match=r"gradient of network 'net' is inf at step 3"):
        train(_cfg(run.parent / "d.npz", steps=4), run)


def test_loss_and_gradient_norms_are_logged(tmp_path: Path) -> None:
    cfg = _cfg(_data(tmp_path / "d.npz"), steps=4, **{"train.log_every": 1, "model.kind": "wsgm",
                                                      "model.wavelet": "haar"})  # fmt: skip
    train(cfg, tmp_path / "r")
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    steps = [r for r in rows if "step" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for r in steps:
        for net in ("coarse", "scale1"):
            assert np.isfinite(r[f"loss/{net}"]) and r[f"grad_norm/{net}"] > 0
