"""Plots read back: bar heights, line data and annotations equal the numbers given."""

import matplotlib

matplotlib.use("Agg")

import colour_vision  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from cltutor.data import ClassificationDataset  # noqa: E402
from cltutor.memory.loaders import BatchLoader  # noqa: E402
from cltutor.viz import plots, summaries  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def bar_table(ax):
    """{legend label: [bar heights]} of every bar container on ``ax``."""
    return {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}


# -- colours and counts -----------------------------------------------------------
def test_class_colors_are_the_palette_and_distinct_for_twenty():
    for c in range(10):
        assert plots.class_color(c) == pytest.approx(to_rgba(plots.CLASS_COLORS[c]))
    assert len({plots.class_color(c) for c in range(20)}) == 20
    assert plots.class_color(23) == plots.class_color(3)


def test_the_ten_class_colours_stay_apart_for_colour_blind_viewers():
    palette = np.array([plots.class_color(c)[:3] for c in range(10)])
    seen = colour_vision.min_distance(palette)
    assert set(seen) == {"normal", "protanopia", "deuteranopia", "tritanopia"}
    assert min(seen.values()) >= 15, seen  # CIELAB units; 2.3 is just noticeable
    tab10 = np.array([matplotlib.colormaps["tab10"](c)[:3] for c in range(10)])
    assert colour_vision.min_distance(tab10)["protanopia"] < 5  # what the test tells apart
    # the formulas: CIELAB of white and of sRGB red, and greys look the same to everyone
    assert colour_vision.to_lab(np.ones(3)) == pytest.approx([100, 0, 0], abs=0.01)
    assert colour_vision.to_lab(np.array([1.0, 0, 0])) == pytest.approx([53.24, 80.09, 67.20],
                                                                        abs=0.05)
    for kind in ("protanopia", "deuteranopia", "tritanopia"):
        assert colour_vision.simulate(np.full(3, 0.5), kind) == pytest.approx([0.5] * 3, abs=0.01)


def test_class_color_rejects_non_int():
    with pytest.raises(TypeError, match="class_id must be an int, got 'a'"):
        plots.class_color("a")


def test_class_counts_of_dataset_tensor_and_buffer_like():
    ds = ClassificationDataset(torch.zeros(6, 2), torch.tensor([3, 1, 3, 3, 0, 1]))
    assert summaries.class_counts(ds) == {0: 1, 1: 2, 3: 3}
    assert summaries.class_counts(ds.targets) == {0: 1, 1: 2, 3: 3}

    class Buf:
        buffer = ds

    assert summaries.class_counts(Buf()) == {0: 1, 1: 2, 3: 3}
    assert summaries.class_counts([]) == {}


def test_class_counts_rejects_float_labels():
    with pytest.raises(TypeError, match="dataset must be a dataset, a buffer or a 1-D tensor"):
        summaries.class_counts(torch.rand(4))


def test_batch_composition_counts_each_batch():
    y = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    t = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    ds = ClassificationDataset(torch.zeros(7, 1), y, t)
    loader = BatchLoader(ds, batch_size=3, shuffle=False)
    assert summaries.batch_composition(loader) == [{0: 2, 1: 1}, {1: 2, 2: 1}, {2: 1}]
    assert summaries.batch_composition(loader, "task") == [{0: 3}, {1: 3}, {1: 1}]
    assert summaries.batch_composition(loader, max_batches=1) == [{0: 2, 1: 1}]
    assert summaries.batch_composition(loader, lambda b: b[1] % 2) == [
        {0: 2, 1: 1}, {0: 1, 1: 2}, {0: 1}]


def test_batch_composition_errors():
    with pytest.raises(ValueError, match="groupby must be 'class', 'task' or a function"):
        summaries.batch_composition([], groupby="colour")
    with pytest.raises(ValueError, match="max_batches must be a positive int or None, got 0"):
        summaries.batch_composition([], max_batches=0)
    with pytest.raises(ValueError, match="max_batches must be a positive int or None, got True"):
        summaries.batch_composition([], max_batches=True)


def test_the_numbers_are_importable_from_plots_as_in_version_1():
    assert (plots.class_counts, plots.batch_composition, plots.pca_2d) == (
        summaries.class_counts, summaries.batch_composition, summaries.pca_2d)


def test_pca_2d_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    g = torch.Generator().manual_seed(0)
    f = torch.randn(50, 6, generator=g) * torch.tensor([5.0, 3, 1, 0.5, 0.2, 0.1])
    z = summaries.pca_2d(f).double().numpy()
    ref = PCA(n_components=2).fit_transform(f.double().numpy())
    for j in range(2):
        sign = np.sign(z[:, j] @ ref[:, j])
        np.testing.assert_allclose(z[:, j], sign * ref[:, j], atol=1e-4)


