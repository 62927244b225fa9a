"""The issues' accuracy settings, shared by the accuracy tests of several strategies.

MLP 64-256-256 (no dropout), SGD lr 0.05 momentum 0.9, batch 32, 5 epochs per experience,
5 experiences; the final average accuracy (mean of the last row of the accuracy matrix)
over seeds 0-2. A task-incremental stream gets an MTSimpleMLP (one head per task). The
option ``online=True`` trains each sample once: 1 epoch of minibatches of 10.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from cltutor import (
    DER,
    EWC,
    Cumulative,
    EvaluationPlugin,
    GDumb,
    ICaRL,
    JointTraining,
    LwF,
    MTSimpleMLP,
    Naive,
    OnlineReplay,
    Replay,
    SimpleMLP,
    SynapticIntelligence,
    accuracy_metrics,
    get_benchmark,
)

STRATEGIES = {"naive": Naive, "replay": Replay, "ewc": EWC, "si": SynapticIntelligence,
              "lwf": LwF, "cumulative": Cumulative, "joint": JointTraining, "gdumb": GDumb,
              "der": DER, "online_replay": OnlineReplay}
SEEDS = (0, 1, 2)


def final_average_accuracy(benchmark: str, scenario: str | None, strategy: str, seed: int,
                           online: bool = False, **options) -> float:
    torch.manual_seed(seed)
    bm = get_benchmark(benchmark, scenario, n_experiences=5, seed=seed)
    if bm.scenario == "task":
        model = MTSimpleMLP(input_size=64, hidden_size=256, hidden_layers=2, drop_rate=0.0)
    else:
        model = SimpleMLP(num_classes=bm.n_classes, input_size=64, hidden_size=256,
                          hidden_layers=2, drop_rate=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    evaluator = EvaluationPlugin(accuracy_metrics(stream=True))
    loop = dict(train_mb_size=10 if online else 32, train_epochs=1 if online else 5,
                evaluator=evaluator, device="cpu", seed=seed)
    if strategy == "icarl":  # Avalanche's signature: the network in two parts
        cl = ICaRL(model.features, model.classifier, optimizer, **loop, **options)
    else:
        cl = STRATEGIES[strategy](model, optimizer, **loop, **options)
    if strategy == "joint":
        cl.train(bm.train_stream)
    else:
        for exp in bm.train_stream:
            cl.train(exp)
    cl.eval(bm.test_stream)
    return float(np.mean(evaluator.accuracy_matrix[-1]))


@functools.cache
def mean_accuracy(benchmark: str, scenario: str | None, strategy: str,
                  options: tuple = ()) -> float:
    """The mean over :data:`SEEDS` (cached: Naive's runs serve several tests)."""
    return float(np.mean([final_average_accuracy(benchmark, scenario, strategy, seed,
                                                 **dict(options)) for seed in SEEDS]))
