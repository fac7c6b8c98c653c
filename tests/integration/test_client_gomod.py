"""``gomodproxy download`` against ``go mod download`` on go.mod files written here (issue 11).

Each go.mod requires real corpus modules, served from the corpus's ``cache/download`` folder as a
``file://`` GOPROXY; each case is run by the go command and by us in separate scratch GOPATHs,
with and without arguments, and the ``-json`` objects, exit codes, stderr, go.sum and module
caches compared. Versions the corpus lacks fail in both runs with the same ``Error`` text
(``reading file:///...: no such file or directory``, ``module PATH: no matching versions``).
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import pytest

from tests.corpus_data import corpus_download_dir
from tests.integration.clientkit import Home, cache_listing, normalized_json
from tests.integration.fileproxy import FileProxy
from tests.origin import Origin

pytestmark = [pytest.mark.gocmd, pytest.mark.corpus]

_REPLACE = """module example.com/replacer

go 1.21

require (
	github.com/kr/text v0.2.0
	rsc.io/quote/v3 v3.1.0
	rsc.io/sampler v1.3.0 // indirect
)

replace rsc.io/sampler v1.3.0 => rsc.io/sampler v1.99.99

replace github.com/kr/text => ./localtext
"""

_EXCLUDE = """module example.com/excluder

go 1.21

require rsc.io/quote/v3 v3.1.0

exclude rsc.io/sampler v1.3.0
"""

_UNPRUNED = """module example.com/old

go 1.16

