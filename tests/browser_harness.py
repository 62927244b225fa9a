"""Drive the tutorial notebooks in a real browser: JupyterLab and Debian's Chromium.

The pieces, each usable on its own:

* :func:`missing_prerequisite`: why the browser tests cannot run here (None when they can);
* :func:`jupyterlab_server`: a throwaway JupyterLab on 127.0.0.1 serving stripped copies of
  notebooks, always shut down (process group, kernels included) when the block exits;
* :func:`chromium_context`: headless ``/usr/bin/chromium`` driven by Playwright, with a fresh
  profile and every request that leaves 127.0.0.1 aborted;
* :class:`NotebookPage`: one open notebook; run all cells, run code in its kernel, screenshots;
* :func:`voila_server` and :class:`VoilaPage`: one notebook served as a web app by Voila (the
  lecture demo), and that app open in a tab.

The checks of what each panel shows live in ``test_browser.py``; they raise
:class:`BrowserCheckFailed` (an ``AssertionError``) saying what was seen, after saving a
screenshot of the page with :meth:`NotebookPage.fail`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# user settings of the throwaway JupyterLab: no news/update checks, every cell kept in the DOM
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification":
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
LEAVES_LOCALHOST = re.compile(r"^(?!https?://127\.0\.0\.1[:/])[a-z]+://")


class BrowserCheckFailed(AssertionError):
    """What the browser shows is not what the notebook should show."""


def missing_prerequisite(chromium: Path = CHROMIUM) -> str | None:
    """Why the browser tests cannot run on this machine, or None when they can."""
    if not chromium.exists():
        return (f"{chromium} is missing: install Debian's Chromium "
                "(apt-get install chromium) to run the browser tests")
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab"),
                            ("voila", "voila")):
        try:
            __import__(module)
        except ImportError:
            return (f"the {package} package is not installed: "
                    'pip install -e ".[test]" installs it')
    return None


def strip_outputs(source: Path, target: Path) -> int:
    """Copy the notebook ``source`` to ``target`` without outputs; the number of code cells.

    The browser then shows only what this run computes, never a saved output.
    """
    notebook = json.loads(source.read_text(encoding="utf-8"))
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    for cell in code_cells:
        cell["outputs"], cell["execution_count"] = [], None
    notebook.get("metadata", {}).pop("widgets", None)  # saved widget state: not this run's
    target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return len(code_cells)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the server --------------------------------------------------------------------------
@dataclass
class LabServer:
    """A running JupyterLab: where it listens, its token, the folder it serves."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path
    runtime: Path  # JUPYTER_RUNTIME_DIR: the kernels' connection files name it
    code_cells: dict[str, int]  # notebook name -> its number of code cells

    def notebook_url(self, name: str) -> str:
        """The notebook alone in a fresh workspace of its own (no tabs of an earlier page)."""
        workspace = re.sub(r"\W", "-", name)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/{path}", method=method,
            headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (localhost)
            body = response.read()
        return json.loads(body) if body else None


def _lab_environment(home: Path) -> dict[str, str]:
    """The server's environment: every Jupyter/IPython directory inside ``home``."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # CI sets Agg for nbval; a learner's kernel uses inline
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTER_DATA_DIR": "data", "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython"}
    for variable, name in dirs.items():
        (home / name).mkdir(parents=True, exist_ok=True)
        env[variable] = str(home / name)
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        path = home / "settings" / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    # news off: a config file, since "None" on the command line would be the string "None"
    config = {"LabApp": {"news_url": None}}
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    return env


def _lab_command(root: Path, port: int, token: str) -> list[str]:
    return [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--ServerApp.terminals_enabled=False", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {server.process.returncode}:\n"
                               + server.log.read_text(errors="replace")[-3000:])
        try:
            server.api("status")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n"
                       + server.log.read_text(errors="replace")[-3000:])


def kernel_pids(runtime: Path) -> list[int]:
    """Processes whose command line names a connection file of ``runtime``: our kernels."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if str(runtime) in cmdline:
            pids.append(int(entry.name))
    return pids


def stop_server(server: LabServer, grace: float = 5.0) -> None:
    """Shut the server down: its API, then its process group, then any kernel left over."""
    try:
        server.api("shutdown", method="POST")  # stops the kernels, then the server
        server.process.wait(timeout=grace)
    except (OSError, subprocess.TimeoutExpired):
        pass
    _stop_processes(server.process, server.runtime, grace)


def _stop_processes(process: subprocess.Popen, runtime: Path, grace: float = 5.0) -> None:
    """Stop a server's process group, then every kernel of ``runtime`` left over."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)  # the server runs in a session of its own
            process.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    for pid in kernel_pids(runtime):
        try:
            os.kill(pid, signal.SIGKILL)  # kernels run in sessions of their own
        except ProcessLookupError:
            pass


@contextmanager
def jupyterlab_server(notebooks: list[Path], workdir: Path, timeout: float = 60.0
                      ) -> Iterator[LabServer]:
    """A JupyterLab serving stripped copies of ``notebooks``; shut down however the block ends.

    Everything (settings, runtime files, the served root) lives under ``workdir``.
    """
    root, home = workdir / "root", workdir / "home"
    root.mkdir(parents=True)
    code_cells = {nb.name: strip_outputs(nb, root / nb.name) for nb in notebooks}
    port, token = free_port(), secrets.token_hex(16)
    log = workdir / "jupyterlab.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            _lab_command(root, port, token), cwd=root, env=_lab_environment(home),
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, process, log, home / "runtime",
                       code_cells)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        stop_server(server)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / "jupyterlab.log")


# -- the browser -------------------------------------------------------------------------
@contextmanager
def chromium_context(profile: Path, chromium: Path = CHROMIUM) -> Iterator[Any]:
    """A Playwright browser context of headless Chromium with a fresh profile in ``profile``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            context.route(LEAVES_LOCALHOST, lambda route: route.abort())  # nothing leaves
            yield context
        finally:
            context.close()


