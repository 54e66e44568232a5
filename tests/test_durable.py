"""Durable runs (coulombgas._durable): checksums, wall-time pacing, Ctrl-C answered at once, refused runs leave nothing."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import _durable as du
from coulombgas import store as st


def test_checksum_is_the_weighted_word_sum_and_sees_any_changed_word():
    v = np.arange(12.0).reshape(3, 4)
    assert du.checksum(np.zeros(0)) == 0
    words = v.view(np.uint64)
    weights = np.random.Generator(np.random.PCG64(0x636F756C)).integers(0, 2**64, size=1024, dtype=np.uint64) | 1
    expected = [sum(int(a) * int(b) for a, b in zip(row, weights)) % 2**64 for row in words]  # exact integers
    assert du.checksum(v, 1).tolist() == expected
    assert du.checksum(v) == sum(int(a) * int(b) for a, b in zip(words.ravel(), weights)) % 2**64
    for i in range(12):  # every single-bit change of every word is seen
        for bit in (0, 31, 63):
            bad = v.copy().view(np.uint64)
            bad.flat[i] ^= np.uint64(1 << bit)
            assert du.checksum(bad.view(np.float64), 1)[i // 4] != expected[i // 4]
    assert du.checksum(np.full(4, np.nan)) != 0  # the fill of an unwritten record never matches the fill 0
    assert du.checksum(np.array([1, 2, 3], dtype=np.uint8)) == du.checksum(np.array([1 + (2 << 8) + (3 << 16)]))


def test_index_shape():
    assert du.index_shape((slice(None), 3), (5, 7)) == (5,)
    assert du.index_shape((slice(1, 4), slice(2, None)), (5, 7)) == (3, 5)
    assert du.index_shape(2, (5,)) == ()
    with pytest.raises(TypeError, match="ints and slices"):
        du.index_shape([1, 2], (5,))


def test_pacer_follows_the_measured_rate_within_a_factor_four_per_call():
    p = du.Pacer(start=1, target=0.2)
    p.took(1, 0.0)
    assert p.size == 4  # no time measured: x4
    p.took(4, 10.0)
    assert p.size == 1  # slow (e.g. compiling): at least one unit
    p.took(1, 0.001)
    assert p.size == 4  # 200 units would take 0.2 s, but at most x4 a call
    p.took(4, 0.004)
    p.took(16, 0.016)
    p.took(64, 0.064)
    assert p.size == 200
    p.took(49, 1.0)
    assert p.size == 200  # a short remainder (under a quarter of the size) says nothing about the rate
    p.took(60, 0.12)
    assert p.size == 100  # a chunk cut to whole records still measures the rate
    fixed = du.Pacer(start=7, fixed=True)
    fixed.took(7, 100.0)
    assert fixed.size == 7


def test_interrupts_hold_the_first_ctrl_c_until_asked():
    # A process started in the background (`cmd &`) inherits SIGINT ignored; Python then installs no
    # handler. Start from Python's usual one, and put back what was there.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _hold_and_release()
    finally:
        signal.signal(signal.SIGINT, inherited)


def _hold_and_release():
    with du.Interrupts() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert stop.pending
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C: at once
            time.sleep(0.01)
    with du.Interrupts() as stop:
        stop.now = lambda: du.RunInterrupted("f.h5", 3)
        with pytest.raises(du.RunInterrupted, match="interrupted: 3 records kept in f.h5"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with du.Interrupts(active=False) as stop, pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)


# ------------------------------------------------------------------ Ctrl-C and refused runs

def _records_in(path):
    """Records committed in a file another process is writing (0 while it is missing or between commits)."""
    h5py = pytest.importorskip("h5py")
    try:
        with h5py.File(path, "r", locking=False) as fh:
            return int(np.min(st.read_store(fh)["done"]))
    except (OSError, ValueError):
        return 0


def _cli(*args, **kw):
    exe = os.path.join(os.path.dirname(sys.executable), "coulombgas")
    return subprocess.Popen([exe, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _interrupt_when_committed(proc, path, settle=0.0):
    """SIGINT ``proc`` once ``path`` holds 3 committed records (past compiling); (stderr, latency in s).

    Asserts the exit status 130 of a run stopped by Ctrl-C.
    """
    deadline = time.time() + 300
    while _records_in(path) < 3 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(settle)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    latency = time.perf_counter() - sent
    assert proc.returncode == 130, err
    return err, latency


@pytest.mark.parametrize("n,replicas,t_end,dt", [(100, 4, 5.0, 1e-4), (1000, 1, 1.0, 1e-5)])
def test_ctrl_c_commits_the_chunk_exits_130_and_resume_continues(tmp_path, n, replicas, t_end, dt):
    out = tmp_path / "run"
    args = ["simulate", "--n", str(n), "--beta", "2", "--t-end", str(t_end), "--dt", str(dt), "--replicas", str(replicas),
            "--record-every", "20", "--seed", "3", "--quiet", "--out", str(out)]
    traj = out / "trajectory.h5"
    err, latency = _interrupt_when_committed(_cli(*args), traj, settle=0.5)
    kept = int(err.split("interrupted: ")[1].split()[0])
    print(f"\nn = {n}: Ctrl-C answered in {latency:.2f} s, {kept} records kept")
    assert f"records kept in {traj}; run the same command with --resume to continue" in err
    assert len(cg.Trajectory.load(traj).t) == kept >= 3
    if n == 100:  # --resume continues it to the end, bit for bit
        resumed = _cli(*args, "--resume")
        _, err = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, err
        whole = cg.simulate(cg.CoulombGas.gaussian(n, beta=2.0), t_end, dt, replicas=replicas, record_every=20,
                            seed=3)
        assert cg.Trajectory.load(traj).x.tobytes() == whole.x.tobytes()


def test_a_refused_training_run_leaves_no_file(tmp_path):
    out = tmp_path / "refused"
    proc = _cli("train", "teacher-student", "--batch-size", "1000000000", "--quiet", "--out", str(out))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert not out.exists()
    os.makedirs(out)  # an existing (empty) folder: kept, and still empty
    proc = _cli("train", "teacher-student", "--batch-size", "1000000000", "--quiet", "--out", str(out))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and os.listdir(out) == [], err


def test_a_run_stopped_before_its_first_record_does_not_block_the_next(tmp_path):
    """Only ``harvest.h5.part`` is left (killed before the first commit): --resume says so, a plain run starts."""
    out = tmp_path / "run"
    os.makedirs(out)
    (out / "harvest.h5.part").write_bytes(b"half a file")
    args = ["train", "teacher-student", "--models", "2", "--steps", "8", "--record-every", "4", "--quiet",
            "--out", str(out)]
    proc = _cli(*args, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "stopped before its first record); run without --resume" in err, err
    proc = _cli(*args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "harvest.h5.part" not in os.listdir(out) and len(cg.training.Harvest.load(out / "harvest.h5").steps) == 3


def test_ctrl_c_on_training_commits_exits_130_and_resume_continues(tmp_path):
    out = tmp_path / "train"
    args = ["train", "teacher-student", "--models", "8", "--steps", "40000", "--record-every", "20", "--seed", "2",
            "--set", "block_models=4", "--quiet", "--out", str(out)]
    path = out / "harvest.h5"
    err, latency = _interrupt_when_committed(_cli(*args), path)
    print(f"\ntraining: Ctrl-C answered in {latency:.2f} s: {err.strip()}")
    assert "of 2001 records for models" in err and "run the same command with --resume to continue" in err
    resumed = _cli(*args, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    whole = cg.training.teacher_student(models=8, steps=40000, record_every=20, seed=2, block_models=4,
                                        progress=False)
    back = cg.training.Harvest.load(path)
    for name in ("eigenvalues", "weights", "loss", "model_ids", "diverged_ids"):
        assert getattr(back, name).tobytes() == getattr(whole, name).tobytes(), name