def test_pca_2d_pads_one_dimensional_features():
    z = summaries.pca_2d(torch.tensor([[1.0], [3.0]]))
    assert z.tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="features must be a non-empty"):
        summaries.pca_2d(torch.zeros(0, 3))


# -- buffer and batch composition -----------------------------------------------------
def test_buffer_composition_bar_heights_equal_counts():
    counts = [{0: 5, 1: 5}, {0: 3, 1: 2, 2: 3, 3: 2}]
    ax = plots.plot_buffer_composition(counts, mem_size=10)
    assert bar_table(ax) == {
        "class 0": [5, 3], "class 1": [5, 2], "class 2": [0, 3], "class 3": [0, 2]}
    # stacked: each bar starts where the one below ends
    bottoms = [p.get_y() for p in ax.containers[2].patches]
    assert bottoms == [10, 5]
    assert ax.lines[0].get_ydata()[0] == 10  # the capacity line


def test_buffer_composition_single_dict_and_given_axes():
    fig, ax = plt.subplots()
    out = plots.plot_buffer_composition({4: 7}, ax=ax, step_labels=["end"])
    assert out is ax
    assert bar_table(ax) == {"class 4": [7]}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["end"]


def test_class_colour_is_the_same_in_buffer_and_batch_plots():
    ax1 = plots.plot_buffer_composition([{2: 1, 7: 4}])
    ax2 = plots.plot_batch_composition([{7: 3}, {2: 1, 7: 1}, {5: 2}])
    colour1 = {c.get_label(): c.patches[0].get_facecolor() for c in ax1.containers}
    colour2 = {c.get_label(): c.patches[0].get_facecolor() for c in ax2.containers}
    assert colour1["class 7"] == colour2["class 7"] == to_rgba(plots.class_color(7))
    assert colour1["class 2"] == colour2["class 2"] == to_rgba(plots.class_color(2))


def test_batch_composition_plot_heights_and_string_groups():
    ax = plots.plot_batch_composition([{0: 3, 1: 1}, {1: 4}], group_name="task")
    assert bar_table(ax) == {"task 0": [3, 0], "task 1": [1, 4]}
    ax = plots.plot_batch_composition([{"data": 8, "memory": 8}], group_name="rows from")
    assert bar_table(ax) == {"rows from data": [8], "rows from memory": [8]}


def test_composition_input_errors():
    with pytest.raises(TypeError, match="counts must be a list of \\{group: count\\} dicts"):
        plots.plot_buffer_composition([[1, 2]])
    with pytest.raises(ValueError, match="counts must hold counts that are ints >= 0, got -1"):
        plots.plot_buffer_composition([{0: -1}])
    with pytest.raises(ValueError, match="batches_groups must hold counts that are ints >= 0"):
        plots.plot_batch_composition([{0: 1.5}])


# -- forgetting curves and accuracy matrix ----------------------------------------
def test_forgetting_curves_from_history_dict():
    history = {0: [(10, 0.9), (20, 0.5), (30, 0.2)], 1: [(20, 0.1), (30, 0.8)]}
    ax = plots.plot_forgetting_curves(history, boundaries=[15, 25])
    curves = [ln for ln in ax.lines if ln.get_label().startswith("exp")]
    assert [ln.get_label() for ln in curves] == ["exp 0", "exp 1"]
    assert curves[0].get_xdata().tolist() == [10, 20, 30]
    assert curves[0].get_ydata().tolist() == [0.9, 0.5, 0.2]
    assert curves[1].get_ydata().tolist() == [0.1, 0.8]
    vlines = [ln.get_xdata()[0] for ln in ax.lines if not ln.get_label().startswith("exp")]
    assert vlines == [15, 25]
    assert ax.get_xlabel() == "training iterations"


def test_forgetting_curves_from_accuracy_matrix_skip_nan():
    A = np.array([[0.9, np.nan], [0.4, 0.95]])
    ax = plots.plot_forgetting_curves(A, x=[1, 2])
    assert ax.lines[0].get_xdata().tolist() == [1, 2]
    assert ax.lines[0].get_ydata().tolist() == [0.9, 0.4]
    assert ax.lines[1].get_xdata().tolist() == [2]
    assert ax.lines[1].get_ydata().tolist() == [0.95]
    assert to_rgba(ax.lines[1].get_color()) == to_rgba(plots.experience_color(1))


