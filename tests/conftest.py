"""Shared test settings.

The unit tests train tiny models, for which one torch thread is faster than
several (no thread-pool hand-offs for small ops) and gives the same numbers on
every machine, whatever its core count.
"""

import matplotlib
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)
