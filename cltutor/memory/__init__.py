"""The memory layer: replay buffers, exemplar selection and balanced loaders.

- :mod:`~cltutor.memory.quotas`: the pure index maths (quotas, top-k per group, epoch plans).
- :mod:`~cltutor.memory.storage`: where a buffer keeps its rows.
- :mod:`~cltutor.memory.buffers`: reservoir, experience-/class-balanced and parametric buffers.
- :mod:`~cltutor.memory.selection`: random, herding and closest-to-center exemplar selection.
- :mod:`~cltutor.memory.loaders`: group-, task-balanced, replay and infinite loaders.
"""

from cltutor.memory.buffers import (
    BalancedExemplarsBuffer,
    BufferGroup,
    ClassBalancedBuffer,
    ExemplarsBuffer,
    ExperienceBalancedBuffer,
    ParametricBuffer,
    ReservoirSamplingBuffer,
    make_storage_policy,
)
from cltutor.memory.loaders import (
    BatchLoader,
    GroupBalancedDataLoader,
    GroupBalancedInfiniteDataLoader,
    ReplayDataLoader,
    TaskBalancedDataLoader,
)
from cltutor.memory.quotas import group_quotas
from cltutor.memory.selection import (
    ClosestToCenterSelectionStrategy,
    ExemplarsSelectionStrategy,
    FeatureBasedExemplarsSelectionStrategy,
    HerdingSelectionStrategy,
    RandomExemplarsSelectionStrategy,
    extract_features,
)

__all__ = [
    "ExemplarsBuffer",
    "ReservoirSamplingBuffer",
    "BufferGroup",
    "BalancedExemplarsBuffer",
    "ExperienceBalancedBuffer",
    "ClassBalancedBuffer",
    "ParametricBuffer",
    "make_storage_policy",
    "BatchLoader",
    "GroupBalancedDataLoader",
    "TaskBalancedDataLoader",
    "ReplayDataLoader",
    "GroupBalancedInfiniteDataLoader",
    "group_quotas",
    "ExemplarsSelectionStrategy",
    "RandomExemplarsSelectionStrategy",
    "FeatureBasedExemplarsSelectionStrategy",
    "HerdingSelectionStrategy",
    "ClosestToCenterSelectionStrategy",
    "extract_features",
]
