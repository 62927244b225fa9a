"""Network access under a deadline: a silent server or proxy becomes an error, not a hang.

- :data:`DOWNLOAD_TIMEOUT`: the seconds to wait by default (30).
- :func:`resolve_download_timeout`: those seconds from an argument, else
  ``$CLTUTOR_DOWNLOAD_TIMEOUT``, else :data:`DOWNLOAD_TIMEOUT`, checked.
- :func:`why_unreachable`: a HEAD request to each mirror in turn, all within the
  deadline; "" as soon as one answers, else the reason none did.
- :func:`socket_timeout`: every socket opened inside the ``with`` block (torchvision's
  own ``urlopen`` calls give no timeout) gives up after that many seconds.

:mod:`~cltutor.data.vision` uses all three before and while torchvision downloads.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from cltutor._checks import check_number

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "TIMEOUT_ENV",
    "resolve_download_timeout",
    "why_unreachable",
    "socket_timeout",
]

#: Seconds to wait for a download server to connect, reply or send more; see SplitMNIST.
DOWNLOAD_TIMEOUT = 30.0
#: The environment variable that replaces :data:`DOWNLOAD_TIMEOUT` when no argument is given.
TIMEOUT_ENV = "CLTUTOR_DOWNLOAD_TIMEOUT"


def resolve_download_timeout(value: float | None) -> float:
    """``value``, else ``$CLTUTOR_DOWNLOAD_TIMEOUT``, else :data:`DOWNLOAD_TIMEOUT`; checked.

    A blank variable counts as unset. A value that is not a finite number > 0 raises
    ``TypeError`` or ``ValueError`` naming ``download_timeout``; a bad variable raises
    ``ValueError`` naming the variable.

    >>> resolve_download_timeout(60)
    60.0
    >>> resolve_download_timeout(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: download_timeout must be a finite number > 0, got 0. Give the seconds ...
    """
    fix = f"Give the seconds to wait for a download server, e.g. 60 (default {DOWNLOAD_TIMEOUT:g})."
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if value is None and text:
        try:
            check_number(TIMEOUT_ENV, float(text), low=0, low_open=True)
            return float(text)
        except ValueError:  # "ten", or a number <= 0, nan or inf
            raise ValueError(
                f"The environment variable {TIMEOUT_ENV} must be a finite number "
                f"> 0, got {text!r}. {fix}"
            ) from None
    value = DOWNLOAD_TIMEOUT if value is None else value
    check_number("download_timeout", value, fix, low=0, low_open=True)
    return float(value)


def why_unreachable(urls: Sequence[str], timeout: float) -> str:
    """Why none of ``urls`` answers a HEAD request within ``timeout`` s in all; "" if one does.

    The URLs are tried in turn, each with the time left, so a list of silent mirrors
    still takes ``timeout`` seconds, not one ``timeout`` each. Any HTTP status is an
    answer (the download reports it later). Requests go through ``$HTTPS_PROXY`` and
    ``$HTTP_PROXY`` as torchvision's do. The reasons, one per URL tried, are joined by "; ".

    >>> why_unreachable(["https://example.invalid/file.gz"], 5)  # doctest: +SKIP
    'example.invalid: [Errno -2] Name or service not known'
    """
    deadline, problems = time.monotonic() + timeout, []
    for url in urls:
        host, remaining = url.split("/")[2], deadline - time.monotonic()  # scheme://host/path
        if remaining <= 0:
            break
        try:  # urllib takes $HTTPS_PROXY, as torchvision does
            urlopen(Request(url, method="HEAD"), timeout=remaining).close()
            return ""
        except HTTPError:
            return ""  # an answer all the same; torchvision will report the error
        except (OSError, HTTPException) as err:
            reason = getattr(err, "reason", err)  # URLError wraps the socket's error
            if isinstance(reason, TimeoutError):
                problems.append(f"no answer from {host} within download_timeout={timeout:g} s")
            else:
                problems.append(f"{host}: {reason}")
    return "; ".join(problems)


@contextmanager
def socket_timeout(seconds: float | None) -> Iterator[None]:
    """Within the block, ``socket.setdefaulttimeout(seconds)``; the old value afterwards.

    Sockets created without a timeout of their own (``urlopen(url)``) then give up on a
    connection, or a read, that takes longer than ``seconds``. The old default comes
    back however the block ends.

    >>> with socket_timeout(5):
    ...     socket.getdefaulttimeout()
    5.0
    >>> socket.getdefaulttimeout() is None
    True
    """
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)
