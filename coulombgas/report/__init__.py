"""Reports: :func:`compare` (``cg.compare``), and the reports of single runs the command line writes.

* :mod:`coulombgas.report.comparison` — the main job: train, harvest, build the matching
  gas, simulate and sample it, and compare (:func:`compare`, :class:`Report`);
* :mod:`coulombgas.report.recording` — the same report for a recording of any PyTorch model
  (``cg.compare(recorder)``), and :mod:`coulombgas.report.analysis` — ``cg.analyze``, one row
  of random-matrix diagnostics and dynamics per weight matrix;
* :mod:`coulombgas.report.runs` — figures and ``summary.json`` of one ``theory``,
  ``simulate``, ``sample`` or ``train`` run (:func:`train_report`, :func:`matching_law`, ...).

``cg.compare`` is the function :func:`compare`; no module is called ``compare``, so no
import can rebind the name.
"""

from .comparison import MIN_MODELS, MODEL_DEFAULTS, Report, check_compare_params, harvest_model_cli
from .recording import compare  # cg.compare: a model name, or a recording (TorchRecorder, harvest, path)
from .runs import (JSON_ARRAY_LIMIT, density_check, matching_law, sample_report, simulate_report, theory_report,
                   train_report, write_summary)

__all__ = ["compare", "Report", "MODEL_DEFAULTS", "MIN_MODELS", "check_compare_params", "harvest_model_cli",
           "write_summary", "JSON_ARRAY_LIMIT", "matching_law", "density_check", "theory_report", "simulate_report",
           "sample_report", "train_report"]
