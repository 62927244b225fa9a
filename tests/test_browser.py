"""The widget panels in a real browser: JupyterLab driven through Debian's Chromium.

``test_buffer_explorer_*`` runs notebook 03, drags the mem_size slider with the mouse and
picks another groupby, and checks that the plot changes and that the text the panel shows
states the setting and the group sizes of the quota rule. ``test_playground_*`` runs
notebook 08, clicks run and watches the live forgetting curves redraw while the status
says running, then the accuracy matrix and the comparison table. A broken widget callback
must make these checks fail: the harness is tested that way too. ``test_lecture_demo_*``
serves ``playground_app.ipynb`` with Voila, as Binder's app link does, and runs the same
playground check on the app page. Screenshots land in
``test-artifacts/browser/``.

Skipped, with the reason, where Chromium, playwright or jupyterlab is missing (a learner's
laptop); under ``CI=true`` a missing prerequisite is an error, so CI never skips them.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from browser_harness import (
    NOTEBOOKS,
    BrowserCheckFailed,
    NotebookPage,
    VoilaPage,
    chromium_context,
    jupyterlab_server,
    kernel_pids,
    missing_prerequisite,
    strip_outputs,
    voila_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

GROUP_WORDS = {"class": "class", "experience": "experience", "task": "task", "None": "all"}
N_CLASSES, N_EXPERIENCES = 10, 5  # SplitDigits(n_experiences=5), as both notebooks use it


def require_prerequisites() -> None:
    """Skip (a learner's laptop) or, under CI=true, fail when the browser tests cannot run."""
    reason = missing_prerequisite()
    if reason is not None:
        if os.environ.get("CI") == "true":  # CI installs them: missing means a broken set-up
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)


# -- the harness itself ------------------------------------------------------------------
def test_strip_outputs_copies_without_outputs(tmp_path):
    source = NOTEBOOKS / "03_buffers.ipynb"
    original = source.read_bytes()
    cells = json.loads(original)["cells"]
    n_code = strip_outputs(source, tmp_path / source.name)
    copied = json.loads((tmp_path / source.name).read_text())["cells"]
    assert n_code == sum(c["cell_type"] == "code" for c in cells) > 0
    assert [c["source"] for c in copied] == [c["source"] for c in cells]
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in copied if c["cell_type"] == "code")
    assert source.read_bytes() == original  # the repo's notebook is left alone


def test_missing_chromium_is_the_skip_reason(tmp_path):
    reason = missing_prerequisite(chromium=tmp_path / "no-chromium")
    assert reason is not None
    assert str(tmp_path / "no-chromium") in reason and "apt-get install chromium" in reason


@pytest.mark.browser
def test_server_and_kernels_stop_when_the_block_fails(tmp_path):
    require_prerequisites()
    with pytest.raises(RuntimeError, match="a failing test"), \
            jupyterlab_server([NOTEBOOKS / "08_playground.ipynb"], tmp_path / "lab") as server:
        server.api("kernels", method="POST")  # a kernel, as an opened notebook starts one
        deadline = time.monotonic() + 30
        while not kernel_pids(server.runtime) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kernel_pids(server.runtime), "the kernel did not start"
        raise RuntimeError("a failing test")
    assert server.process.poll() is not None  # the server process has exited
    assert kernel_pids(server.runtime) == []  # and so has its kernel
    with pytest.raises(OSError):
        server.api("status")  # nothing listens on the port any more


