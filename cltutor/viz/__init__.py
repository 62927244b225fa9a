"""The pictures: plots, live forgetting curves and the notebook panels.

- :mod:`~cltutor.viz.summaries`: the numbers the pictures show (class counts, batch
  composition, a 2-D PCA, what a buffer keeps), as plain functions.
- :mod:`~cltutor.viz.plots`: ``plot_x(data, ax=None) -> Axes`` for buffers, batches,
  forgetting curves, accuracy matrices and A-GEM projection rates.
- :mod:`~cltutor.viz.live`: ``LivePlotLogger`` (a logger that redraws the curves while
  training runs) and ``FigureView``.
- :mod:`~cltutor.viz.compare`: ``LiveComparison``, several runs' average accuracy in one
  live figure (``plot_comparison`` draws it); ``plot_sweep``, a sweep's means over seeds
  with their 95% intervals.
- :mod:`~cltutor.viz.panels`: ``BufferExplorer`` and ``LoaderInspector`` widgets.
- :mod:`~cltutor.viz.playground`: ``StrategyPlayground``, every strategy in one panel.
"""

from cltutor.viz.compare import LiveComparison, plot_comparison, plot_sweep
from cltutor.viz.live import FigureView, LivePlotLogger
from cltutor.viz.panels import BufferExplorer, LoaderInspector
from cltutor.viz.playground import StrategyPlayground, comparison_table
from cltutor.viz.plots import (
    class_color,
    experience_color,
    plot_accuracy_matrix,
    plot_batch_composition,
    plot_buffer_composition,
    plot_exemplar_projection,
    plot_forgetting_curves,
    plot_projection_rate,
)
from cltutor.viz.summaries import batch_composition, class_counts, pca_2d

__all__ = [
    "FigureView",
    "LiveComparison",
    "LivePlotLogger",
    "BufferExplorer",
    "LoaderInspector",
    "StrategyPlayground",
    "comparison_table",
    "batch_composition",
    "class_color",
    "experience_color",
    "class_counts",
    "pca_2d",
    "plot_accuracy_matrix",
    "plot_batch_composition",
    "plot_buffer_composition",
    "plot_comparison",
    "plot_exemplar_projection",
    "plot_forgetting_curves",
    "plot_projection_rate",
    "plot_sweep",
]
