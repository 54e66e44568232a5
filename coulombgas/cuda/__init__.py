"""CUDA back ends: the GPU twins of the CPU kernels, behind the same validated calls.

Like stumpy's ``gpu_stump.py`` beside ``stump.py``: each module here is the GPU twin of a
CPU back end and imports only from below (the shared private helpers, ``potentials``'
constants, ``forces.points_and_weights``), never ``dynamics``, ``gas`` or a training model.
Callers validate once, then pick the back end:

* :mod:`.device` — is a GPU there (:func:`~.device.require`), the lazy ``numba.cuda`` handle;
* :mod:`.forces` — the direct O(N²) Coulomb force of one large system;
* :mod:`.sde` — replica ensembles of the eigenvalue SDE (:func:`~.sde.integrate`);
* :mod:`.training` — the training models' updates (``*_advance``, the twins of each
  model's CPU ``advance``).

Importing this package never imports ``numba.cuda``.
"""

from . import device, forces, sde, training

__all__ = ["device", "forces", "sde", "training"]