require (
	github.com/google/uuid v1.6.0
	rsc.io/quote/v3 v3.1.0
)
"""

_PRUNED_SAME = _UNPRUNED.replace("go 1.16", "go 1.21")


async def _both(tmp_path: Path, go_mod: str, *args: str) -> tuple[Home, Home, list[object]]:
    """Run the go command and us on ``go_mod`` with ``args``; assert the same outcome."""
    url = corpus_download_dir().resolve().as_uri()
    theirs = Home(tmp_path / "go", url).setup(go_mod)
    ours = Home(tmp_path / "ours", url).setup(go_mod)
    for home in (theirs, ours):
        local = home.work / "localtext"
        local.mkdir()
        (local / "go.mod").write_text("module github.com/kr/text\n\ngo 1.21\n")
    flags = () if "-json" in args or args[:1] == ("--plain",) else ("-json",)
    args = tuple(a for a in args if a != "--plain")
    go_run = await asyncio.to_thread(theirs.go, "mod", "download", *flags, *args)
    our_run = await asyncio.to_thread(ours.ours, *flags, *args)
    assert our_run.returncode == go_run.returncode, (our_run.stderr, go_run.stderr)
    assert our_run.stderr.replace("gomodproxy: ", "go: ") == go_run.stderr
    ours_json = normalized_json(our_run.stdout, ours.root)
    assert ours_json == normalized_json(go_run.stdout, theirs.root)
    assert ours.go_sum() == theirs.go_sum()
    ours_cache = await asyncio.to_thread(cache_listing, ours.modcache)
    assert ours_cache == await asyncio.to_thread(cache_listing, theirs.modcache)
    return theirs, ours, list(ours_json)


@pytest.mark.asyncio
@pytest.mark.parametrize("args", [(), ("all",)], ids=["no-args", "all"])
async def test_replace_by_a_module_is_fetched_and_by_a_folder_skipped(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    _, ours, objects = await _both(tmp_path, _REPLACE, *args)
    paths = [(o["Path"], o["Version"]) for o in objects if isinstance(o, dict)]
    assert ("rsc.io/sampler", "v1.99.99") in paths
    assert all(p != "github.com/kr/text" for p, _ in paths)
    assert (ours.modcache / "rsc.io" / "sampler@v1.99.99" / "go.mod").is_file()


@pytest.mark.asyncio
async def test_exclude_drops_the_excluded_requirement_from_the_graph(tmp_path: Path) -> None:
    _, _, objects = await _both(tmp_path, _EXCLUDE, "all")
    assert [o["Path"] for o in objects if isinstance(o, dict)] == ["rsc.io/quote/v3"]


@pytest.mark.asyncio
async def test_go_1_16_without_arguments_downloads_the_whole_unpruned_build_list(
    tmp_path: Path,
) -> None:
    _, ours, objects = await _both(tmp_path, _UNPRUNED)
    paths = {o["Path"] for o in objects if isinstance(o, dict)}
    assert {"rsc.io/sampler", "golang.org/x/text"} <= paths
    # Without arguments the go command records only the go.mod sums of the graph.
    assert " h1:" not in ours.go_sum().replace("/go.mod h1:", "")


@pytest.mark.asyncio
async def test_go_1_17_and_later_without_arguments_downloads_only_the_requirements(
    tmp_path: Path,
) -> None:
    _, _, objects = await _both(tmp_path, _PRUNED_SAME)
    assert sorted(str(o["Path"]) for o in objects if isinstance(o, dict)) == [
        "github.com/google/uuid",
        "rsc.io/quote/v3",
    ]


@pytest.mark.asyncio
async def test_explicit_queries_and_unknown_modules(tmp_path: Path) -> None:
    await _both(
        tmp_path,
        _PRUNED_SAME,
        "rsc.io/sampler@v1.99.99",
        "github.com/google/uuid",
        "github.com/google/uuid@latest",
        "github.com/google/uuid@patch",
        "rsc.io/sampler@upgrade",
        "rsc.io/sampler@patch",
        "nosuch.example/x",
    )


@pytest.mark.asyncio
async def test_the_go_command_builds_offline_from_what_we_downloaded(tmp_path: Path) -> None:
    url = corpus_download_dir().resolve().as_uri()
    home = Home(tmp_path / "ours", url).setup(
        "module example.com/app\n\ngo 1.21\n\nrequire github.com/google/uuid v1.6.0\n"
    )
    run = await asyncio.to_thread(home.ours, "all")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    (home.work / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"github.com/google/uuid"\n)\n\n'
        'func main() { fmt.Println(uuid.NewSHA1(uuid.NameSpaceURL, []byte("x"))) }\n'
    )
    offline = {"GOPROXY": "off", "GOFLAGS": "-mod=readonly"}
    build = await asyncio.to_thread(home.go, "build", "-o", "app", ".", **offline)
    assert build.returncode == 0, build.stderr
    assert (home.work / "app").is_file()
    listed = await asyncio.to_thread(home.go, "mod", "download", "all", **offline)
    assert listed.returncode == 0, listed.stderr
    verify = await asyncio.to_thread(home.go, "mod", "verify", **offline)
    assert verify.returncode == 0, verify.stderr
    assert "all modules verified" in verify.stdout


_WORK = "go 1.21\n\nuse (\n\t./a\n\t./b\n)\n"
_WORK_A = "module example.com/wa\n\ngo 1.21\n\nrequire rsc.io/quote/v3 v3.1.0\n"
_WORK_B = (
    "module example.com/wb\n\ngo 1.21\n\nrequire (\n\tgithub.com/google/uuid v1.6.0\n"
    "\trsc.io/sampler v1.99.99\n)\n"
)


@pytest.mark.asyncio
@pytest.mark.parametrize("args", [(), ("github.com/google/uuid", "rsc.io/sampler")])
async def test_a_workspace_downloads_what_the_go_command_does(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    url = corpus_download_dir().resolve().as_uri()
    homes = [Home(tmp_path / "go", url), Home(tmp_path / "ours", url)]
    for home in homes:
        for rel, text in (("go.work", _WORK), ("a/go.mod", _WORK_A), ("b/go.mod", _WORK_B)):
            (home.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (home.work / rel).write_text(text)
    theirs, ours = homes
    go_run = await asyncio.to_thread(theirs.go, "mod", "download", "-json", *args, GOWORK="")
    our_run = await asyncio.to_thread(ours.ours, "-json", *args, GOWORK="")
    assert our_run.returncode == go_run.returncode, (our_run.stderr, go_run.stderr)
    ours_json = normalized_json(our_run.stdout, ours.root)
    assert ours_json == normalized_json(go_run.stdout, theirs.root)
    assert {o["Path"] for o in ours_json} >= {"github.com/google/uuid", "rsc.io/sampler"}
    assert (ours.work / "go.work.sum").read_text() == (theirs.work / "go.work.sum").read_text()
    assert not (ours.work / "a" / "go.sum").exists()
    ours_cache = await asyncio.to_thread(cache_listing, ours.modcache)
    assert ours_cache == await asyncio.to_thread(cache_listing, theirs.modcache)


@pytest.mark.asyncio
async def test_retracted_and_deprecated_versions_as_the_go_command_treats_them(
    tmp_path: Path,
) -> None:
    """``latest`` skips what the newest go.mod retracts; a retracted version asked for by name
    is downloaded; ``go mod download`` prints no retraction or deprecation warning."""
    proxy = FileProxy(tmp_path / "proxy")
    mods = {
        "v1.0.0": "module example.com/r\n\ngo 1.21\n",
        "v1.1.0": "module example.com/r\n\ngo 1.21\n",
        "v1.2.0": (
            "// Deprecated: use example.com/s.\nmodule example.com/r\n\ngo 1.21\n\n"
            "retract (\n\tv1.2.0 // published by mistake\n\tv1.0.0 // broken\n)\n"
        ),
    }
    for version, mod in mods.items():
        zip_file = tmp_path / f"{version}.zip"
        with zipfile.ZipFile(zip_file, "w") as z:
            z.writestr(f"example.com/r@{version}/go.mod", mod)
            z.writestr(f"example.com/r@{version}/r.go", "package r\n")
        proxy.publish("example.com/r", version, mod=mod.encode(), zip_file=zip_file)
    # A branch name, answered by the proxy's .info as a proxy resolves one.
    info = '{"Version":"v1.1.0","Time":"2024-01-02T03:04:05Z"}'
    (proxy.version_dir("example.com/r") / "master.info").write_text(info)
    go_mod = "module example.com/m\n\ngo 1.21\n\nrequire example.com/r v1.0.0\n"
    results = []
    for name in ("go", "ours"):
        home = Home(tmp_path / name, proxy.url).setup(go_mod)
        args = (
            "-json",
            "example.com/r@latest",
            "example.com/r@v1.0.0",
            "example.com/r@v1",
            "example.com/r@master",
        )
        run = await asyncio.to_thread(
            home.go if name == "go" else home.ours,
            *(("mod", "download", *args) if name == "go" else args),
        )
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
        results.append(normalized_json(run.stdout, home.root))
    assert results[0] == results[1]
    assert [(o["Version"], o.get("Query")) for o in results[1]] == [
        ("v1.1.0", "latest"),
        ("v1.0.0", None),
        ("v1.1.0", "v1"),
        ("v1.1.0", "master"),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("json_flag", [("--plain",), ("-json",)], ids=["plain", "json"])
async def test_go_sum_after_a_failed_module_as_the_go_command(
    tmp_path: Path, json_flag: tuple[str, ...]
) -> None:
    """With -json the go command records the sums of what succeeded; without, it stops
    before touching go.sum."""
    _, ours, _ = await _both(tmp_path, _PRUNED_SAME, *json_flag, "all")
    assert ("rsc.io/quote/v3 v3.1.0 h1:" in ours.go_sum()) == (json_flag == ("-json",))


@pytest.mark.asyncio
async def test_outside_a_module_explicit_versions_and_the_errors_without_one(
    tmp_path: Path,
) -> None:
    url = corpus_download_dir().resolve().as_uri()
    outputs = []
    for name in ("go", "ours"):
        home = Home(tmp_path / name, url)
        home.work.mkdir(parents=True)
        args = ("-json", "github.com/google/uuid@v1.6.0", "rsc.io/sampler@latest")
        run = await asyncio.to_thread(
            home.go if name == "go" else home.ours,
            *(("mod", "download", *args) if name == "go" else args),
        )
        assert run.returncode == 0, run.stderr
        assert not (home.work / "go.sum").exists()
        bad = await asyncio.to_thread(
            home.go if name == "go" else home.ours,
            *(("mod", "download", "all") if name == "go" else ("all",)),
        )
        assert bad.returncode == 1
        outputs.append((normalized_json(run.stdout, home.root), bad.stderr.split(": ", 1)[1]))
    assert outputs[0] == outputs[1]


@pytest.mark.asyncio
async def test_modcacherw_leaves_the_folders_writable_as_the_go_command_does(
    tmp_path: Path,
) -> None:
    url = corpus_download_dir().resolve().as_uri()
    flags = "-mod=mod -modcacherw"
    listings = []
    for name in ("go", "ours"):
        home = Home(tmp_path / name, url).setup(_PRUNED_SAME)
        if name == "go":
            run = await asyncio.to_thread(home.go, "mod", "download", GOFLAGS=flags)
        else:
            run = await asyncio.to_thread(home.ours, GOFLAGS=flags)
        assert run.returncode == 0, run.stderr
        listings.append(await asyncio.to_thread(cache_listing, home.modcache))
    assert listings[0] == listings[1]
    assert any(e.startswith("0o755 github.com/google/uuid@v1.6.0") for e in listings[1])


@pytest.mark.asyncio
async def test_upstream_404s_are_worded_as_the_go_command_words_them(tmp_path: Path) -> None:
    """An HTTP proxy answering 404 (a version, a version list, a branch), as the go command
    words it: ``reading URL: 404 Not Found`` and the server's response below, ``module PATH:``
    for a failed list, ``invalid version:`` for a revision; -json and stderr alike."""
    origin = Origin(corpus_download_dir())
    await origin.start()
    try:
        args = (
            "nosuch.example/x@v1.0.0",
            "nosuch.example/y@latest",
            "nosuch.example/z@master",
            "github.com/google/uuid@v9.9.9",
            "github.com/google/uuid@v1.6.0",
        )
        runs = []
        for name in ("go", "ours"):
            home = Home(tmp_path / name, origin.url)
            home.work.mkdir(parents=True)
            if name == "go":
                json_run = await asyncio.to_thread(home.go, "mod", "download", "-json", *args)
                plain = await asyncio.to_thread(home.go, "mod", "download", *args)
            else:
                json_run = await asyncio.to_thread(home.ours, "-json", *args)
                plain = await asyncio.to_thread(home.ours, *args)
            assert (json_run.returncode, plain.returncode) == (1, 1)
            stderr = plain.stderr.replace("gomodproxy: ", "go: ")
            runs.append((normalized_json(json_run.stdout, home.root), stderr))
    finally:
        await origin.stop()
    assert runs[0] == runs[1]
    errors = [str(o.get("Error", "")) for o in runs[1][0]]
    assert f"reading {origin.url}/nosuch.example/x/@v/v1.0.0.info: 404 Not Found\n" in errors[0]
    assert errors[1].startswith("module nosuch.example/y: reading ")
    assert "nosuch.example/z@master: invalid version: reading " in errors[2]
    assert errors[4] == ""
