"""The memory layer: replay buffers, exemplar selection and balanced loaders.

- :mod:`~cltutor.memory.quotas`: the pure index maths (quotas, top-k per group, epoch plans).
- :mod:`~cltutor.memory.storage`: a buffer's rows with their groups and priorities.
- :mod:`~cltutor.memory.buffers`: reservoir, experience- and class-balanced buffers.
- :mod:`~cltutor.memory.parametric`: the buffer ranked by a selection strategy; buffers by name.
- :mod:`~cltutor.memory.selection`: random, herding and closest-to-center exemplar selection.
- :mod:`~cltutor.memory.reservoir`: Algorithm R, the reservoir online replay updates per batch.
- :mod:`~cltutor.memory.loaders`: group-, task-balanced, replay and infinite loaders.
"""

from cltutor.memory.buffers import (
    BalancedExemplarsBuffer,
    BufferGroup,
    ClassBalancedBuffer,
    ExemplarsBuffer,
    ExperienceBalancedBuffer,
    ReservoirSamplingBuffer,
)
from cltutor.memory.loaders import (
    BatchLoader,
    GroupBalancedDataLoader,
    GroupBalancedInfiniteDataLoader,
    ReplayDataLoader,
    TaskBalancedDataLoader,
)
from cltutor.memory.parametric import ParametricBuffer, make_storage_policy
from cltutor.memory.quotas import group_quotas
from cltutor.memory.reservoir import ReservoirMemory, algorithm_r_slots
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
    "ReservoirMemory",
    "algorithm_r_slots",
    "ExemplarsSelectionStrategy",
    "RandomExemplarsSelectionStrategy",
    "FeatureBasedExemplarsSelectionStrategy",
    "HerdingSelectionStrategy",
    "ClosestToCenterSelectionStrategy",
    "extract_features",
]