def test_forgetting_curve_errors():
    with pytest.raises(ValueError, match=r"x must have one value per row of history \(2\), got 3"):
        plots.plot_forgetting_curves(np.ones((2, 2)), x=[0, 1, 2])
    with pytest.raises(ValueError, match="history must be 2-D"):
        plots.plot_forgetting_curves([0.1, 0.2])
    with pytest.raises(ValueError, match=r"history\[0\] must be a list of \(x, accuracy\) pairs"):
        plots.plot_forgetting_curves({0: [(1, 0.5, 3)]})


def test_accuracy_matrix_annotations_equal_values_and_nan_blank():
    A = torch.tensor([[0.91, float("nan")], [0.5, 0.875]])
    ax = plots.plot_accuracy_matrix(A)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}
    assert texts == {(0, 0): "0.91", (1, 0): "0.50", (1, 1): "0.88"}
    image = ax.images[0].get_array()
    assert np.ma.getmaskarray(image).tolist() == [[False, True], [False, False]]
    np.testing.assert_allclose(image.data[1], [0.5, 0.875])


def test_accuracy_matrix_labels_from_dataframe_and_fmt():
    import pandas as pd

    df = pd.DataFrame([[1.0, 0.25]], index=["after exp 0"], columns=["exp 0", "exp 1"])
    ax = plots.plot_accuracy_matrix(df, fmt=".0%")
    assert sorted(t.get_text() for t in ax.texts) == ["100%", "25%"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["after exp 0"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["exp 0", "exp 1"]


def test_accuracy_matrix_must_be_2d():
    with pytest.raises(ValueError, match=r"A must be 2-D, got shape \(3,\)"):
        plots.plot_accuracy_matrix([0.1, 0.2, 0.3])


# -- A-GEM and projections -------------------------------------------------------------
def test_projection_rate_bars_per_experience():
    ax = plots.plot_projection_rate({1: 0.25, 2: 0.5})
    assert [p.get_height() for p in ax.patches] == [0.25, 0.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def test_projection_rate_running_mean_over_iterations():
    flags = [0, 1, 1, 0, 1, 1]
    ax = plots.plot_projection_rate(flags, window=2)
    line = ax.lines[0]
    assert line.get_xdata().tolist() == [2, 3, 4, 5, 6]
    assert line.get_ydata().tolist() == [0.5, 1.0, 0.5, 0.5, 1.0]


def test_projection_rate_errors():
    with pytest.raises(ValueError, match=r"rates must be fractions in \[0, 1\], got \[1.5\]"):
        plots.plot_projection_rate([1.5])
    with pytest.raises(ValueError, match=r"window must be an int in \[1, 2\]"):
        plots.plot_projection_rate([0, 1], window=3)
    with pytest.raises(ValueError, match=r"window must be an int in \[1, 2\], got 2.0. It counts"):
        plots.plot_projection_rate([0, 1], window=2.0)


def test_exemplar_projection_marks_the_selected_points():
    g = torch.Generator().manual_seed(1)
    features = torch.randn(20, 5, generator=g)
    labels = torch.arange(20) % 3
    ax = plots.plot_exemplar_projection(features, labels, selected=torch.tensor([0, 4, 9]))
    everyone, chosen = ax.collections
    z = summaries.pca_2d(features).numpy()
    np.testing.assert_allclose(everyone.get_offsets(), z)
    np.testing.assert_allclose(chosen.get_offsets(), z[[0, 4, 9]])
    np.testing.assert_allclose(chosen.get_facecolors()[1], plots.class_color(1))  # label of 4
    mask = torch.zeros(20, dtype=torch.bool)
    mask[[2, 3]] = True
    ax = plots.plot_exemplar_projection(features, labels, selected=mask)
    np.testing.assert_allclose(ax.collections[1].get_offsets(), z[[2, 3]])


def test_exemplar_projection_label_length_error():
    with pytest.raises(ValueError, match=r"labels must have one entry per row of features \(4\)"):
        plots.plot_exemplar_projection(torch.rand(4, 3), [0, 1], [0])


def test_plots_do_not_change_rcparams():
    before = dict(matplotlib.rcParams)
    plots.plot_accuracy_matrix(np.eye(2))
    plots.plot_buffer_composition([{0: 1}])
    assert dict(matplotlib.rcParams) == before


# -- bad inputs of issue 12 ------------------------------------------------------------
def test_f17_accuracy_matrix_in_percent_is_refused_as_by_the_metrics():
    from cltutor.evaluation.metrics import average_accuracy

    A = [[90.0, 10.0], [60.0, 85.0]]
    match = r"A must hold accuracies in \[0, 1\], got 90\. Divide percentages by 100"
    with pytest.raises(ValueError, match=match):
        average_accuracy(A)
    with pytest.raises(ValueError, match=match):
        plots.plot_accuracy_matrix(A)


def test_accuracy_matrix_with_inf_is_refused():  # E10 in the plot
    with pytest.raises(ValueError, match=r"A must hold accuracies in \[0, 1\] or NaN .*got inf"):
        plots.plot_accuracy_matrix([[np.inf, 0.0], [0.0, 0.0]])


def test_accuracy_matrix_colour_scale_is_always_0_to_1():
    ax = plots.plot_accuracy_matrix([[0.4, 0.5], [0.45, 0.6]])
    assert ax.images[0].get_clim() == (0.0, 1.0)


def test_f8_projection_rate_with_no_flags_and_a_window():
    with pytest.raises(ValueError, match=r"rates must hold one 0/1 flag per training iteration "
                       r"with window=1, got none\. .*window=None"):
        plots.plot_projection_rate([], window=1)
    assert len(plots.plot_projection_rate([]).patches) == 0  # no bars: an empty plot


def test_f12_forgetting_curves_of_bare_numbers_name_the_pairs():
    with pytest.raises(ValueError, match=r"history\[0\] must be a list of \(x, accuracy\) pairs, "
                       r"got \[1, 2\]"):
        plots.plot_forgetting_curves({0: [1, 2, 3]})


def test_forgetting_curves_in_percent_are_refused():
    with pytest.raises(ValueError, match=r"history\[0\] must hold accuracies in \[0, 1\]"):
        plots.plot_forgetting_curves({0: [(0, 90.0)]})
    with pytest.raises(ValueError, match=r"history must hold accuracies in \[0, 1\]"):
        plots.plot_forgetting_curves(np.array([[90.0, 50.0]]))


@pytest.mark.parametrize(("selected", "error", "match"), [  # F16
    ([7], ValueError, r"selected must hold positions in \[0, 5\) \(one per row of features\), "
                      r"got 7"),
    ([0, -1], ValueError, r"selected must hold positions in \[0, 5\).*got -1"),
    (torch.ones(4, dtype=torch.bool), ValueError, r"selected as a boolean mask must have one "
                                                   r"entry per row of features \(5\), got 4"),
    ([0.5], TypeError, r"selected must hold int positions or a boolean mask"),
])
def test_f16_exemplar_projection_selected_out_of_range(selected, error, match):
    with pytest.raises(error, match=match):
        plots.plot_exemplar_projection(torch.rand(5, 3), [0, 1, 0, 1, 0], selected)


def test_exemplar_projection_with_no_exemplars():
    ax = plots.plot_exemplar_projection(torch.rand(5, 3), [0, 1, 0, 1, 0], [])
    assert len(ax.collections[1].get_offsets()) == 0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fmt": "%d"}, r"fmt must be a format spec for floats, got '%d'"),
    ({"cmap": "nope"}, r"cmap must be a matplotlib colormap name, got 'nope'"),
    ({"row_labels": ["a"]}, r"row_labels must have one label per row \(2\), got 1"),
    ({"col_labels": ["a", "b", "c"]}, r"col_labels must have one label per col \(2\), got 3"),
])
def test_accuracy_matrix_options_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_accuracy_matrix(np.eye(2), **kwargs)


@pytest.mark.parametrize("mem_size", [-1, 0, "5", 2.5])
def test_buffer_composition_mem_size_is_checked(mem_size):
    with pytest.raises(ValueError, match=r"mem_size must be a positive int or None, got "):
        plots.plot_buffer_composition([{0: 3}], mem_size=mem_size)


def test_buffer_composition_step_labels_count():
    with pytest.raises(ValueError, match=r"step_labels must have one label per step \(2\), got 1"):
        plots.plot_buffer_composition([{0: 3}, {0: 4}], step_labels=["a"])


def test_projection_rate_nan_is_not_a_fraction():
    with pytest.raises(ValueError, match=r"rates must be fractions in \[0, 1\], got \[nan\]"):
        plots.plot_projection_rate([np.nan])


def test_forgetting_curves_draw_references_as_dotted_lines():
    ax = plots.plot_forgetting_curves(np.array([[0.9, np.nan], [0.2, 0.95]]),
                                      reference={"Cumulative": 0.97})
    line = [ln for ln in ax.lines if ln.get_label() == "Cumulative"][0]
    assert line.get_linestyle() == ":" and line.get_ydata()[0] == 0.97
    with pytest.raises(ValueError, match=r"reference\['Joint'\] must be a finite number >= 0 "
                                         r"and <= 1, got 97"):
        plots.plot_forgetting_curves(np.eye(2), reference={"Joint": 97})


def test_forgetting_curves_of_a_matrix_have_whole_experience_ticks():
    A = np.tril(np.full((3, 3), 0.8))
    ax = plots.plot_forgetting_curves(A)
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_the_mem_size_line_stays_below_the_top_spine():
    ax = plots.plot_buffer_composition([{0: 5, 1: 5}, {0: 3, 1: 3, 2: 4}], mem_size=10)
    assert ax.get_ylim()[1] >= 1.07 * 10 and ax.lines[0].get_ydata()[0] == 10  # clear gap


def test_experiences_and_classes_never_share_a_colour():
    classes = {plots.class_color(c) for c in range(20)}
    experiences = [plots.experience_color(k) for k in range(10)]
    assert len(set(experiences)) == 10 and not classes & set(experiences)
    with pytest.raises(TypeError, match="exp_id must be an int"):
        plots.experience_color(1.0)


def test_forgetting_curves_grey_each_experience_before_its_training():
    history = {0: [(0, 0.1), (10, 0.9), (20, 0.4)], 1: [(0, 0.0), (10, 0.0), (20, 0.95)],
               2: [(0, 0.0), (10, 0.0), (20, 0.0)]}
    ax = plots.plot_forgetting_curves(history, starts={0: 0, 1: 10})  # 2: not trained yet
    coloured = {ln.get_label(): ln.get_xdata().tolist() for ln in ax.lines
                if ln.get_label().startswith("exp")}
    assert coloured == {"exp 0": [0, 10, 20], "exp 1": [10, 20]}
    grey = [ln for ln in ax.lines if ln.get_color() == plots.NOT_TRAINED_COLOR]
    assert [(ln.get_label(), ln.get_xdata().tolist()) for ln in grey] == [
        ("untrained", [0, 10]), ("_", [0, 10, 20])]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["exp 0", "exp 1", "untrained"]
    # no starts and a dict: everything in colour, as before
    ax = plots.plot_forgetting_curves(history)
    assert all(ln.get_color() != plots.NOT_TRAINED_COLOR for ln in ax.lines)


def test_a_square_matrix_starts_experience_k_at_row_k_minus_1():
    A = np.tril(np.full((4, 4), 0.8)) + np.triu(np.full((4, 4), 0.05), 1)
    ax = plots.plot_forgetting_curves(A, x=[10, 20, 30, 40])
    coloured = {ln.get_label(): ln.get_xdata().tolist() for ln in ax.lines
                if ln.get_label().startswith("exp")}
    assert coloured == {"exp 0": [10, 20, 30, 40], "exp 1": [10, 20, 30, 40],
                        "exp 2": [20, 30, 40], "exp 3": [30, 40]}
    grey = [ln.get_xdata().tolist() for ln in ax.lines
            if ln.get_color() == plots.NOT_TRAINED_COLOR]
    assert grey == [[10, 20], [10, 20, 30]]


def test_side_by_side_the_curves_legend_clears_the_matrix_label():
    # notebook 02's figure: curves left, their legend outside on the right, the matrix right
    A = np.tril(np.full((5, 5), 0.8))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    plots.plot_forgetting_curves(A, ax=axes[0], xlabel="after training experience")
    plots.plot_accuracy_matrix(A, ax=axes[1])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = axes[0].get_legend().get_window_extent(renderer)
    label = axes[1].yaxis.label.get_window_extent(renderer)
    ticks = axes[1].yaxis.get_tightbbox(renderer)
    assert legend.x1 < min(label.x0, ticks.x0)


def test_batch_composition_stacks_the_given_order_first():
    batches = [{1: 5, 3: 20, 9: 12, 4: 11}, {3: 16, 9: 16, 7: 16}]
    ax = plots.plot_batch_composition(batches, order=[3, 9])  # new rows, then memory rows
    labels = [c.get_label() for c in ax.containers]
    assert labels == ["class 3", "class 9", "class 1", "class 4", "class 7"]
    bottoms = {c.get_label(): [p.get_y() for p in c.patches] for c in ax.containers}
    assert bottoms["class 3"] == [0, 0] and bottoms["class 9"] == [20, 16]
    assert bottoms["class 1"] == [32, 32]  # memory rows start where the 32 new rows end
    assert bar_table(ax)["class 4"] == [11, 0]
    with pytest.raises(ValueError, match=r"order must be a list of distinct groups, bottom "
                                         r"first, got \[3, 3\]"):
        plots.plot_batch_composition(batches, order=[3, 3])