# -- fixtures: one server and one browser for the module, always shut down ----------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """The module's one Chromium. Playwright's sync API runs a single event loop per thread,
    so a second ``chromium_context`` opened while this one lives would fail: every test that
    needs a browser takes this fixture (new pages, same context)."""
    require_prerequisites()
    with chromium_context(tmp_path_factory.mktemp("profile")) as context:
        yield context


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    work = tmp_path_factory.mktemp("browser")
    notebooks = [NOTEBOOKS / "03_buffers.ipynb", NOTEBOOKS / "08_playground.ipynb"]
    with jupyterlab_server(notebooks, work / "lab") as server:
        yield server, browser


@pytest.fixture(scope="module")
def buffers_page(lab):
    server, context = lab
    notebook = NotebookPage(context, server, "03_buffers.ipynb")
    notebook.run_all()
    return notebook


@pytest.mark.browser
def test_run_all_reports_the_cell_that_failed(lab):
    server, context = lab
    cells = ["x = 1", "raise ValueError('a deliberately failing cell')", "y = 2"]
    notebook = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                           "execution_count": None} for c in cells],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (server.root / "failing.ipynb").write_text(json.dumps(notebook))
    server.code_cells["failing.ipynb"] = len(cells)
    page = NotebookPage(context, server, "failing.ipynb")
    with pytest.raises(BrowserCheckFailed, match=r"(?s)only 2 of 3 code cells ran.*"
                                                 r"a deliberately failing cell"):
        page.run_all(timeout=60)
    page.page.close()


# -- controls ----------------------------------------------------------------------------
def button(scope: Page | Locator, label: str) -> Locator:
    """An ipywidgets button by its text (its icon's glyph would spoil a role lookup)."""
    return scope.locator("button.widget-button", has_text=re.compile(f"^\\s*{label}\\s*$"))


def labelled(scope: Locator, kind: str, label: str) -> Locator:
    """The control of ``kind`` (".widget-slider", ".widget-dropdown") labelled ``label``."""
    name = scope.page.locator(".widget-label", has_text=re.compile(f"^{label}$"))
    return scope.locator(kind).filter(has=name).first


def slider_value(slider: Locator) -> int:
    return int(slider.locator(".widget-readout").inner_text())


def drag_slider(slider: Locator, value: int, low: int, high: int) -> None:
    """Drag the slider's handle with the mouse to where ``value`` lies on its track."""
    slider.scroll_into_view_if_needed()  # mouse coordinates are the viewport's
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    x0, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    x1 = track["x"] + track["width"] * (value - low) / (high - low)
    mouse = slider.page.mouse
    mouse.move(x0, y)
    mouse.down()
    mouse.move(x1, y, steps=10)
    mouse.up()


# -- the buffer explorer -----------------------------------------------------------------
class ExplorerPanel:
    """The BufferExplorer's controls and outputs on the page."""

    def __init__(self, notebook: NotebookPage) -> None:
        page = notebook.page
        self.notebook = notebook
        self.root = page.locator(".widget-vbox").filter(has=button(page, "step")).first
        self.slider = labelled(self.root, ".widget-slider", "mem_size")
        self.policy = labelled(self.root, ".widget-dropdown", "storage policy").locator("select")
        self.groupby = labelled(self.root, ".widget-dropdown", "groupby").locator("select")
        self.image = self.root.locator(".widget-output img").first
        self.text = self.root.locator(".widget-html pre").first

    @property
    def mem_size(self) -> int:
        return slider_value(self.slider)

    def drag_slider_to(self, value: int) -> None:
        drag_slider(self.slider, value, low=10, high=500)


def expected_groups(groupby: str, mem_size: int) -> list[tuple[str, int, int, int]]:
    """``(word, key, stored, quota)`` of each group after the whole stream, by the quota rule.

    G groups share M slots: ``M // G`` each, one more for the first ``M % G`` keys. Every
    group holds more samples than its quota, so each is full.
    """
    n_groups = {"class": N_CLASSES, "experience": N_EXPERIENCES}.get(groupby, 1)
    quotas = [mem_size // n_groups + (k < mem_size % n_groups) for k in range(n_groups)]
    return [(GROUP_WORDS[groupby], k, q, q) for k, q in enumerate(quotas)]


def summary_matches(text: str, groupby: str, mem_size: int) -> bool:
    """Whether the panel's text states this setting and the groups it must produce."""
    groups = [(w, int(k), int(n), int(q))
              for w, k, n, q in re.findall(r"(\w+) (\d+): (\d+)/(\d+)", text)]
    shown_groupby = "None" if groupby == "None" else repr(groupby)
    return (f"mem_size={mem_size}," in text and f"groupby={shown_groupby}" in text
            and f"after {N_EXPERIENCES} of {N_EXPERIENCES} experiences" in text
            and f"{mem_size} of {mem_size} slots used" in text
            and groups == expected_groups(groupby, mem_size))


# a new output replaces the <img> element: look it up again at every poll
IMAGE_CHANGED = """([root, old]) => {
  const img = root.querySelector('.widget-output img');
  return img !== null && img.getAttribute('src') !== old;
}"""


def check_explorer_follows(panel: ExplorerPanel, action: Callable[[], object], what: str,
                           timeout: float = 30.0, shot: str = "failure") -> str:
    """Do ``action``; the plot must change and the text must state the new setting.

    Returns the new image source. Raises BrowserCheckFailed (with a screenshot) otherwise.
    """
    page, before = panel.notebook.page, panel.image.get_attribute("src")
    action()
    try:
        page.wait_for_function(IMAGE_CHANGED, arg=[panel.root.element_handle(), before],
                               timeout=timeout * 1000, polling=100)
    except Exception:  # playwright's TimeoutError: say what the learner would see
        panel.notebook.fail(f"the buffer-composition plot did not change within {timeout:.0f} s "
                            f"after {what}", shot)
    groupby, mem_size = panel.groupby.input_value(), panel.mem_size
    deadline = time.monotonic() + timeout
    while not summary_matches(text := panel.text.inner_text(), groupby, mem_size):
        if time.monotonic() > deadline:
            panel.notebook.fail(f"after {what}, the panel's text does not state mem_size="
                                f"{mem_size}, groupby={groupby} and its quotas:\n{text}", shot)
        time.sleep(0.1)
    return panel.image.get_attribute("src")


def explorer_ready(notebook: NotebookPage) -> ExplorerPanel:
    """The explorer as the notebook left it, switched to a parametric buffer if needed."""
    panel = ExplorerPanel(notebook)
    panel.image.wait_for(timeout=30_000)
    if panel.policy.input_value() != "parametric":  # groupby applies to parametric only
        check_explorer_follows(panel, lambda: panel.policy.select_option("parametric"),
                               "choosing the parametric policy")
    return panel


@pytest.mark.browser
def test_buffer_explorer_follows_slider_and_dropdown(buffers_page):
    panel = explorer_ready(buffers_page)
    buffers_page.screenshot("explorer-before", panel.root)
    old_mem, old_groupby = panel.mem_size, panel.groupby.input_value()
    new_mem = 250 if old_mem != 250 else 150
    first = check_explorer_follows(panel, lambda: panel.drag_slider_to(new_mem),
                                   f"dragging mem_size from {old_mem} towards {new_mem}")
    assert panel.mem_size != old_mem  # the drag moved the slider (the text matched it)
    buffers_page.screenshot("explorer-mem-size", panel.root)
    new_groupby = "experience" if old_groupby != "experience" else "class"
    second = check_explorer_follows(panel, lambda: panel.groupby.select_option(new_groupby),
                                    f"choosing groupby {new_groupby}")
    assert panel.groupby.input_value() == new_groupby and second != first
    buffers_page.screenshot("explorer-groupby", panel.root)


BREAKAGES = {
    "raises": "def _broken():\n    raise RuntimeError('deliberately broken')\n",
    "does nothing": "def _broken():\n    pass\n",
}


@pytest.mark.browser
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_harness_catches_a_broken_callback(buffers_page, breakage):
    panel = explorer_ready(buffers_page)
    buffers_page.execute(BREAKAGES[breakage] + "explorer.rebuild = _broken")
    try:
        old_mem = panel.mem_size
        new_mem = 100 if old_mem > 250 else 400
        with pytest.raises(BrowserCheckFailed, match="plot did not change within 3 s after"):
            check_explorer_follows(panel, lambda: panel.drag_slider_to(new_mem),
                                   f"dragging mem_size to {new_mem}", timeout=3,
                                   shot=f"broken-callback-{breakage.replace(' ', '-')}")
        if breakage == "does nothing":
            assert panel.mem_size == new_mem  # the slider moved: only the callback failed
        else:  # the panel undid the change that failed: the slider is back, the error shown
            deadline = time.monotonic() + 5
            while panel.mem_size != old_mem and time.monotonic() < deadline:
                time.sleep(0.1)
            assert panel.mem_size == old_mem
            status = panel.root.locator(".widget-html").filter(has_text="deliberately broken")
            status.first.wait_for(timeout=5000)  # the status line shows the error
            assert "controls are back at the last setting that worked" in status.first.inner_text()
    finally:
        buffers_page.execute("del explorer.rebuild")  # the class's method again


# -- the strategy playground -------------------------------------------------------------
# records every image the live and the matrix Outputs show (live: with the status then)
WATCH_OUTPUTS = """(root) => {
  const [live, matrix] = root.querySelectorAll('.widget-output');
  const status = root.querySelector('.widget-html');
  const shown = [[], []];
  const watch = (output, note) => new MutationObserver(() => {
    const img = output.querySelector('img');
    if (img !== null) note(img.getAttribute('src'));
  }).observe(output, {childList: true, subtree: true, attributes: true});
  watch(live, src => shown[0].push([src, status.textContent]));
  watch(matrix, src => shown[1].push(src));
  window.__shown = shown;
}"""


class PlaygroundPanel:
    """The StrategyPlayground's controls and outputs on the page."""

    def __init__(self, notebook: NotebookPage) -> None:
        page = notebook.page
        self.notebook = notebook
        self.root = page.locator(".widget-vbox").filter(has=button(page, "run")).first
        self.run = button(self.root, "run")
        self.strategy = labelled(self.root, ".widget-dropdown", "strategy").locator("select")
        self.epochs = labelled(self.root, ".widget-slider", "epochs")
        self.status = self.root.locator(".widget-html").first
        outputs = self.root.locator(".widget-output")
        self.live, self.matrix, self.table = outputs.nth(0), outputs.nth(1), outputs.nth(2)

    def image(self, output: Locator) -> str | None:
        images = output.locator("img")
        return images.first.get_attribute("src") if images.count() else None

    def table_rows(self) -> int:
        return self.table.locator("table tbody tr").count()


@pytest.fixture(scope="module")
def playground_page(lab):
    server, context = lab
    notebook = NotebookPage(context, server, "08_playground.ipynb")
    notebook.run_all()
    return notebook


def check_playground_run(panel: PlaygroundPanel, strategy: str, epochs: int,
                         timeout: float = 120.0, shot: str = "failure") -> list[str]:
    """Choose ``strategy`` and ``epochs``, click run; the live plot must redraw during the run,
    then the matrix and the table must show the new run. The live images seen while running.
    """
    notebook, runs = panel.notebook, panel.table_rows()
    panel.strategy.select_option(strategy)
    drag_slider(panel.epochs, epochs, low=1, high=10)
    if slider_value(panel.epochs) != epochs:
        notebook.fail(f"dragging the epochs slider to {epochs} left it at "
                      f"{slider_value(panel.epochs)}", shot)
    before_live = panel.image(panel.live)
    panel.root.evaluate(WATCH_OUTPUTS)
    panel.run.click()
    try:
        panel.status.get_by_text(re.compile(f"^run {runs}:")).wait_for(timeout=timeout * 1000)
    except Exception:  # playwright's TimeoutError
        notebook.fail(f"run {runs} did not finish within {timeout:.0f} s; status: "
                      f"{panel.status.inner_text()!r}", shot)
    live, matrices = notebook.page.evaluate("() => window.__shown")
    while_running = list(dict.fromkeys(
        src for src, status in live if src and src != before_live and "running" in status))
    if len(while_running) < 2:
        notebook.fail(f"the live forgetting curves showed {len(while_running)} new image(s) "
                      f"while the status said running; expected at least 2", shot)
    if not matrices or matrices[-1] != panel.image(panel.matrix):
        notebook.fail("no accuracy matrix was drawn for the run", shot)
    last_row = panel.table.locator("table tbody tr").last.inner_text()
    if panel.table_rows() != runs + 1 or strategy not in last_row:
        notebook.fail(f"the comparison table has {panel.table_rows()} rows, expected "
                      f"{runs + 1} ending with a {strategy} run; last row: {last_row!r}", shot)
    return while_running


@pytest.mark.browser
def test_playground_live_curves_and_matrix(playground_page):
    panel = PlaygroundPanel(playground_page)
    panel.root.scroll_into_view_if_needed()
    playground_page.screenshot("playground-before", panel.root)
    start = time.monotonic()
    # The live plot redraws at most every 0.2 s (and spends at most a tenth of the time on
    # drawing); Naive on the digits finishes in about 0.3 s even at 10 epochs, too fast to
    # show 2 frames. AR1 at 10 epochs trains for a few seconds: several frames.
    live_images = check_playground_run(panel, "ar1", epochs=10)
    assert len(live_images) >= 2 and time.monotonic() - start < 120
    playground_page.screenshot("playground-after", panel.root)


@pytest.mark.browser
def test_harness_catches_a_live_plot_that_only_draws_at_the_end(playground_page):
    panel = PlaygroundPanel(playground_page)
    playground_page.execute("from cltutor.viz.live import LivePlotLogger\n"
                            "_healthy = LivePlotLogger._maybe_redraw\n"
                            "LivePlotLogger._maybe_redraw = lambda self, final=False: None")
    try:  # only the playground's closing flush() draws now
        with pytest.raises(BrowserCheckFailed, match="live forgetting curves showed [01] new"):
            check_playground_run(panel, "ar1", epochs=10, shot="broken-live-plot")
    finally:
        playground_page.execute("LivePlotLogger._maybe_redraw = _healthy")



# -- the lecture demo: the playground as a Voila app ---------------------------------------
@pytest.mark.browser
def test_lecture_demo_serves_the_playground_and_runs_it(browser, tmp_path):
    with voila_server(NOTEBOOKS / "playground_app.ipynb", tmp_path / "voila") as server:
        app = VoilaPage(browser, server, "playground", ready="button.widget-button")
        shown = app.page.locator("body").inner_text()
        assert "lecture demo" in shown and "StrategyPlayground(" not in shown  # code hidden
        panel = PlaygroundPanel(app)
        assert panel.table_rows() == 0  # nothing trained before the lecturer clicks
        app.screenshot("before", panel.root)
        live_images = check_playground_run(panel, "ar1", epochs=10)
        assert len(live_images) >= 2
        check_playground_run(panel, "naive", epochs=1)  # a second run joins the table
        assert panel.table_rows() == 2
        app.screenshot("after")
