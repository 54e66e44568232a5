"""Paper 1's teacher-student through PyTorch: the per-sample gradients are the built-in model's."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coulombgas.training.torch_stats import per_sample_gradients
from coulombgas.training.torch_teacher_student import TeacherStudentEnsemble, sample_loss, \
    train_teacher_student_torch


def test_per_sample_gradient_is_residual_x_xt_minus_noise():
    gen = torch.Generator().manual_seed(0)
    net = TeacherStudentEnsemble(3, 0.1, 2.0, gen)
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    a = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    a = a + a.transpose(-1, -2)
    names = [f"students.{i}" for i in range(3)]
    G = per_sample_gradients(net, names, sample_loss, (x, a))
    for m, name in enumerate(names):
        W = net.get_parameter(name).detach().numpy()
        R = W - 2.0 * np.eye(2)
        for b in range(5):
            xb = x[b, m].numpy()
            expected = R @ np.outer(xb, xb) - a[b, m].numpy()  # teacher_student.per_sample_gradients
            np.testing.assert_allclose(G[name][b], expected, rtol=1e-12, atol=1e-14)


def test_training_converges_to_the_teacher_with_a_split_pair():
    _, h = train_teacher_student_torch(models=20, steps=400, record_every=50, epoch_batches=20, seed=1)
    assert h.models == 20 and h.records == 9 and h.steps[-1] == 400
    sv = h.final("singular_values")
    assert np.all(np.abs(sv - 2.0) < 0.2)
    assert h.statistics_records().tolist() == list(range(9))
    with pytest.raises(ValueError, match="lr"):
        train_teacher_student_torch(lr=0.0)
