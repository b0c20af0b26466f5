"""Training: the loss (closed-form Gaussian value), config files and overrides, resume
equals an uninterrupted run, config mismatch, NaN guard, bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from wsgm.data.io import save_fields
from wsgm.errors import WSGMError
from wsgm.losses import dsm_loss, sample_times
from wsgm.nn import UNet, UNetConfig
from wsgm.sde import OU
from wsgm.training.config import RunConfig, apply_overrides, load_toml
from wsgm.training.loop import TrainingDiverged, train


def _logsnr_mean(T: float, tmin: float) -> float:
    # λ = log(α/σ) = -t - ½ log(1 - e^{-2t}) uniform; t(λ) = ½ log(1 + e^{-2λ})
    lam_of = lambda t: -t - 0.5 * math.log(1 - math.exp(-2 * t))  # noqa: E731
    lam = np.linspace(lam_of(T), lam_of(tmin), 1_000_001)
    return float(np.mean(0.5 * np.log1p(np.exp(-2 * lam))))


@pytest.mark.parametrize("schedule", ["uniform", "quadratic", "log", "logsnr"])
def test_time_schedules_mean(schedule: str) -> None:
    T, tmin = 5.0, 1e-3
    t = sample_times(
        200_000,
        schedule=schedule,
        T=T,
        t_min=tmin,
        generator=torch.Generator().manual_seed(0),
        dtype=torch.float64,
    )
    expected = {
        "uniform": (T + tmin) / 2,
        "quadratic": tmin + (T - tmin) / 3,
        "log": (T - tmin) / math.log(T / tmin),
        "logsnr": _logsnr_mean(T, tmin),
    }[schedule]
    assert t.min() >= tmin and t.max() <= T
    assert abs(float(t.mean()) - expected) < 0.01 * expected


@pytest.mark.parametrize("schedule", ["uniform", "logsnr"])
def test_v_weighting_of_the_exact_predictor_is_one(schedule: str) -> None:
    # Data N(0, I): the exact eps error per coordinate is 1 - sigma_t^2 = alpha_t^2 at every t,
    # and the v weighting 1/alpha_t^2 makes it exactly 1 whatever the schedule of t.
    sde = OU()
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(50_000, 4, generator=g, dtype=torch.float64)
    exact = lambda x, t, c: sde.sigma(t)[:, None] * x  # noqa: E731
    loss = dsm_loss(exact, x0, sde=sde, schedule=schedule, t_min=0.01, weighting="v", generator=g)
    assert abs(float(loss) - 1.0) < 0.03
    with pytest.raises(ValueError, match="unknown loss weighting 'snr'; allowed: eps, v"):
        dsm_loss(exact, x0, sde=sde, weighting="snr", generator=g)


def test_dsm_loss_of_the_exact_predictor() -> None:
    # Data N(0, I): x_t ~ N(0, I) and E[eps | x_t] = sigma_t x_t, so the best loss is
    # E_t[1 - sigma_t^2] = E_t[exp(-2t)] = (exp(-2 t_min) - exp(-2T)) / (2 (T - t_min)) (uniform t).
    sde, tmin = OU(), 0.01
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(50_000, 4, generator=g, dtype=torch.float64)
    exact = lambda x, t, c: sde.sigma(t)[:, None] * x  # noqa: E731
    loss = dsm_loss(exact, x0, sde=sde, schedule="uniform", t_min=tmin, generator=g)
    expected = (math.exp(-2 * tmin) - math.exp(-2 * sde.T)) / (2 * (sde.T - tmin))
    assert abs(float(loss) - expected) < 0.03 * expected
    zero = dsm_loss(
        lambda x, t, c: torch.zeros_like(x),
        x0,
        sde=sde,
        schedule="uniform",
        t_min=tmin,
        generator=g,
    )
    assert abs(float(zero) - 1.0) < 0.01


@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_input_perturbation_has_its_closed_form_minimizer(gamma: float) -> None:
    # Data N(0, I) seen as y = alpha x + sigma (eps + gamma xi): E[eps | y] = sigma y / v with
    # v = alpha^2 + sigma^2 (1 + gamma^2), best loss E_t[1 - sigma^2 / v] (uniform t); the
    # plain exact predictor sigma y is worse by E_t[sigma^2 (v - 1)^2 / v] (0 for gamma = 0).
    from wsgm.losses import DSMLoss

    sde, tmin = OU(), 0.01
    loss = DSMLoss(sde, "uniform", tmin, "eps", input_perturbation=gamma)
    g = torch.Generator().manual_seed(4)
    batch = loss.draw(torch.randn(50_000, 4, generator=g, dtype=torch.float64), g)

    def best(x, t, c):
        s2 = sde.sigma(t)[:, None] ** 2
        return sde.sigma(t)[:, None] * x / (1 - s2 + s2 * (1 + gamma**2))

    t = torch.linspace(tmin, sde.T, 200_001, dtype=torch.float64)
    s2 = sde.sigma(t) ** 2
    v = 1 - s2 + s2 * (1 + gamma**2)
    expected = float(torch.mean(1 - s2 / v))
    assert abs(float(loss(best, batch)) - expected) < 0.03 * expected
    plain = float(loss(lambda x, t, c: sde.sigma(t)[:, None] * x, batch))
    excess = float(torch.mean(s2 * (v - 1) ** 2 / v))
    assert plain - float(loss(best, batch)) == pytest.approx(excess, rel=0.1, abs=1e-3)
    with pytest.raises(ValueError, match="input_perturbation must be >= 0, got -0.1"):
        DSMLoss(sde, input_perturbation=-0.1)
    with pytest.raises(WSGMError, match="train.input_perturbation must be >= 0"):
        apply_overrides(RunConfig(), ["train.input_perturbation=-1"])


def test_loss_decreases_on_a_toy_problem() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    # Strongly correlated 8x8 fields: a constant level per sample plus small noise.
    data = torch.randn(256, 1, 1, 1, generator=g) + 0.1 * torch.randn(256, 1, 8, 8, generator=g)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), groups=4))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        idx = torch.randint(256, (32,), generator=g)
        loss = dsm_loss(net, data[idx], schedule="uniform", t_min=1e-2, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])


# ----------------------------------------------------------------------------------------
# config


def test_toml_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        'data = "x.npz"\n[model]\nkind = "sgm"\n[unet]\nchannel_mults = [1, 2]\n[train]\nlr = 1\n'
    )
    cfg = load_toml(f)
    assert cfg.model.kind == "sgm" and cfg.unet.channel_mults == [1, 2] and cfg.train.lr == 1.0
    apply_overrides(
        cfg, ["train.steps=7", "model.wavelet=haar", 'train.scales=["coarse", 1]', "train.cpu=true"]
    )
    assert (cfg.train.steps, cfg.model.wavelet, cfg.train.scales, cfg.train.cpu) == (
        7,
        "haar",
        ["coarse", "1"],
        True,
    )


@pytest.mark.parametrize("item", ["train.learning_rate=1", "model.foo=2", "unet=3"])
def test_unknown_key_lists_valid_keys(item: str) -> None:
    with pytest.raises(WSGMError, match=r"unknown config key .*valid keys: .*train\.lr"):
        apply_overrides(RunConfig(), [item])


@pytest.mark.parametrize(
    "item", ["train.steps=1.5", "train.cpu=3", 'unet.channel_mults=[1, "a"]', "train.lr"]
)
def test_bad_override_values(item: str) -> None:
    with pytest.raises(WSGMError):
        apply_overrides(RunConfig(), [item])


# ----------------------------------------------------------------------------------------
# the training loop


def _data(tmp_path: Path, size: int = 8, n: int = 32) -> str:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, size, size)).astype(np.float32)
    path = tmp_path / "d.npz"
    save_fields(path, x + np.roll(x, 1, axis=-1), {"source": "test", "kind": "field"})
    return str(path)


def _cfg(data: str, kind: str = "wsgm", steps: int = 4, **sets: object) -> RunConfig:
    cfg = RunConfig(data=data)
    items = [
        f"model.kind={kind}",
        f"train.steps={steps}",
        "train.batch_size=8",
        "unet.base_channels=8",
        "train.progress=false",
        "model.wavelet=haar",
        "train.warmup_steps=2",
        "train.checkpoint_every=2",
    ]
    items += [f"{k}={v}" for k, v in sets.items()]
    return apply_overrides(cfg, items)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    w = load_file(str(run / "model" / "weights.safetensors"))
    w.update({f"ema:{k}": v for k, v in load_file(str(run / "model" / "ema.safetensors")).items()})
    w.update(
        {f"opt:{k}": v for k, v in load_file(str(run / "model" / "optimizer.safetensors")).items()}
    )
    return w


@pytest.mark.parametrize("kind", ["sgm", "wsgm"])
def test_resume_equals_uninterrupted(kind: str, tmp_path: Path) -> None:
    data = _data(tmp_path)
    train(_cfg(data, kind, steps=6), tmp_path / "a")
    # b: stopped (as by Ctrl-C) after 3 steps, then the same command resumes to 6
    r = train(_cfg(data, kind, steps=6), tmp_path / "b", should_stop=lambda s: min(s.values()) >= 3)
    assert r.interrupted and set(r.steps.values()) == {3}
    r = train(_cfg(data, kind, steps=6), tmp_path / "b")
    assert set(r.steps.values()) == {6}
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert any('"event": "resume"' in line for line in lines)


def test_scales_trained_separately_match_joint_training(tmp_path: Path) -> None:
    # Each network's batches depend on (seed, network, step) only: training scale 1 alone
    # gives the weights that training all networks together gives it.
    data = _data(tmp_path)
    train(_cfg(data, steps=3), tmp_path / "joint")
    train(_cfg(data, steps=3, **{"train.scales": '["1"]'}), tmp_path / "sep")
    wj, ws = _weights(tmp_path / "joint"), _weights(tmp_path / "sep")
    for k in wj:
        if k.startswith("scale1."):
            assert torch.equal(wj[k], ws[k]), k
    # The coarse network is untrained in the second run. (Not every tensor must differ: a
    # conv bias right before a one-channel-per-group GroupNorm gets no gradient at all.)
    coarse = [k for k in wj if k.startswith("coarse.")]
    changed = [k for k in coarse if not torch.equal(wj[k], ws[k])]
    assert len(changed) > 0.8 * len(coarse), sorted(set(coarse) - set(changed))


def test_config_mismatch_names_the_keys(tmp_path: Path) -> None:
    data = _data(tmp_path)
    train(_cfg(data, steps=2), tmp_path / "r")
    with pytest.raises(WSGMError, match=r"unet\.base_channels: 8 -> 16"):
        train(_cfg(data, steps=4, **{"unet.base_channels": 16}), tmp_path / "r")


def test_nan_loss_stops_and_keeps_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data(tmp_path)
    train(_cfg(data, steps=2), tmp_path / "r")
    before = _weights(tmp_path / "r")
    forward = UNet.forward  # still a function of the weights, as a real blow-up is
    monkeypatch.setattr(
        UNet, "forward", lambda self, x, t, cond=None: forward(self, x, t, cond) * float("nan")
    )
    with pytest.raises(TrainingDiverged, match=r"nan at step 3"):
        train(_cfg(data, steps=6), tmp_path / "r")
    after = _weights(tmp_path / "r")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bad_inputs(tmp_path: Path) -> None:
    data = _data(tmp_path, size=12)
    with pytest.raises(WSGMError, match="not divisible"):
        train(_cfg(data, steps=1, **{"model.levels": 3}), tmp_path / "r")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WSGMError, match="run directory"):
        train(_cfg(data, steps=1), blocker / "run")
    with pytest.raises(WSGMError, match="does not exist"):
        train(_cfg(str(tmp_path / "missing.npz"), steps=1), tmp_path / "r2")


def test_sigint_stops_cleanly_with_a_checkpoint(tmp_path: Path) -> None:
    import os
    import signal

    data = _data(tmp_path)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs in the background

    def press_ctrl_c(steps: dict[str, int]) -> bool:
        if min(steps.values()) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # handled: the loop stops before the next step
        return False

    r = train(
        _cfg(data, steps=50, **{"train.checkpoint_every": 100}),
        tmp_path / "r",
        should_stop=press_ctrl_c,
    )
    assert r.interrupted and set(r.steps.values()) == {2}
    state = (tmp_path / "r" / "model" / "train_state.json").read_text()
    assert '"scale1": 2' in state
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path: Path) -> None:
    from wsgm.fileio import recover_dir, swap_in_dir

    target = tmp_path / "model"
    swap_in_dir(target, lambda d: (d / "a.txt").write_text("old"))

    def broken(d: Path) -> None:
        (d / "a.txt").write_text("new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        swap_in_dir(target, broken)
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary left behind
    # killed between the two renames: the previous directory is restored
    target.rename(tmp_path / ".model.prev")
    recover_dir(target)
    assert (target / "a.txt").read_text() == "old"


def test_coarse_network_overrides() -> None:
    from wsgm.training.defaults import model_config_for

    run = apply_overrides(RunConfig(), ["unet.coarse_channels=48", "unet.coarse_attention=true"])
    cfg = model_config_for(run, channels=1, size=(32, 32), kind="field", periodic=True)
    assert cfg.levels == 2 and cfg.unets["coarse"].base_channels == 48
    assert cfg.unets["coarse"].mid_attention
    for j in (1, 2):  # the detail networks keep the shared settings
        assert cfg.unets[f"scale{j}"].base_channels == 32
        assert not cfg.unets[f"scale{j}"].mid_attention
    plain = model_config_for(RunConfig(), channels=1, size=(32, 32), kind="field", periodic=True)
    assert plain.unets["coarse"].base_channels == 32 and not plain.unets["coarse"].mid_attention
    with pytest.raises(WSGMError, match="unet.coarse_channels must be >= 0, got -8"):
        apply_overrides(RunConfig(), ["unet.coarse_channels=-8"])


def test_mean_head_unit_dc_reaches_every_network() -> None:
    from wsgm.training.defaults import model_config_for

    run = apply_overrides(RunConfig(), ["unet.mean_head_unit_dc=true"])
    cfg = model_config_for(run, channels=1, size=(32, 32), kind="field", periodic=True)
    assert all(u.mean_head and u.mean_head_unit_dc for u in cfg.unets.values())
    plain = model_config_for(RunConfig(), channels=1, size=(32, 32), kind="field", periodic=True)
    assert not any(u.mean_head_unit_dc for u in plain.unets.values())
    bad = apply_overrides(RunConfig(), ["unet.mean_head_unit_dc=true", "unet.mean_head=false"])
    with pytest.raises(WSGMError, match="unet.mean_head_unit_dc = true .* unet.mean_head is false"):
        bad.validate()


def test_a_config_written_before_a_key_existed_still_matches() -> None:
    from wsgm.training.config import config_diff

    new = RunConfig().to_dict()
    old = json.loads(json.dumps(new))
    del old["unet"]["coarse_channels"], old["unet"]["coarse_attention"]
    assert config_diff(old, new) == []  # a missing key counts as its default
    changed = apply_overrides(RunConfig(), ["unet.coarse_channels=64"]).to_dict()
    assert config_diff(old, changed) == ["unet.coarse_channels"]


def test_losses_are_read_back_once_per_log_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host sync per step keeps a GPU waiting on every launch: the loop leaves the losses on
    # the device and reads them back every train.log_every steps (and before checkpoints).
    from wsgm.training import loop

    seen: list[int] = []
    settle = loop._settle
    monkeypatch.setattr(
        loop, "_settle", lambda s, done: (seen.append(len(done)), settle(s, done))[1]
    )
    run = tmp_path / "r"
    train(
        _cfg(_data(tmp_path), steps=10, **{"train.log_every": 5, "train.checkpoint_every": 100}),
        run,
    )
    assert seen == [5, 5, 0]
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "step" in r]
    assert [r["step"] for r in logged] == [5, 10]
    assert all(math.isfinite(r["loss/coarse"]) and r["grad_norm/scale1"] > 0 for r in logged)


def test_divergence_found_at_the_read_back_names_its_step_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forward = UNet.forward
    monkeypatch.setattr(
        UNet, "forward", lambda self, x, t, cond=None: forward(self, x, t, cond) * float("inf")
    )
    run = tmp_path / "r"
    cfg = _cfg(_data(tmp_path), steps=10, **{"train.log_every": 4, "train.checkpoint_every": 8})
    with pytest.raises(TrainingDiverged, match=r"loss of network '\w+' is (inf|nan) at step 1 "):
        train(cfg, run)
    assert not (run / "model").exists()  # the bad steps were never checkpointed
    assert '"event": "diverged"' in (run / "metrics.jsonl").read_text()


def test_ema_update_is_the_warmed_up_lerp() -> None:
    from wsgm.training.ema import EMA, ema_decay

    net = torch.nn.BatchNorm1d(3)  # float parameters and buffers, and an integer buffer
    ema = EMA(net)
    before = {k: v.clone() for k, v in ema.shadow.items()}
    with torch.no_grad():
        net.weight.add_(1.0)
        net.running_mean.add_(2.0)
        net.num_batches_tracked.add_(7)
    ema.update(net, step=5, decay=0.999)
    d = ema_decay(0.999, 5)
    for k, v in net.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(ema.shadow[k], d * before[k] + (1 - d) * v), k
        else:
            assert torch.equal(ema.shadow[k], v), k
