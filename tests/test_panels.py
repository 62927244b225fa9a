"""Widget panels: setting each control and clicking each button changes the plotted data."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cltutor import SplitDigits
from cltutor.data import ClassificationDataset
from cltutor.memory import make_storage_policy
from cltutor.viz import BufferExplorer, LoaderInspector
from cltutor.viz.panels import loader_data, make_loader
from cltutor.viz.summaries import (
    batch_composition,
    buffer_summary,
    class_counts,
    exemplar_positions,
    pca_2d,
)


@pytest.fixture(scope="module")
def bench():
    return SplitDigits(n_experiences=5, seed=0)


@pytest.fixture(scope="module")
def task_bench():
    return SplitDigits(n_experiences=5, return_task_id=True, seed=0)


def bars(ax):
    """Per bar (step or batch), {group label: height} of the nonzero segments."""
    out = [dict() for _ in range(len(ax.containers[0].patches))] if ax.containers else []
    for c in ax.containers:
        for i, p in enumerate(c.patches):
            if p.get_height():
                out[i][c.get_label().split()[-1]] = p.get_height()
    return out


def as_labels(counts):
    return [{str(k): v for k, v in c.items()} for c in counts]


def oracle_counts(kind, mem_size, experiences, seed=0, **kw):
    """Class counts after each experience of a buffer built and updated by hand."""
    policy = make_storage_policy(kind, mem_size, seed=seed, **kw)
    out = []
    for exp in experiences:
        policy.update(SimpleNamespace(experience=exp))
        out.append(class_counts(policy.buffer))
    return out


# -- buffer explorer -------------------------------------------------------------------
def test_step_button_bars_equal_the_buffer_counts_after_each_step(bench):
    explorer = BufferExplorer(bench, mem_size=50, play_delay=0)
    assert bars(explorer.figure.axes[0]) == []
    expected = oracle_counts("experience", 50, bench.train_stream)
    for k in range(5):
        explorer.step_button.click()
        assert explorer.counts == expected[: k + 1]
        assert explorer.counts[-1] == class_counts(explorer.policy.buffer)
        assert bars(explorer.figure.axes[0]) == as_labels(expected[: k + 1])
    explorer.step_button.click()  # the stream is over: nothing changes
    assert explorer.n_steps == 5


def test_mem_size_and_policy_controls_rebuild_at_the_same_step(bench):
    explorer = BufferExplorer(bench, mem_size=50, play_delay=0)
    explorer.step_button.click()
    explorer.step_button.click()
    explorer.mem_size_control.value = 80
    assert [sum(c.values()) for c in explorer.counts] == [80, 80]
    assert bars(explorer.figure.axes[0]) == as_labels(
        oracle_counts("experience", 80, bench.train_stream[:2]))
    explorer.policy_control.value = "class"  # 4 classes seen: 20 each
    assert explorer.counts[-1] == {c: 20 for c in bench.classes_order[:4]}
    assert bars(explorer.figure.axes[0])[-1] == {str(c): 20 for c in bench.classes_order[:4]}
    assert "80 of 80 slots used" in explorer.summary
    assert f"class {bench.classes_order[0]}: 20/20" in explorer.summary


def test_groupby_and_selection_apply_to_the_parametric_buffer_only(bench):
    explorer = BufferExplorer(bench, mem_size=30, play_delay=0)
    assert explorer.groupby_control.disabled and explorer.selection_control.disabled
    explorer.policy_control.value = "parametric"
    assert not explorer.groupby_control.disabled
    explorer.step_button.click()
    explorer.step_button.click()
    explorer.groupby_control.value = "experience"
    assert "experience 0: 15/15  experience 1: 15/15" in explorer.summary
    assert explorer.summary.startswith(
        "policy='parametric', mem_size=30, groupby='experience', selection='random'; "
        "after 2 of 5 experiences\n")
    explorer.groupby_control.value = "class"
    assert explorer.counts[-1] == {c: 30 // 4 + (i < 2) for i, c in
                                   enumerate(sorted(bench.classes_order[:4]))}
    assert explorer.projection is None and len(explorer.figure.axes) == 1


def test_herding_draws_the_chosen_exemplars_in_the_pca_plane(bench):
    explorer = BufferExplorer(bench, mem_size=20, policy="parametric", groupby="class",
                              selection="random", play_delay=0)
    explorer.step_button.click()
    explorer.selection_control.value = "herding"
    features, labels, positions = explorer.projection
    seen = bench.train_stream[0].dataset
    assert torch.equal(features, seen.x.flatten(1))  # pixel features
    assert torch.equal(seen.x[positions], explorer.policy.buffer.x)  # the stored rows
    chosen = explorer.figure.axes[1].collections[1].get_offsets()
    np.testing.assert_allclose(chosen, pca_2d(features)[positions].numpy(), rtol=1e-5)
    explorer.selection_control.value = "closest-to-center"
    _, _, other = explorer.projection
    assert not torch.equal(other.sort().values, positions.sort().values)


def test_the_stream_control_gives_halving_experiences_where_reservoir_and_balanced_differ(
        bench):
    from cltutor.data import halving_fractions, imbalanced_stream

    explorer = BufferExplorer(bench, mem_size=100, policy="reservoir", play_delay=0)
    explorer.play()
    explorer.stream_control.value = "halving"  # rebuilt on the smaller stream, same step
    halving = imbalanced_stream(bench.train_stream, halving_fractions(5), seed=0)
    assert explorer.n_steps == 5
    assert explorer.counts == oracle_counts("reservoir", 100, halving)
    assert bars(explorer.figure.axes[0]) == as_labels(explorer.counts)
    sizes = ", ".join(str(len(e.dataset)) for e in halving)
    assert f"stream='halving' (sizes {sizes})" in explorer.summary
    first = sum(explorer.counts[-1].get(c, 0) for c in halving[0].classes_in_this_experience)
    explorer.policy_control.value = "experience"
    assert explorer.counts == oracle_counts("experience", 100, halving)
    balanced = sum(explorer.counts[-1].get(c, 0) for c in halving[0].classes_in_this_experience)
    assert first > 40 and balanced == 20  # the reservoir keeps the big experience's share
    explorer.stream_control.value = "equal"
    assert explorer.counts == oracle_counts("experience", 100, bench.train_stream)
    assert "stream=" not in explorer.summary


def test_play_goes_to_the_end_and_reset_empties(bench):
    explorer = BufferExplorer(bench, mem_size=40, policy="reservoir", play_delay=0)
    explorer.play_button.click()
    assert explorer.counts == oracle_counts("reservoir", 40, bench.train_stream)
    assert len(bars(explorer.figure.axes[0])) == 5
    assert "all: 40/40" in explorer.summary
    explorer.reset_button.click()
    assert explorer.counts == [] and bars(explorer.figure.axes[0]) == []
    assert "after 0 of 5 experiences" in explorer.summary


def test_exemplar_positions_find_the_copied_rows():
    data = ClassificationDataset(torch.arange(12.0).reshape(6, 2), torch.arange(6))
    assert exemplar_positions(data.subset([4, 1]), data).tolist() == [4, 1]
    assert exemplar_positions(ClassificationDataset.empty_like(data), data).tolist() == []


def test_buffer_summary_names_groups_and_quotas(bench):
    policy = make_storage_policy("experience", 10, seed=0)
    for exp in bench.train_stream[:3]:
        policy.update(SimpleNamespace(experience=exp))
    assert buffer_summary(policy).splitlines()[1] == "exp 0: 4/4  exp 1: 3/3  exp 2: 3/3"


# -- loader inspector ------------------------------------------------------------------
def inspector_oracle(inspector, task_bench):
    data, memory = loader_data(task_bench, inspector.step_control.value,
                               inspector.mem_size_control.value, seed=inspector.seed)
    loader = make_loader(inspector.kind_control.value, data, memory,
                         inspector.batch_size_control.value,
                         inspector.batch_size_mem_control.value,
                         inspector.oversample_control.value, seed=inspector.seed)
    return batch_composition(loader, inspector.groupby_control.value,
                             max_batches=inspector.n_batches_control.value)


def test_every_loader_control_changes_the_plotted_batches(task_bench):
    inspector = LoaderInspector(task_bench)
    plotted = [bars(inspector.figure.axes[0])]
    changes = [("kind_control", "group-balanced"), ("batch_size_control", 16),
               ("oversample_control", True), ("kind_control", "replay"),
               ("batch_size_mem_control", 8), ("mem_size_control", 100),
               ("step_control", 3), ("groupby_control", "class"),
               ("n_batches_control", 5), ("kind_control", "task-balanced"),
               ("kind_control", "group-balanced-infinite")]
    for name, value in changes:
        getattr(inspector, name).value = value
        expected = inspector_oracle(inspector, task_bench)
        assert inspector.composition == expected, name
        assert bars(inspector.figure.axes[0]) == as_labels(expected), name
        assert plotted[-1] != bars(inspector.figure.axes[0]), name
        plotted.append(bars(inspector.figure.axes[0]))
    inspector.reshuffle_button.click()
    assert inspector.seed == 1
    assert inspector.composition == inspector_oracle(inspector, task_bench)
    assert plotted[-1] != bars(inspector.figure.axes[0])


def test_loader_inspector_shows_the_documented_batch_splits(task_bench):
    inspector = LoaderInspector(task_bench, step=2)
    inspector.kind_control.value = "replay"
    inspector.batch_size_mem_control.value = 8
    data_rows = [c.get(2, 0) for c in inspector.composition]
    memory_rows = [c.get(0, 0) + c.get(1, 0) for c in inspector.composition]
    n_data = len(task_bench.train_stream[2].dataset)  # 290: 9 full batches and 2 rows
    assert data_rows == [32] * (n_data // 32) + [n_data % 32]
    assert memory_rows == [8] * 7 + [4] + [0] * 2  # 60 memory rows, then it drops out
    inspector.oversample_control.value = True  # as ReplayPlugin: the memory cycles
    assert [c.get(0, 0) + c.get(1, 0) for c in inspector.composition] == [8] * 10
    inspector.kind_control.value = "group-balanced"  # data and memory: 16 rows each
    assert inspector.composition[0][2] == 16
    assert inspector.composition[0][0] + inspector.composition[0][1] == 16
    assert inspector.summary.startswith("GroupBalancedDataLoader: ")
    assert inspector.batch_size_mem_control.disabled


def test_loader_helper_errors(task_bench):
    with pytest.raises(ValueError, match=r"step must be an int in \[1, 4\]"):
        loader_data(task_bench, 0, 50)
    data, memory = loader_data(task_bench, 1, 20)
    with pytest.raises(ValueError, match="kind must be one of .*got 'shuffled'"):
        make_loader("shuffled", data, memory)
    with pytest.raises(TypeError, match="oversample must be True or False, got 'yes'"):
        make_loader("batch", data, memory, oversample="yes")


def test_panel_arguments_a_slider_cannot_show_are_refused(bench, task_bench):
    with pytest.raises(ValueError, match=r"mem_size must be an int in \[10, 500\], got 1000"):
        BufferExplorer(bench, mem_size=1000)
    with pytest.raises(ValueError, match="play_delay must be a finite number >= 0, got -1"):
        BufferExplorer(bench, play_delay=-1)
    with pytest.raises(ValueError, match=r"step must be an int in \[1, 4\], got 5. Its slider"):
        LoaderInspector(task_bench, step=5)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got None"):
        LoaderInspector(task_bench, seed=None)


def test_the_plain_functions_are_importable_from_panels():
    from cltutor.viz import panels, summaries

    for name in ("buffer_history", "buffer_summary", "exemplar_positions"):
        assert getattr(panels, name) is getattr(summaries, name)


# -- strategy playground ---------------------------------------------------------------


# -- bad inputs of issue 12 ------------------------------------------------------------
@pytest.mark.parametrize("mem_size", [5, 2000])  # W4, W5: refused, not clamped
def test_w4_w5_buffer_explorer_mem_size_outside_the_slider(bench, mem_size):
    with pytest.raises(ValueError, match=rf"BufferExplorer mem_size must be an int in \[10, 500\], "
                       rf"got {mem_size}\. Its slider spans 10 to 500"):
        BufferExplorer(bench, mem_size=mem_size)


@pytest.mark.parametrize("step", [0, 10])  # W15, W16
def test_w15_w16_loader_inspector_step_outside_the_slider(task_bench, step):
    with pytest.raises(ValueError, match=rf"LoaderInspector step must be an int in \[1, 4\], "
                       rf"got {step}\. Its slider spans 1 to 4"):
        LoaderInspector(task_bench, step=step)


@pytest.mark.parametrize(("kwargs", "match"), [  # W6, W21: our message, before traitlets
    ({"policy": "fifo"}, r"BufferExplorer policy must be one of \['experience', 'class', "
                         r"'reservoir', 'parametric'\], got 'fifo'"),
    ({"groupby": "pixel"}, r"BufferExplorer groupby must be one of \[None, 'class', 'task', "
                           r"'experience'\], got 'pixel'"),
    ({"selection": "kmeans"}, r"BufferExplorer selection must be one of \['random', 'herding', "
                              r"'closest-to-center'\], got 'kmeans'"),
    ({"stream": "skewed"}, r"BufferExplorer stream must be one of \['equal', 'halving'\], got "
                           r"'skewed'"),
])
def test_w6_w21_buffer_explorer_dropdown_values(bench, kwargs, match):
    with pytest.raises(ValueError, match=match):
        BufferExplorer(bench, **kwargs)


def test_w7_loader_inspector_kind_dropdown(task_bench):
    with pytest.raises(ValueError, match=r"LoaderInspector kind must be one of \['batch', "
                       r"'group-balanced', .*\], got 'bogus'\. Pick one"):
        LoaderInspector(task_bench, kind="bogus")
    assert LoaderInspector(task_bench, kind="replay").kind_control.value == "replay"


def test_w17_loader_inspector_on_a_one_experience_benchmark():
    with pytest.raises(ValueError, match=r"LoaderInspector needs a benchmark of at least 2 "
                       r"experiences .*got 1\. Use SplitDigits\(n_experiences=5\)"):
        LoaderInspector(SplitDigits(1))
    with pytest.raises(ValueError, match=r"loader_data needs a benchmark of at least 2"):
        loader_data(SplitDigits(1), 1, 50)


def test_w14_a_model_for_other_inputs_is_reported_in_the_status_line(bench):
    from cltutor.models import SimpleMLP

    explorer = BufferExplorer(bench, model=SimpleMLP(input_size=784), policy="parametric",
                              selection="herding", play_delay=0)
    explorer.step_button.click()  # must not raise into the front end
    assert "error:" in explorer.text.value
    assert "SimpleMLP cannot compute features" in explorer.text.value
    assert "input_size=64" in explorer.text.value


def test_w25_a_failing_refresh_is_shown_and_the_controls_go_back(task_bench, monkeypatch):
    from cltutor.viz import panels

    inspector = LoaderInspector(task_bench)

    def broken(*args, **kwargs):
        raise RuntimeError("the loader broke")

    monkeypatch.setattr(panels, "make_loader", broken)
    inspector.batch_size_control.value = 16  # the observer must not raise
    assert "RuntimeError: the loader broke" in inspector.text.value
    assert "The controls are back at the last setting that worked" in inspector.text.value
    assert inspector.batch_size_control.value == 32
    monkeypatch.undo()
    inspector.reshuffle_button.click()
    assert "error" not in inspector.text.value  # the next good refresh clears it


def test_w18_w19_a_loader_that_fails_puts_the_dropdown_back_and_all_agree(task_bench,
                                                                          monkeypatch):
    """The dropdown, the loader, the plotted batches and the summary describe one loader."""
    from cltutor.viz import panels

    inspector = LoaderInspector(task_bench, kind="batch")
    real = panels.make_loader

    def task_balanced_breaks(kind, *args, **kwargs):
        if kind == "task-balanced":
            raise ValueError("task-balanced needs task labels")
        return real(kind, *args, **kwargs)

    monkeypatch.setattr(panels, "make_loader", task_balanced_breaks)
    inspector.kind_control.value = "replay"
    inspector.kind_control.value = "task-balanced"
    assert "ValueError: task-balanced needs task labels" in inspector.text.value
    assert inspector.kind_control.value == "replay"  # back where it worked
    assert type(inspector.loader).__name__ == "ReplayDataLoader"
    assert inspector.summary.startswith("ReplayDataLoader")
    assert not inspector.batch_size_mem_control.disabled  # as for the replay loader
    fresh = LoaderInspector(task_bench, kind="replay")
    assert inspector.composition == fresh.composition  # the figure's bars
    inspector.kind_control.value = "batch"  # and the panel is still usable
    assert inspector.summary.startswith("BatchLoader") and "error" not in inspector.text.value


def test_w14_a_selection_that_fails_goes_back_and_the_buffer_matches_the_controls(bench):
    from cltutor.models import SimpleMLP

    explorer = BufferExplorer(bench, model=SimpleMLP(input_size=784), policy="parametric",
                              selection="random", play_delay=0)
    explorer.step_button.click()
    explorer.step_button.click()
    before = [dict(c) for c in explorer.counts]
    explorer.selection_control.value = "herding"  # needs the model's features: fails
    assert "SimpleMLP cannot compute features" in explorer.text.value
    assert explorer.selection_control.value == "random"
    assert explorer.counts == before and explorer.n_steps == 2
    assert "selection='random'" in explorer.summary
    explorer.mem_size_control.value = 50  # still usable
    assert "mem_size=50" in explorer.summary and sum(explorer.counts[-1].values()) == 50


def test_w14_a_step_that_fails_leaves_the_buffer_as_it_was(bench):
    from cltutor.models import SimpleMLP

    explorer = BufferExplorer(bench, model=SimpleMLP(input_size=784), policy="parametric",
                              selection="herding", play_delay=0)
    explorer.step_button.click()
    assert "error:" in explorer.text.value
    assert explorer.n_steps == 0 and len(explorer.policy.buffer) == 0


def test_a_control_change_redraws_only_what_moved_and_the_picture_is_the_same(bench):
    import io

    from PIL import Image

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png))).astype(int)

    explorer = BufferExplorer(bench, mem_size=100, policy="parametric", groupby="class",
                              selection="herding", play_delay=0)
    explorer.play()
    renderer = explorer.renderer
    renderer.png()
    full_draws = renderer.full_draws
    for control, value in [(explorer.selection_control, "closest-to-center"),
                           (explorer.groupby_control, "experience"),
                           (explorer.mem_size_control, 200),  # the y axis: its axes alone
                           (explorer.stream_control, "halving")]:  # other rows: a new PCA
        control.value = value
        fast = pixels(renderer.png())
        assert renderer.full_draws == full_draws, control.description
        renderer._drawn = None  # force a whole drawing of the same state
        np.testing.assert_array_equal(fast, pixels(renderer.png()))
        full_draws = renderer.full_draws
    assert renderer.axes_draws == 2
    seen_rows = sum(len(e.dataset) for e in explorer.train_stream)  # 560 of the halving stream
    assert len(explorer.figure.axes[1].collections[0].get_offsets()) == seen_rows < 1000
    top = explorer.figure.axes[0].get_ylim()[1]
    assert top > 200 == explorer._mem_line.get_ydata()[0]  # the line below the top spine
