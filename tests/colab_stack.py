"""Google Colab's software stack: the versions students run the notebooks on.

The one source of these versions for ``.ci/run`` (which installs them in ``.venv-colab``)
and for ``tests/test_colab_stack.py``. Standard library only, so that a bare ``python3``
can run it before any virtual environment exists::

    python3 tests/colab_stack.py      # the pip requirement lines, ``name==version``

Source: Colab's backend-info (the runtime's published ``pip-freeze.txt``), 2026-08.
Update :data:`COLAB` when Colab moves, and the CI machine then installs the new stack.
"""

from __future__ import annotations

import sys

#: Colab's versions, from its backend-info of 2026-08. Keys are distribution names as
#: pip and ``importlib.metadata`` spell them; ``python`` is the interpreter.
COLAB: dict[str, str] = {
    "python": "3.13",
    "torch": "2.11.0",
    # torchvision is not listed by name in the stack we track; 0.26.0 is the release built
    # for torch 2.11.0 (it requires torch==2.11.0), as Colab installs the pair.
    "torchvision": "0.26.0",
    "numpy": "2.1.3",  # backend-info: numpy 2.1; 2.1.3 is that series' last release
    "matplotlib": "3.10.9",  # backend-info: matplotlib 3.10; 3.10.9 is its last release
    "ipython": "7.34.0",
    "ipykernel": "6.17.1",
    "ipywidgets": "7.7.1",
}

#: Where CI's ``.venv-colab`` (Python 3.11) has to differ from :data:`COLAB`, and why:
#: name -> (version CI installs, reason). Every other entry of COLAB is pinned as is.
CI_DIFFERS: dict[str, tuple[str, str]] = {
    "python": ("3.11", "only where the machine has no Python 3.13: .ci/run makes .venv-colab "
                       "with Colab's 3.13 when it finds one (the CI image's pyenv has 3.13.0), "
                       "else with its python3, 3.11 there; then the packages match Colab and "
                       "the interpreter does not."),
}

#: Entries of COLAB that are not pip packages (never printed as requirements).
NOT_PIP = ("python",)


def ci_versions() -> dict[str, str]:
    """What ``.venv-colab`` has: Colab's versions, except where :data:`CI_DIFFERS` says."""
    return {name: CI_DIFFERS[name][0] if name in CI_DIFFERS else version
            for name, version in COLAB.items()}


def requirement_lines() -> list[str]:
    """The pins CI installs in ``.venv-colab``: ``name==version``, one per package."""
    return [f"{name}=={version}" for name, version in ci_versions().items()
            if name not in NOT_PIP]


if __name__ == "__main__":
    sys.stdout.write("".join(line + "\n" for line in requirement_lines()))