_READY = """([path, cells]) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path || !panel.context.isReady) {
    return false;
  }
  const session = panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  const shown = panel.node.querySelectorAll('.jp-CodeCell').length;
  return Boolean(kernel) && kernel.status === 'idle' && shown === cells;
}"""

_PROMPTS_SETTLED = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(p => p.textContent.trim());
  const numbered = prompts.filter(t => /^\\[\\d+\\]:$/.test(t)).length;
  const running = prompts.filter(t => t.includes('*')).length;
  return running === 0 && numbered > 0 ? [numbered, prompts.length] : null;
}"""

_EXECUTE = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false});
  const printed = [], errors = [];
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') printed.push(msg.content.text);
    if (msg.header.msg_type === 'error') errors.push(msg.content.evalue);
  };
  await future.done;
  return [printed.join(''), errors];
}"""


class BrowserTab:
    """A browser tab (``page``) named ``name``: screenshots, and failing with one."""

    name: str
    page: Any

    def screenshot(self, step: str, element: Any = None) -> Path:
        """Save a PNG of the page (or of ``element``) under test-artifacts/browser/."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{step}.png"
        (element or self.page).screenshot(path=str(path))
        return path

    def fail(self, message: str, step: str = "failure") -> None:
        """Save a screenshot of the page as it is, then raise :class:`BrowserCheckFailed`."""
        path = self.screenshot(step)
        raise BrowserCheckFailed(f"{message}\n(screenshot: {path})")


class NotebookPage(BrowserTab):
    """One notebook open in JupyterLab, in its own browser tab."""

    def __init__(self, context: Any, server: LabServer, name: str, timeout: float = 60.0
                 ) -> None:
        self.name = Path(name).stem
        self.page = context.new_page()
        self.page.goto(server.notebook_url(name))
        # every code cell shown and the kernel idle: a menu command now reaches this notebook
        self.page.wait_for_function(_READY, arg=[name, server.code_cells[name]],
                                    timeout=timeout * 1000, polling=200)

    def run_all(self, timeout: float = 120.0) -> float:
        """Run > Run All Cells from the menu bar; wait until every cell ran. Seconds taken."""
        start = time.monotonic()
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        handle = self.page.wait_for_function(_PROMPTS_SETTLED, timeout=timeout * 1000,
                                             polling=250)
        numbered, total = handle.json_value()
        if numbered != total:
            errors = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) "
                                       ".jp-OutputArea-output[data-mime-type*='stderr']")
            shown = errors.all_inner_texts()[-1:] or ["(no error output)"]
            self.fail(f"{self.name}: only {numbered} of {total} code cells ran; last error "
                      f"output:\n{shown[0][-2000:]}")
        return time.monotonic() - start

    def execute(self, code: str) -> str:
        """Run ``code`` in the notebook's kernel (not in a cell); what it printed."""
        printed, errors = self.page.evaluate(_EXECUTE, code)
        if errors:
            raise RuntimeError(f"kernel error running {code!r}: {errors}")
        return printed


# -- Voila: a notebook as a web app ------------------------------------------------------
@dataclass
class VoilaServer:
    """A running Voila serving one notebook at its root URL."""

    url: str
    process: subprocess.Popen
    log: Path
    runtime: Path


def _voila_command(notebook: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", "--Voila.port_retries=0",
    ]


@contextmanager
def voila_server(notebook: Path, workdir: Path, timeout: float = 60.0) -> Iterator[VoilaServer]:
    """Voila serving a stripped copy of ``notebook``; shut down however the block ends.

    Each page load starts a kernel of its own and runs the notebook in it, as on Binder.
    """
    root, home = workdir / "root", workdir / "home"
    root.mkdir(parents=True)
    strip_outputs(notebook, root / notebook.name)
    port, log = free_port(), workdir / "voila.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            _voila_command(root / notebook.name, port), cwd=root,
            env=_lab_environment(home), stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True)
    server = VoilaServer(f"http://127.0.0.1:{port}", process, log, home / "runtime")
    try:
        deadline = time.monotonic() + timeout
        while True:  # a static file: asking for the page itself would start a kernel
            if process.poll() is not None:
                raise RuntimeError(f"Voila exited with code {process.returncode}:\n"
                                   + log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{server.url}/voila/static/voila.js",  # noqa: S310
                                            timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Voila did not answer within {timeout:.0f} s:\n"
                                       + log.read_text(errors="replace")[-3000:]) from None
                time.sleep(0.2)
        yield server
    finally:
        _stop_processes(process, server.runtime)  # Voila has no shutdown API
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / "voila.log")


class VoilaPage(BrowserTab):
    """The app Voila serves, open in a browser tab: as a student or a lecturer sees it.

    The panel checks of ``test_browser.py`` take it as they take a :class:`NotebookPage`.
    """

    def __init__(self, context: Any, server: VoilaServer, name: str, ready: str,
                 timeout: float = 120.0) -> None:
        self.name = f"voila-{name}"
        self.page = context.new_page()
        start = time.monotonic()
        self.page.goto(server.url, timeout=timeout * 1000)  # returns once the notebook ran
        try:  # then the widgets render from the kernel's state
            self.page.locator(ready).first.wait_for(timeout=timeout * 1000)
        except Exception:  # playwright's TimeoutError
            self.fail(f"Voila's page showed no {ready} within {timeout:.0f} s")
        self.seconds = time.monotonic() - start
