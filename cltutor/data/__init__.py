"""The data layer: tensor datasets, streams of experiences and the benchmarks built on them.

- :mod:`~cltutor.data.dataset`: ``ClassificationDataset`` (tensors ``x``, ``y``, ``t``),
  ``Experience``.
- :mod:`~cltutor.data.benchmark`: ``Stream``, ``Benchmark``, the three ``SCENARIOS``, and
  ``split_online_stream`` and ``imbalanced_stream``, which cut a stream into another.
- :mod:`~cltutor.data.streams`: class- and domain-incremental builders, permuted and rotated.
- :mod:`~cltutor.data.digits`: the bundled, offline ``SplitDigits``, ``PermutedDigits``,
  ``RotatedDigits``.
- :mod:`~cltutor.data.vision`: ``SplitMNIST`` and co. through torchvision.
- :mod:`~cltutor.data.mnist_domains`: ``PermutedMNIST``, ``RotatedMNIST``.
- :mod:`~cltutor.data.download`: network access under a deadline, ``DOWNLOAD_TIMEOUT``.
- :mod:`~cltutor.data.transforms`: batch transforms (permute, rotate, normalise, crop+flip).
"""

from cltutor.data.benchmark import (
    SCENARIOS,
    Benchmark,
    Stream,
    check_scenario,
    halving_fractions,
    imbalanced_stream,
    split_online_stream,
)
from cltutor.data.dataset import ClassificationDataset, Experience
from cltutor.data.digits import PermutedDigits, RotatedDigits, SplitDigits, digits_train_test
from cltutor.data.download import DOWNLOAD_TIMEOUT
from cltutor.data.mnist_domains import PermutedMNIST, RotatedMNIST
from cltutor.data.streams import (
    class_incremental_benchmark,
    domain_incremental_benchmark,
)
from cltutor.data.transforms import NormalizeBatch, RandomCropFlip, permute_pixels, rotate_images
from cltutor.data.vision import (
    DatasetNotFoundError,
    SplitCIFAR10,
    SplitCIFAR100,
    SplitFashionMNIST,
    SplitMNIST,
    default_dataset_root,
)

__all__ = [
    "SCENARIOS",
    "check_scenario",
    "Benchmark",
    "ClassificationDataset",
    "Experience",
    "Stream",
    "SplitDigits",
    "PermutedDigits",
    "RotatedDigits",
    "digits_train_test",
    "class_incremental_benchmark",
    "domain_incremental_benchmark",
    "split_online_stream",
    "imbalanced_stream",
    "halving_fractions",
    "NormalizeBatch",
    "RandomCropFlip",
    "permute_pixels",
    "rotate_images",
    "DatasetNotFoundError",
    "SplitMNIST",
    "PermutedMNIST",
    "RotatedMNIST",
    "SplitFashionMNIST",
    "SplitCIFAR10",
    "SplitCIFAR100",
    "default_dataset_root",
    "DOWNLOAD_TIMEOUT",
]
