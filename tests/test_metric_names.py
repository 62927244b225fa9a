"""Metric pickers, metric names and the DataFrame of results."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_fakes import TOY, toy_run

from cltutor.evaluation import (
    EvaluationPlugin,
    accuracy_metrics,
    forgetting_metrics,
    loss_metrics,
)
from cltutor.evaluation.metric_names import (
    metric_scope,
    parse_metric_name,
    results_to_dataframe,
)


def test_parse_metric_name():
    assert parse_metric_name("StreamForgetting/eval_phase/test_stream") == {
        "metric": "StreamForgetting", "phase": "eval", "stream": "test", "task": None,
        "exp": None}
    assert parse_metric_name("Loss_Epoch/train_phase/train_stream/Task002")["task"] == 2
    assert metric_scope("train", "train", 2) == "train_phase/train_stream/Task002"
    assert metric_scope("eval", "test") == "eval_phase/test_stream"


def test_metric_selections_and_their_errors():
    assert [str(m) for m in accuracy_metrics(minibatch=True, epoch=True, experience=True,
                                             stream=True)] == [
        "Top1_Acc_MB", "Top1_Acc_Epoch", "Top1_Acc_Exp", "Top1_Acc_Stream"]
    assert [str(m) for m in loss_metrics(epoch=True, stream=True)] == ["Loss_Epoch", "Loss_Stream"]
    assert [str(m) for m in forgetting_metrics(experience=True, stream=True)] == [
        "ExperienceForgetting", "StreamForgetting"]
    assert accuracy_metrics() == []
    with pytest.raises(TypeError, match=r"accuracy_metrics got unknown option\(s\) "
                                        r"\['epoch_running'\]; choose from minibatch"):
        accuracy_metrics(epoch_running=True)
    with pytest.raises(TypeError, match="stream must be True or False, got 'yes'"):
        forgetting_metrics(stream="yes")


def test_results_to_dataframe():
    plugin = EvaluationPlugin(accuracy_metrics(experience=True, stream=True))
    df = results_to_dataframe(toy_run(plugin))
    exp_rows = df[df.metric == "Top1_Acc_Exp"]
    table = exp_rows.pivot(index="step", columns="exp", values="value").to_numpy()
    np.testing.assert_allclose(table, TOY)  # the tutorial's results list is the matrix
    assert set(df.stream) == {"test"} and set(df.phase) == {"eval"}
    with pytest.raises(TypeError, match="results must be a dict of metric values or a list"):
        results_to_dataframe(3)

