"""The real-module corpus as the tests see it.

``scripts/fetch-corpus`` has the go command download every module required by
``tests/corpus/go.mod`` into ``.cache/corpus/gopath/pkg/mod``. Its ``cache/download`` folder (the
GOPROXY layout: ``list``, ``.info``, ``.mod``, ``.zip``) is the local upstream of the whole suite,
and the extracted trees beside it are what the go command itself made of each zip. The expected
hashes come from ``tests/corpus/go.sum``, which the go command wrote and checked against the
checksum database.

Everything here fails the test (never skips) when the corpus is missing: run
``scripts/fetch-corpus``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "CORPUS_DIR",
    "PROJECTS",
    "REPO_ROOT",
    "CorpusModule",
    "Project",
    "corpus_download_dir",
    "corpus_modcache_dir",
    "corpus_modules",
    "go_escape",
    "project",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The folder holding the corpus's go.mod and go.sum.
CORPUS_DIR = REPO_ROOT / "tests" / "corpus"
_MODCACHE = REPO_ROOT / ".cache" / "corpus" / "gopath" / "pkg" / "mod"
_PROJECTS_CACHE = REPO_ROOT / ".cache" / "corpus" / "projects"
#: The large real projects of tests/projects (each a project's released go.mod and go.sum),
#: the proxy's scale test; tests/projects/fzf, a small one, serves the download client's tests
#: (``project("fzf")``).
PROJECTS = ("helm", "prometheus")
_FETCH_HINT = "run scripts/fetch-corpus (it downloads the real-module corpus with the go command)"

_UPPER = re.compile(r"[A-Z]")


def go_escape(s: str) -> str:
    """Case-encode a module path or version as the module cache does (``A`` → ``!a``).

    Kept independent of ``gomodproxy.module.paths`` so the corpus layout does not depend on the
    code under test.
    """
    return _UPPER.sub(lambda m: "!" + m.group(0).lower(), s)


def corpus_modcache_dir() -> Path:
    """The go command's module cache (GOMODCACHE) holding the corpus; fails when missing."""
    if not (_MODCACHE / "cache" / "download").is_dir():
        pytest.fail(f"the module corpus is missing at .cache/corpus: {_FETCH_HINT}", pytrace=False)
    return _MODCACHE


def corpus_download_dir() -> Path:
    """The corpus's ``cache/download`` folder: a GOPROXY tree usable as a local upstream."""
    return corpus_modcache_dir() / "cache" / "download"


@dataclass(frozen=True, slots=True)
class CorpusModule:
    """One module version of the corpus with the sums the go command recorded in go.sum."""

    path: str
    version: str
    zip_sum: str
    mod_sum: str

    @property
    def id(self) -> str:
        """``path@version``, the test id."""
        return f"{self.path}@{self.version}"

    @property
    def _base(self) -> Path:
        return corpus_download_dir() / go_escape(self.path) / "@v" / go_escape(self.version)

    @property
    def zip_file(self) -> Path:
        """The module zip as the proxy served it."""
        return self._base.with_name(self._base.name + ".zip")

    @property
    def mod_file(self) -> Path:
        """The ``.mod`` file as the proxy served it."""
        return self._base.with_name(self._base.name + ".mod")

    @property
    def info_file(self) -> Path:
        """The ``.info`` file as the go command stored it."""
        return self._base.with_name(self._base.name + ".info")

    @property
    def extracted_dir(self) -> Path:
        """The tree the go command extracted from the zip (files 0444)."""
        return corpus_modcache_dir() / f"{go_escape(self.path)}@{go_escape(self.version)}"


def _required() -> list[tuple[str, str]]:
    """The (path, version) pairs of go.mod's require lines, in file order."""
    out: list[tuple[str, str]] = []
    in_block = False
    for raw in (CORPUS_DIR / "go.mod").read_text(encoding="utf-8").splitlines():
        line = raw.split("//", 1)[0].strip()
        if line == "require (":
            in_block = True
            continue
        if in_block and line == ")":
            in_block = False
            continue
        fields = line.split()
        if in_block and len(fields) == 2:
            out.append((fields[0], fields[1]))
        elif len(fields) == 3 and fields[0] == "require":
            out.append((fields[1], fields[2]))
    return out


def _sums() -> dict[tuple[str, str], str]:
    """go.sum as a map from (path, version or version/go.mod) to its h1 hash."""
    sums: dict[tuple[str, str], str] = {}
    for line in (CORPUS_DIR / "go.sum").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].startswith("h1:"):
            sums[(fields[0], fields[1])] = fields[2]
    return sums


@functools.cache
def _modules() -> tuple[CorpusModule, ...]:
    sums = _sums()
    modules: list[CorpusModule] = []
    missing: list[str] = []
    for path, version in _required():
        zip_sum = sums.get((path, version))
        mod_sum = sums.get((path, version + "/go.mod"))
        if zip_sum is None or mod_sum is None:
            pytest.fail(
                f"tests/corpus/go.sum lacks the sums of {path}@{version}: "
                "run scripts/fetch-corpus --update-sums and commit go.sum",
                pytrace=False,
            )
        module = CorpusModule(path, version, zip_sum, mod_sum)
        if module.zip_file.is_file() and module.mod_file.is_file():
            modules.append(module)
        else:
            missing.append(module.id)
    if missing:
        pytest.fail(
            f"the corpus is incomplete ({len(missing)} modules missing, e.g. {missing[0]}): "
            + _FETCH_HINT,
            pytrace=False,
        )
    return tuple(modules)


def corpus_modules() -> list[CorpusModule]:
    """Every module required by tests/corpus/go.mod, with its go.sum hashes.

    Restricted to versions whose zip and .mod are present in the download folder; fails (with
    the fix) when the corpus is missing or incomplete, so a test can never pass on no data.
    """
    return list(_modules())


@dataclass(frozen=True, slots=True)
class Project:
    """A real project of tests/projects, whose whole build list ``scripts/fetch-corpus`` fetched.

    ``download_dir`` is the ``cache/download`` folder the go command wrote for
    ``go mod download all`` in the project (zips of the build list, and the ``.mod`` of every
    version the module graph needed); it is the project's local upstream.
    """

    name: str
    source_dir: Path
    download_dir: Path

    @property
    def go_mod(self) -> bytes:
        """The project's go.mod, as released."""
        return (self.source_dir / "go.mod").read_bytes()

    def go_sum(self) -> dict[tuple[str, str], str]:
        """The project's released go.sum: (path, version or version/go.mod) to its h1 hash."""
        sums: dict[tuple[str, str], str] = {}
        for line in (self.source_dir / "go.sum").read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[2].startswith("h1:"):
                sums[(fields[0], fields[1])] = fields[2]
        return sums

    def zips(self) -> list[Path]:
        """Every module zip of the project's download folder."""
        return sorted(self.download_dir.glob("**/@v/*.zip"))


def project(name: str) -> Project:
    """The real project ``name`` (see :data:`PROJECTS`); fails when it was not fetched."""
    source = REPO_ROOT / "tests" / "projects" / name
    download = _PROJECTS_CACHE / name / "pkg" / "mod" / "cache" / "download"
    if not (source / "go.mod").is_file():
        pytest.fail(f"tests/projects/{name}/go.mod is missing", pytrace=False)
    stamp = _PROJECTS_CACHE / name / "complete.stamp"
    if not download.is_dir() or not stamp.is_file():
        pytest.fail(f"the project {name} is missing at .cache/corpus/projects: " + _FETCH_HINT)
    return Project(name, source, download)
