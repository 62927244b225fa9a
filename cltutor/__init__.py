"""cltutor: continual learning you can watch, in Jupyter.

The public API is re-exported here. Each block lists one module's names.
"""

from cltutor.benchmarks import (
    BENCHMARKS,
    PermutedDigits,
    RotatedDigits,
    SplitDigits,
    class_incremental_benchmark,
    get_benchmark,
)
from cltutor.buffers import (
    BalancedExemplarsBuffer,
    ClassBalancedBuffer,
    ExemplarsBuffer,
    ExperienceBalancedBuffer,
    ParametricBuffer,
    ReservoirSamplingBuffer,
    make_storage_policy,
)
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import Benchmark, ClassificationDataset, Experience, Stream
from cltutor.evaluation import EvaluationPlugin, default_evaluator
from cltutor.loaders import (
    BatchLoader,
    GroupBalancedDataLoader,
    GroupBalancedInfiniteDataLoader,
    ReplayDataLoader,
    TaskBalancedDataLoader,
)
from cltutor.loggers import BaseLogger, InteractiveLogger, TextLogger
from cltutor.metrics import (
    Metric,
    accuracy_metrics,
    average_accuracy,
    average_forgetting,
    average_forward_transfer,
    backward_transfer,
    bwt_metrics,
    forgetting,
    forgetting_metrics,
    forward_transfer,
    forward_transfer_metrics,
    loss_metrics,
    results_to_dataframe,
    seen_average_accuracy,
)
from cltutor.models import BatchRenorm2D, LatentReplayNet, SimpleCNN, SimpleMLP
from cltutor.selection import (
    ClosestToCenterSelectionStrategy,
    ExemplarsSelectionStrategy,
    FeatureBasedExemplarsSelectionStrategy,
    HerdingSelectionStrategy,
    RandomExemplarsSelectionStrategy,
)
from cltutor.strategies import Clock, Naive
from cltutor.strategies.agem import AGEM, AGEMPlugin, project_gradient
from cltutor.strategies.ar1 import AR1, ar1_minibatch_sizes
from cltutor.strategies.ar1_plugins import (
    CWRStarPlugin,
    SynapticIntelligencePlugin,
    cwr_consolidate,
)
from cltutor.strategies.replay import Replay, ReplayPlugin
from cltutor.vision import (
    DatasetNotFoundError,
    PermutedMNIST,
    RotatedMNIST,
    SplitCIFAR10,
    SplitCIFAR100,
    SplitFashionMNIST,
    SplitMNIST,
)

# Figures and notebook panels load matplotlib and ipywidgets, so they are submodules
# imported on first use: `from cltutor import plots, widgets` or `cltutor.plots.plot_...`.
_LAZY_SUBMODULES = ("plots", "liveplot", "widgets", "playground")


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"cltutor.{name}")
    raise AttributeError(f"module 'cltutor' has no attribute {name!r}")

__version__ = "0.1.0"
