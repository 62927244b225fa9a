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
from cltutor.callbacks import SupervisedPlugin
from cltutor.data import Benchmark, ClassificationDataset, Experience, Stream
from cltutor.loaders import BatchLoader
from cltutor.models import SimpleCNN, SimpleMLP
from cltutor.vision import (
    DatasetNotFoundError,
    PermutedMNIST,
    RotatedMNIST,
    SplitCIFAR10,
    SplitCIFAR100,
    SplitFashionMNIST,
    SplitMNIST,
)

__version__ = "0.1.0"
