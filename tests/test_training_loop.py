"""The training driver (coulombgas.training._loop) splits long record intervals into short kernel calls.

Each mean-loss kernel continues the running loss sum it is given, so a record interval done in
one call or in many gives the same bits; Ctrl-C during an interval commits the block's state
mid-interval, and ``resume=True`` continues from there to the bits of an uninterrupted run.
"""

import importlib
import os
import signal
import time

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import _durable as du
from coulombgas import store as st
from coulombgas.training import _loop

ts, hl, pn, rbm = (importlib.import_module(f"coulombgas.training.{m}")
                   for m in ("teacher_student", "hidden_layer", "phase_network", "rbm"))

FIELDS = ("eigenvalues", "singular_values", "loss", "weights", "diverged_ids")

# One small run per model (mean batch loss: teacher-student in both protocols, hidden layer,
# phase network; KL at the final weights: the RBM).
RUNS = {
    "teacher-student": (ts.teacher_student, dict(models=3, steps=120, record_every=40, seed=5)),
    "teacher-student, reshuffled, noise per step": (
        ts.teacher_student, dict(models=3, steps=120, record_every=40, seed=5, batch_size=4, epoch_batches=7,
                                 batch_order="reshuffle", noise_draw="per-step")),
    "hidden-layer": (hl.hidden_layer_teacher_student, dict(Z="random", models=3, steps=90, record_every=30, seed=2)),
    "phase-network": (pn.phase_network, dict(lr=0.125, sigma_w=1.0, models=2, steps=60, record_every=20, seed=1,
                                             epoch_batches=50)),
    "rbm": (rbm.gaussian_rbm, dict(n=4, n_hidden=4, models=3, steps=60, record_every=20, seed=3)),
}


class _Fixed(du.Pacer):
    """A pacer that keeps its size and logs every call's update count."""

    log: list = []

    def __init__(self, size):
        super().__init__(start=size, fixed=True)

    def took(self, units, seconds):
        _Fixed.log.append(units)


def _train(monkeypatch, name, size, **extra):
    fn, kw = RUNS[name]
    _Fixed.log = []
    monkeypatch.setattr(_loop, "Pacer", lambda: _Fixed(size))
    return fn(progress=False, **kw, **extra)


