"""The prober's pure parts: percentiles, verdicts and flags, exit status, input parsing."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from gomodproxy.cli.main import main
from gomodproxy.cli.probe import probe_settings, register
from gomodproxy.probe import (
    ProbeInputError,
    Thresholds,
    Verdict,
    decide,
    exit_status,
    parse_mirrors,
    parse_modules,
    percentile,
)
from gomodproxy.probe.fetch import looks_like_html
from gomodproxy.probe.run import ProbeSettings
from gomodproxy.probe.samples import Kind, Outcome, Sample, summarize
from gomodproxy.probe.verdict import Evidence, flags
from tests.gotool import go_binary

GOOD = Evidence(tampered=0, stale=0, availability=1.0, error_rate=0.0, proven=4, p50_total=0.01)


def _with(**changes: Any) -> Evidence:
    return dataclasses.replace(GOOD, **changes)


def test_percentile_is_the_nearest_rank_of_measured_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_verdict_precedence_is_tampered_stale_unreachable_unverified_genuine() -> None:
    assert decide(GOOD) is Verdict.GENUINE
    assert decide(_with(proven=0)) is Verdict.UNVERIFIED
    assert decide(_with(proven=0, availability=0.4)) is Verdict.UNREACHABLE
    assert decide(_with(proven=0, availability=0.4, stale=1)) is Verdict.STALE
    assert decide(_with(proven=0, availability=0.4, stale=1, tampered=1)) is Verdict.TAMPERED


def test_half_available_is_still_reachable() -> None:
    assert decide(_with(availability=0.5)) is Verdict.GENUINE
    assert decide(_with(availability=0.49)) is Verdict.UNREACHABLE


def test_slow_needs_both_the_ratio_to_the_best_and_the_absolute_floor() -> None:
    assert flags(_with(p50_total=0.9), best_p50=0.1) == ["slow"]
    assert flags(_with(p50_total=0.15), best_p50=0.01) == []  # 15x, but under 200 ms
    assert flags(_with(p50_total=0.25), best_p50=0.1) == []  # over 200 ms, but only 2.5x


def test_flaky_is_an_error_rate_over_five_percent_while_available() -> None:
    assert flags(_with(error_rate=0.06, availability=0.94), best_p50=0.01) == ["flaky"]
    assert flags(_with(error_rate=0.05, availability=0.95), best_p50=0.01) == []
    assert flags(_with(error_rate=0.9, availability=0.1), best_p50=0.01) == []


def test_exit_status_is_0_only_when_all_are_genuine() -> None:
    assert exit_status([Verdict.GENUINE, Verdict.GENUINE]) == 0
    assert exit_status([Verdict.GENUINE, Verdict.STALE]) == 3
    assert exit_status([Verdict.UNVERIFIED]) == 3
    assert exit_status([Verdict.UNREACHABLE, Verdict.TAMPERED]) == 1


def test_thresholds_are_the_documented_ones() -> None:
    t = Thresholds()
    assert (t.unreachable_below, t.flaky_error_rate, t.slow_ratio, t.slow_min_seconds) == (
        0.5,
        0.05,
        3.0,
        0.2,
    )
    assert t.backoff_after == 5


def test_summaries_time_only_answers_and_count_not_found_as_available() -> None:
    def sample(outcome: Outcome, total: float, warm: bool = False) -> Sample:
        return Sample("m", Kind.ZIP, "x@v1.0.0", warm, outcome, total / 2, total, 1000)

    s = summarize(
        [
            sample(Outcome.OK, 0.1),
            sample(Outcome.OK, 0.3, warm=True),
            sample(Outcome.NOT_FOUND, 9.0),
            sample(Outcome.TIMEOUT, 9.0),
            sample(Outcome.HTML, 9.0),
        ]
    )
    assert (s.sent, s.ok, s.not_found, s.errors, s.timeouts) == (5, 2, 1, 1, 1)
    assert s.availability == pytest.approx(0.6)
    assert s.total[0] == 0.1
    assert (s.cold_total_p50, s.warm_total_p50) == (0.1, 0.3)
    assert s.bytes_per_second == pytest.approx(2000 / 0.4)


def test_modules_file_of_module_at_version_lines() -> None:
    targets = parse_modules(b"# comment\nexample.com/a@v1.0.0\n\nexample.com/b/v2@v2.1.0\n", "m")
    assert [str(m) for m in targets.modules] == ["example.com/a@v1.0.0", "example.com/b/v2@v2.1.0"]
    assert targets.go_sum is None


def test_modules_file_garbage_line_names_its_line_number() -> None:
    with pytest.raises(ProbeInputError, match=r"^mods:3: want module@version"):
        parse_modules(b"example.com/a@v1.0.0\n\nnot a module line\n", "mods")
    with pytest.raises(ProbeInputError, match=r"^mods:2: .*not a canonical version"):
        parse_modules(b"example.com/a@v1.0.0\nexample.com/a@latest\n", "mods")


def test_modules_file_as_go_sum_keeps_its_hashes() -> None:
    data = (
        b"example.com/a v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        b"example.com/a v1.0.0/go.mod h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=\n"
    )
    targets = parse_modules(data, "go.sum")
    assert [str(m) for m in targets.modules] == ["example.com/a@v1.0.0"]
    assert targets.go_sum is not None
    assert targets.go_sum.go_mod_hashes("example.com/a", "v1.0.0")


def test_modules_file_go_sum_with_a_bad_line_names_it() -> None:
    data = b"example.com/a v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ngarbage here\n"
    with pytest.raises(ProbeInputError, match=r"go\.sum:2"):
        parse_modules(data, "go.sum")


def test_modules_file_as_go_mod_takes_its_requirements() -> None:
    data = b"module example.com/me\n\ngo 1.21\n\nrequire (\n\texample.com/a v1.0.0\n)\n"
    targets = parse_modules(data, "go.mod")
    assert [str(m) for m in targets.modules] == ["example.com/a@v1.0.0"]


def test_an_empty_modules_file_is_refused() -> None:
    with pytest.raises(ProbeInputError, match="no module versions"):
        parse_modules(b"\n# nothing\n", "m")


def test_mirrors_from_a_goproxy_list_and_from_a_file() -> None:
    listed = parse_mirrors("http://127.0.0.1:1,http://127.0.0.1:2|http://127.0.0.1:3")
    assert [m.url for m in listed] == [f"http://127.0.0.1:{p}" for p in (1, 2, 3)]
    named = parse_mirrors("", file_text="# mirrors\nours http://127.0.0.1:1\n\n", filename="f")
    assert [(m.name, m.url) for m in named] == [("ours", "http://127.0.0.1:1")]


def test_mirrors_refuse_direct_bad_lines_and_duplicate_names() -> None:
    with pytest.raises(ProbeInputError, match="direct"):
        parse_mirrors("http://127.0.0.1:1,direct")
    with pytest.raises(ProbeInputError, match="f:2"):
        parse_mirrors("", file_text="a http://127.0.0.1:1\nb\n", filename="f")
    with pytest.raises(ProbeInputError, match="name of its own"):
        parse_mirrors("", file_text="a http://127.0.0.1:1\na http://127.0.0.1:2\n", filename="f")


def test_an_html_page_is_recognised_by_its_first_character() -> None:
    assert looks_like_html(b"\n  <!DOCTYPE html><html></html>")
    assert not looks_like_html(b'{"Version":"v1.0.0"}')
    assert not looks_like_html(b"module example.com/a\n")


def test_an_html_page_is_recognised_by_its_declared_media_type() -> None:
    page = b"Please sign in to continue\n"
    assert looks_like_html(page, "text/html")
    assert looks_like_html(page, "application/xhtml+xml")
    assert not looks_like_html(page, "application/octet-stream")
    assert not looks_like_html(page, None)


def test_the_top_level_help_offers_the_probe_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "    probe " in capsys.readouterr().out


def test_sumdb_and_sumdb_via_default_to_the_go_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where GOPROXY and GOSUMDB are set only in the go command's env file (``go env -w``), the
    probe takes them from there, as the go command does: the environment first, then the file."""
    go_binary()

    def settings_of(argv: list[str]) -> ProbeSettings:
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers())
        return probe_settings(parser.parse_args(["probe", *argv]))

    env_file = tmp_path / "go.env"
    env_file.write_text(
        "GOPROXY=http://127.0.0.1:9/relay\nGOSUMDB=sum.golang.org\n", encoding="utf-8"
    )
    modules = tmp_path / "modules.txt"
    modules.write_text("example.com/m@v1.0.0\n", encoding="utf-8")
    for name in ("GOPROXY", "GOSUMDB", "GOFLAGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOENV", str(env_file))
    argv = ["--mirrors", "http://127.0.0.1:9", "--modules", str(modules)]
    settings = settings_of(argv)
    assert settings.sumdb_via == "http://127.0.0.1:9/relay"
    assert settings.sumdb is not None
    assert settings.sumdb.name == "sum.golang.org"
    # The environment wins over the file, and a flag over both.
    monkeypatch.setenv("GOPROXY", "http://127.0.0.1:9/env")
    assert settings_of(argv).sumdb_via == "http://127.0.0.1:9/env"
    flagged = [*argv, "--sumdb-via", "off"]
    assert settings_of(flagged).sumdb_via == "off"
