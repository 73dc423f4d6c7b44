"""Learning-rate schedules: tables of rates against their closed forms written out here, and
against torch.optim.lr_scheduler when it is installed."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler as S


def make_opt(lrs=(0.1,)):
    groups = [{"params": [mg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0], momentum=0.9)


def table(scheduler, steps):
    """The rates of every group at t = 0 .. steps-1, read from the optimizer's groups."""
    rows = []
    for _ in range(steps):
        rows.append([g["lr"] for g in scheduler.optimizer.param_groups])
        assert rows[-1] == scheduler.get_last_lr()
        scheduler.step()
    return np.array(rows)


BASES = (0.1, 0.03)


def expected(formula, steps):
    return np.array([[formula(base, t) for base in BASES] for t in range(steps)])


def test_step_lr():
    got = table(S.StepLR(make_opt(BASES), step_size=3, gamma=0.5), 10)
    np.testing.assert_allclose(got, expected(lambda b, t: b * 0.5 ** (t // 3), 10), rtol=1e-12)
    assert got[3, 0] == pytest.approx(0.05) and got[9, 1] == pytest.approx(0.03 / 8)


def test_exponential_lr():
    got = table(S.ExponentialLR(make_opt(BASES), gamma=0.9), 8)
    np.testing.assert_allclose(got, expected(lambda b, t: b * 0.9 ** t, 8), rtol=1e-12)


def test_cosine_annealing_closed_form_over_two_periods():
    T, eta_min = 10, 0.001
    got = table(S.CosineAnnealingLR(make_opt(BASES), T_max=T, eta_min=eta_min), 2 * T + 1)
    want = expected(lambda b, t: eta_min + (b - eta_min) * (1 + math.cos(math.pi * t / T)) / 2,
                    2 * T + 1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got[T], [eta_min, eta_min], rtol=1e-12)  # the bottom at T_max
    np.testing.assert_allclose(got[2 * T], BASES, rtol=1e-12)  # and back up at 2 T_max


def test_linear_lr_is_a_warm_up():
    got = table(S.LinearLR(make_opt(BASES), start_factor=0.1, total_iters=4), 7)
    factors = [0.1, 0.325, 0.55, 0.775, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(got, np.outer(factors, BASES), rtol=1e-12)


def test_warm_up_then_cosine():
    opt = make_opt(BASES)
    warm, total = 3, 10
    schedule = S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.25, total_iters=warm),
                                    S.CosineAnnealingLR(opt, T_max=total - warm)],
                              milestones=[warm])
    got = table(schedule, total + 1)

    def rate(base, t):
        if t < warm:
            return base * (0.25 + 0.75 * t / warm)
        return base * (1 + math.cos(math.pi * (t - warm) / (total - warm))) / 2

    np.testing.assert_allclose(got, expected(rate, total + 1), rtol=1e-12, atol=1e-15)


SCHEDULES = {
    "StepLR": lambda o, m: m.StepLR(o, step_size=2, gamma=0.3),
    "ExponentialLR": lambda o, m: m.ExponentialLR(o, gamma=0.8),
    "CosineAnnealingLR": lambda o, m: m.CosineAnnealingLR(o, T_max=6, eta_min=0.01),
    "LinearLR": lambda o, m: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=4),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours = table(SCHEDULES[name](make_opt(BASES), S), 13)
    params = [torch.zeros(2, requires_grad=True) for _ in BASES]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, BASES,
                                                                         strict=True)])
    sched = SCHEDULES[name](opt, torch.optim.lr_scheduler)
    theirs = []
    for _ in range(13):
        theirs.append(sched.get_last_lr())
        opt.step()
        sched.step()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_dict_resumes(name):
    straight = table(SCHEDULES[name](make_opt(BASES), S), 9)
    first = SCHEDULES[name](make_opt(BASES), S)
    table(first, 5)
    state = first.state_dict()
    resumed = SCHEDULES[name](make_opt(BASES), S)
    resumed.load_state_dict(state)
    assert resumed.get_last_lr() == list(straight[5])
    np.testing.assert_array_equal(table(resumed, 4), straight[5:])


def test_sequential_state_dict_resumes_and_survives_save(tmp_path):
    def make():
        opt = make_opt(BASES)
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=2),
                                    S.ExponentialLR(opt, gamma=0.5)], milestones=[2])

    straight = table(make(), 6)
    first = make()
    table(first, 3)
    mg.save(first.state_dict(), tmp_path / "sched.npz")
    resumed = make()
    resumed.load_state_dict(mg.load(tmp_path / "sched.npz"))
    np.testing.assert_array_equal(table(resumed, 3), straight[3:])


def test_initial_lr_is_kept_in_the_groups():
    opt = make_opt(BASES)
    S.ExponentialLR(opt, gamma=0.5).step()
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASES)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.015]
    # A second scheduler starts from the remembered initial rates, not the decayed ones.
    assert S.StepLR(opt, step_size=5).get_last_lr() == list(BASES)


def test_errors():
    opt = make_opt()
    with pytest.raises(ValueError, match="T_max must be >= 1"):
        S.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="step_size must be >= 1"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones, got 0"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(make_opt(), 2)], milestones=[3])
    with pytest.raises(TypeError, match="expected an Optimizer"):
        S.StepLR([], 2)