@pytest.mark.parametrize("name", RUNS)
def test_an_interval_split_into_single_updates_gives_the_bits_of_one_call(monkeypatch, name):
    whole = _train(monkeypatch, name, 10**9)
    steps, every = RUNS[name][1]["steps"], RUNS[name][1]["record_every"]
    assert _Fixed.log == [0] + [every] * (steps // every)  # one call per record interval
    split = _train(monkeypatch, name, 1)
    assert _Fixed.log == [0] + [1] * steps  # every update its own call
    for field in FIELDS:
        assert getattr(split, field).tobytes() == getattr(whole, field).tobytes(), field
    assert np.all(np.isfinite(whole.loss))


def test_the_kernel_continues_the_loss_sum_it_is_given():
    h = ts.teacher_student(models=3, steps=1, record_every=1, seed=5, progress=False)
    data, state = _loop.replay_init(ts.init, h)
    state.update(step=np.zeros(3, np.int64), diverged=np.zeros(3, np.int64))
    fresh = {k: v.copy() for k, v in state.items()}
    split = {k: v.copy() for k, v in state.items()}
    one = ts.advance(data, state, None, 40, h.params)
    for _ in range(40):
        ts.advance(data, split, None, 1, h.params)
    assert split["loss_sum"].tobytes() == state["loss_sum"].tobytes()
    assert (state["loss_sum"] / 40).tobytes() == one.tobytes()
    # A caller keeping no sum (one call per interval, e.g. phase_paper) gets that call's mean.
    del fresh["loss_sum"]
    assert ts.advance(data, fresh, None, 40, h.params).tobytes() == one.tobytes()
    assert fresh["W"].tobytes() == state["W"].tobytes()


class _SigintAt(du.Pacer):
    """Fixed-size calls; sends this process SIGINT after ``calls`` calls (the driver's Interrupts catch it)."""

    def __init__(self, size, calls):
        super().__init__(start=size, fixed=True)
        self.calls = calls

    def took(self, units, seconds):
        self.calls -= 1
        if self.calls == 0:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("name", ["teacher-student", "teacher-student, reshuffled, noise per step", "hidden-layer",
                                  "phase-network", "rbm"])
def test_ctrl_c_inside_an_interval_commits_it_there_and_resume_gives_the_whole_runs_bits(monkeypatch, tmp_path, name):
    fn, kw = RUNS[name]
    whole = fn(progress=False, **kw)
    path = tmp_path / "h.h5"
    every = kw["record_every"]
    # Calls of 7 updates: record 0's loss (a call of 0), the first interval, two calls into the second.
    monkeypatch.setattr(_loop, "Pacer", lambda: _SigintAt(7, 1 + -(-every // 7) + 2))
    with pytest.raises(du.RunInterrupted) as stopped:
        fn(progress=False, out=path, **kw)
    assert f"2 of {kw['steps'] // every + 1} records" in str(stopped.value)
    assert f"and 14 of the {every} updates toward the next" in str(stopped.value)
    committed = st.read_store(path)["state"]
    assert int(committed["record"]) == 2 and int(committed["interval_done"]) == 14
    assert np.all(committed["step"] == every + 14)
    monkeypatch.undo()
    back = fn(progress=False, out=path, resume=True, **kw)
    for field in FIELDS:
        assert getattr(back, field).tobytes() == getattr(whole, field).tobytes(), field


def test_a_file_without_mid_interval_slots_still_resumes(tmp_path, monkeypatch):
    # A file written before mid-interval commits existed has no interval_done or loss_sum slot:
    # a stop there waits for the interval's end and the resume is still exact.
    kw = RUNS["teacher-student"][1]
    whole = ts.teacher_student(progress=False, **kw)
    path = tmp_path / "old.h5"
    real = _loop._Store._slots

    def old_slots(self, lo, state, done):  # what an older writer declared and saved
        out = real(self, lo, state, done)
        return {k: v for k, v in out.items() if k not in ("interval_done", "loss_sum")}

    monkeypatch.setattr(_loop._Store, "_slots", old_slots)
    monkeypatch.setattr(_loop, "Pacer", lambda: _SigintAt(7, 1 + 6 + 2))
    with pytest.raises(du.RunInterrupted) as stopped:
        ts.teacher_student(progress=False, out=path, **kw)
    assert "3 of 4 records" in str(stopped.value)  # the interval in progress was finished first
    assert "interval_done" not in st.read_store(path)["state"]
    monkeypatch.undo()
    back = ts.teacher_student(progress=False, out=path, resume=True, **kw)
    for field in FIELDS:
        assert getattr(back, field).tobytes() == getattr(whole, field).tobytes(), field


def test_kernel_calls_follow_the_measured_rate(monkeypatch):
    # One record interval of 2·10⁶ updates: done in calls that grow to ~0.2 s, not one long call.
    sizes = []
    real = du.Pacer.took

    def logged(self, units, seconds):
        sizes.append(units)
        real(self, units, seconds)

    monkeypatch.setattr(du.Pacer, "took", logged)
    start = time.perf_counter()
    ts.teacher_student(models=2, steps=2_000_000, record_every=2_000_000, progress=False)
    seconds = time.perf_counter() - start
    assert sum(sizes) == 2_000_000 and sizes[:3] == [0, 1, 4]
    assert len(sizes) > 5  # split, so Ctrl-C can be answered
    print(f"\n2e6 updates in {len(sizes) - 1} calls, {seconds:.2f} s; largest {max(sizes)}")


def test_cli_ctrl_c_inside_a_long_record_interval_is_answered_at_once_and_resume_finishes(tmp_path):
    # One record interval of 10⁷ updates (seconds of work): Ctrl-C is answered within a kernel
    # call (~0.2 s), the interval's progress is committed, and --resume finishes the run.
    import subprocess
    import sys

    out = tmp_path / "train"
    path = out / "harvest.h5"
    exe = os.path.join(os.path.dirname(sys.executable), "coulombgas")
    args = [exe, "train", "teacher-student", "--models", "1", "--steps", "20000000", "--record-every", "10000000",
            "--seed", "4", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)  # the file appears at the first commit (~0.25 s into the interval)
    time.sleep(0.3)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    latency = time.perf_counter() - sent
    assert proc.returncode == 130, err
    assert "of the 10000000 updates toward the next" in err and "--resume" in err
    state = st.read_store(path)["state"]
    print(f"\ntraining, record interval 1e7 updates: Ctrl-C answered in {latency:.2f} s "
          f"({int(state['interval_done'])} updates into interval {int(state['record'])})")
    assert 0 < int(state["interval_done"]) < 10_000_000
    done = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    back = cg.training.Harvest.load(path)
    assert back.steps.tolist() == [0, 10_000_000, 20_000_000] and np.all(np.isfinite(back.loss))
