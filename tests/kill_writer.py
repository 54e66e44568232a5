"""Writer processes for the kill harness (tests/test_kill.py): ``python tests/kill_writer.py CASE PATH``.

Each case is a real streamed run of the package (simulate or training, write-heavy or
compute-bound, or a TorchRecorder); the process prints ``go`` when it starts writing,
so the harness can SIGKILL it at a random moment of the run itself (not of the imports).
``run(case, path, resume)`` does the same in the calling process, ``load(case, path)``
reads what a file holds as plain arrays.
"""

import json
import os
import sys

import coulombgas as cg

CASES = {
    # 1500 replicas, one record per chunk: a commit every ~10 ms, most time spent writing.
    "simulate-write": dict(n=8, t_end=3.0, dt=0.01, replicas=1500, record_every=1, chunk_records=1),
    # Few replicas, 400 steps per record, chunks sized by wall time (so they differ run to run).
    "simulate-compute": dict(n=40, t_end=240.0, dt=0.0005, replicas=2, record_every=8000, chunk_records=None),
    # A record (and a commit) per update, four blocks of models.
    "train-write": dict(models=40, steps=600, record_every=1, block_models=10),
    # Few records, many updates each.
    "train-compute": dict(models=6, steps=30_000_000, record_every=3_000_000, block_models=3),
    "torch": dict(steps=1500),
    # 5000 replicas of 64 modes, a 2.5 MB record per chunk: long flushes, where the store of
    # issue 14 lost the order of its writes (2 of 10 kills resumed silently different).
    "simulate-huge": dict(n=64, t_end=0.4, dt=0.01, replicas=5000, record_every=1, chunk_records=1),
}
# More cases (or other sizes) for a one-off comparison, e.g. against another checkout on PYTHONPATH:
# KILL_WRITER_CASES='{"simulate-write": {"n": 8, "t_end": 1.0, ...}}'.
CASES.update(json.loads(os.environ.get("KILL_WRITER_CASES", "{}")))


def run(case, path, resume=False, announce=False):
    kw = dict(CASES[case])
    if announce:
        print("go", flush=True)
    if case.startswith("simulate"):
        gas = cg.CoulombGas.gaussian(kw.pop("n"), beta=2.0)
        return cg.simulate(gas, kw.pop("t_end"), kw.pop("dt"), seed=11, out=path, resume=resume, progress=False,
                           **kw)
    if case.startswith("train"):
        return cg.training.teacher_student(seed=5, epoch_batches=8, batch_size=4, out=path, resume=resume,
                                           progress=False, **kw)
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    data = torch.randn(64, 8)
    target = torch.randn(64, 3)
    rec = cg.training.TorchRecorder(net, every=1, record_weights=True, out=path)
    for u in range(kw["steps"]):
        opt.zero_grad()
        loss = ((net(data[(u % 8) * 8:(u % 8 + 1) * 8]) - target[(u % 8) * 8:(u % 8 + 1) * 8]) ** 2).mean()
        loss.backward()
        opt.step()
        rec.step(loss.item())
    rec.detach()
    return rec


def load(case, path):
    """The file's records as a dict of arrays (what a user gets back)."""
    if case.startswith("simulate"):
        t = cg.Trajectory.load(path)
        return {"x": t.x, "t": t.t}
    if case.startswith("train"):
        h = cg.training.Harvest.load(path)
        return {k: getattr(h, k) for k in ("eigenvalues", "singular_values", "loss", "weights", "steps",
                                           "model_ids", "diverged_ids")}
    h = cg.training.TorchRecorder.load(path, "0.weight")
    return {"eigenvalues": h.eigenvalues, "weights": h.weights, "loss": h.loss, "steps": h.steps}


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], announce=True)
    sys.exit(0)
