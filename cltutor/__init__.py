"""cltutor: continual learning you can watch, in Jupyter.

One layer, one folder; each layer imports only the layers above it in this list::

    _checks, callbacks   parameter checks and seeded generators; the plugin callbacks
    data/                tensor datasets, streams, the bundled digits, torchvision benchmarks
    models, memory/,     networks; replay buffers, exemplar selection, balanced loaders;
    evaluation/          the accuracy matrix, its metrics, the loggers
    strategies/          Naive (the training loop) and the strategies built from plugins
    experiments, sweep   names -> benchmark, model, strategy; run_experiment; sweep and
                         summarize over grids x seeds (joblib locally, Dask beyond)
    exercises            check_* : a student's function against the library's own
    viz/                 plots, live forgetting curves, notebook panels, the playground
    __main__             the command line: python -m cltutor run | sweep

Every public name is re-exported here, so ``from cltutor import X`` works; the short layer
paths (``from cltutor.viz import BufferExplorer``) are the documented ones.
"""

from cltutor import viz
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import (
    SCENARIOS,
    Benchmark,
    ClassificationDataset,
    DatasetNotFoundError,
    Experience,
    PermutedDigits,
    PermutedMNIST,
    RotatedDigits,
    RotatedMNIST,
    SplitCIFAR10,
    SplitCIFAR100,
    SplitDigits,
    SplitFashionMNIST,
    SplitMNIST,
    Stream,
    class_incremental_benchmark,
    halving_fractions,
    imbalanced_stream,
    split_online_stream,
)
from cltutor.evaluation import (
    BaseLogger,
    CSVLogger,
    EvaluationPlugin,
    InteractiveLogger,
    Metric,
    ProbeResult,
    TensorboardLogger,
    TextLogger,
    accuracy_metrics,
    average_accuracy,
    average_forgetting,
    average_forward_transfer,
    backward_transfer,
    bwt_metrics,
    default_evaluator,
    forgetting,
    forgetting_metrics,
    forward_transfer,
    forward_transfer_metrics,
    linear_probe,
    loss_metrics,
    results_to_dataframe,
    seen_average_accuracy,
)
from cltutor.exercises import (
    CheckResult,
    check_agem_projection,
    check_average_accuracy,
    check_bwt,
    check_ci95,
    check_distillation_loss,
    check_ewc_penalty,
    check_forgetting,
    check_herding_step,
    check_quotas,
    check_reservoir,
)
from cltutor.experiments import BENCHMARKS, get_benchmark, run_experiment
from cltutor.memory import (
    BalancedExemplarsBuffer,
    BatchLoader,
    ClassBalancedBuffer,
    ClosestToCenterSelectionStrategy,
    ExemplarsBuffer,
    ExemplarsSelectionStrategy,
    ExperienceBalancedBuffer,
    FeatureBasedExemplarsSelectionStrategy,
    GroupBalancedDataLoader,
    GroupBalancedInfiniteDataLoader,
    HerdingSelectionStrategy,
    ParametricBuffer,
    RandomExemplarsSelectionStrategy,
    ReplayDataLoader,
    ReservoirMemory,
    ReservoirSamplingBuffer,
    TaskBalancedDataLoader,
    algorithm_r_slots,
    make_storage_policy,
)
from cltutor.models import (
    BatchRenorm2D,
    LatentReplayNet,
    MTSimpleMLP,
    MultiHeadClassifier,
    MultiTaskModule,
    NCMClassifier,
    SimpleCNN,
    SimpleMLP,
    TrainEvalModel,
)
from cltutor.strategies import (
    AGEM,
    AR1,
    DER,
    EWC,
    AGEMPlugin,
    Clock,
    Cumulative,
    CWRStarPlugin,
    DERPlugin,
    EWCPlugin,
    GDumb,
    GDumbPlugin,
    ICaRL,
    JointTraining,
    LwF,
    LwFPlugin,
    Naive,
    OnlineReplay,
    OnlineReplayPlugin,
    Replay,
    ReplayPlugin,
    SynapticIntelligence,
    SynapticIntelligencePlugin,
    ar1_minibatch_sizes,
    cwr_consolidate,
    der_loss,
    distillation_loss,
    ewc_penalty,
    fisher_diagonal,
    icarl_loss,
    merge_penalty_terms,
    project_gradient,
)

# ``cltutor.sweep`` is the function (the module stays importable: from cltutor.sweep import ...)
from cltutor.sweep import expand_grid, iter_sweep, summarize, sweep
from cltutor.viz import (
    BufferExplorer,
    FigureView,
    LiveComparison,
    LivePlotLogger,
    LoaderInspector,
    StrategyPlayground,
    playground,
    plot_sweep,
    plots,
)

# Version 1 reached the pictures as cltutor.plots, .liveplot, .widgets and .playground;
# the same modules, bound under those names so that old notebooks keep running.
from cltutor.viz import live as liveplot
from cltutor.viz import panels as widgets

__version__ = "0.1.0"
