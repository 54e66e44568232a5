"""Write the small files in the storage formats of coulombgas before the one store (commit bb2e567).

Run once with that version importable, e.g. ``git archive bb2e567 coulombgas | tar -x -C /tmp/old`` and::

    PYTHONPATH=/tmp/old python tests/data/make_v0_files.py

It writes ``v0_*`` files (what the old writers produced) and ``v0_expected.*`` /
``v0_partial_expected.*`` (what the old loaders returned from them; ``partial()``: interrupted runs), which
``tests/test_store.py`` compares the current loaders against. Kept for the record;
the current code writes the new layout, so re-running it now gives new-format files.
"""

import json
import os

import numpy as np
import torch

import coulombgas as cg
from coulombgas.training import Harvest, TorchRecorder

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    p = os.path.join(HERE, name)
    if os.path.exists(p):
        os.remove(p)
    return p


def harvest_dict(h, prefix, arrays, meta):
    for name in ("eigenvalues", "singular_values", "loss", "steps", "model_ids", "diverged_ids",
                 "diverged_step", "weights"):
        if getattr(h, name) is not None:
            arrays[f"{prefix}_{name}"] = getattr(h, name)
    meta[prefix] = {"model": h.model, "params": h.params, "seed": h.seed, "gram": h.gram,
                    "weights": h.weights is not None}


def main():
    arrays, meta = {}, {}
    # A streamed trajectory (complete, written in chunks of two records).
    gas = cg.CoulombGas.gaussian(3, beta=2.0)
    cg.simulate(gas, 0.2, 0.01, replicas=2, record_every=4, seed=7, chunk_records=2,
                out=path("v0_trajectory.h5"))
    traj = cg.Trajectory.load(os.path.join(HERE, "v0_trajectory.h5"))
    arrays["traj_t"], arrays["traj_x"] = traj.t, traj.x
    meta["traj"] = {"gas": traj.gas.to_dict(), "scheme": traj.scheme, "dt": traj.dt, "seed": traj.seed,
                    "diagnostics": traj.diagnostics}
    # A streamed teacher-student harvest (with weights), a saved .npz and a saved .h5.
    h = cg.training.teacher_student(models=3, steps=12, record_every=4, seed=3, epoch_batches=4,
                                    batch_size=4, out=path("v0_harvest_stream.h5"))
    h = Harvest.load(os.path.join(HERE, "v0_harvest_stream.h5"))
    harvest_dict(h, "stream", arrays, meta)
    small = h.select([0, 2])
    small.weights = None
    small.save(path("v0_harvest.npz"))
    small.save(path("v0_harvest.h5"))
    harvest_dict(Harvest.load(os.path.join(HERE, "v0_harvest.npz")), "saved", arrays, meta)
    # A TorchRecorder stream of a 3x2 linear layer, with weights, five SGD steps recorded every two.
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = TorchRecorder(net, every=2, record_weights=True, out=path("v0_torch.h5"), lr=0.1, batch_size=4, seed=5)
    for _ in range(5):
        x = torch.randn(4, 2)
        loss = (net(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.detach()
    harvest_dict(TorchRecorder.load(os.path.join(HERE, "v0_torch.h5"), "weight"), "torch", arrays, meta)
    np.savez(path("v0_expected.npz"), **arrays)
    with open(path("v0_expected.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
        fh.write("\n")


def partial():
    """Interrupted runs: a trajectory killed after two chunks, a harvest killed inside its second block."""
    import importlib

    from coulombgas import io
    from coulombgas.training import _loop

    ts = importlib.import_module("coulombgas.training.teacher_student")

    arrays, meta = {}, {}
    gas = cg.CoulombGas.gaussian(3, beta=2.0)
    real, calls = io.TrajectoryStore.append, {"n": 0}

    def append(self, *a):
        real(self, *a)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    io.TrajectoryStore.append = append
    try:
        cg.simulate(gas, 0.2, 0.01, replicas=2, record_every=2, seed=8, chunk_records=3,
                    out=path("v0_trajectory_partial.h5"))
    except KeyboardInterrupt:
        pass
    io.TrajectoryStore.append = real
    traj = cg.Trajectory.load(os.path.join(HERE, "v0_trajectory_partial.h5"))
    arrays["traj_t"], arrays["traj_x"] = traj.t, traj.x
    meta["traj"] = {"gas": traj.gas.to_dict(), "scheme": traj.scheme, "dt": traj.dt, "seed": traj.seed,
                    "diagnostics": traj.diagnostics}
    full = cg.training.teacher_student(models=5, steps=12, record_every=4, seed=2, epoch_batches=4, batch_size=4)
    count = {"n": 0}

    def flaky(data, state, gens, n_steps, params):
        count["n"] += 1
        if count["n"] == 7:  # the third record of the second block
            raise KeyboardInterrupt
        return ts.advance(data, state, gens, n_steps, params)

    try:
        _loop.run_ensemble(ts.init, flaky, ts.GRAM, dict(full.params), models=5, steps=12, record_every=4, seed=2,
                           name=full.model, block_models=3, out=path("v0_harvest_partial.h5"))
    except KeyboardInterrupt:
        pass
    harvest_dict(Harvest.load(os.path.join(HERE, "v0_harvest_partial.h5")), "stream", arrays, meta)
    np.savez(path("v0_partial_expected.npz"), **arrays)
    with open(path("v0_partial_expected.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
    partial()
