"""The download client: ``gomodproxy download``, ``go mod download`` without the go command.

It fills the go command's own module cache the way the go command does (docs/guides/download.md):
:func:`run_download` runs one command line (:class:`DownloadRequest`) in a Go environment read
by :func:`read_go_environment`.
"""

from gomodproxy.client.goenv import GoEnvironment, read_go_environment
from gomodproxy.client.run import DownloadRequest, DownloadStats, run_download

__all__ = [
    "DownloadRequest",
    "DownloadStats",
    "GoEnvironment",
    "read_go_environment",
    "run_download",
]
