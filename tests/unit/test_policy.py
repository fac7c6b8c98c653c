"""The ``--rules`` file: parsing with the line of each problem, first-match rules, version
constraints and routes (pure)."""

from __future__ import annotations

import tomllib

import pytest

from gomodproxy.module.policy import Policy, PolicyHolder, RulesError, parse_policy

GOOD = """
[[rule]]
match = "git.corp.example/legacy"
action = "deny"
reason = "use git.corp.example/platform"

[[rule]]
match = "git.corp.example"
action = "direct"

[[rule]]
match = "example.com/lib,example.com/other"
action = "upstream"
deny-versions = ["v1.3.0", ">=v2.0.0"]

[[rule]]
match = "example.com/pinned"
allow-versions = ["v1.2.0", "<=v1.0.0"]
"""


def _parse(text: str) -> Policy:
    return parse_policy(tomllib.loads(text), text, "rules.toml")


def test_rules_first_match_routes_and_versions() -> None:
    p = _parse(GOOD)
    legacy = p.rule_for("git.corp.example/legacy/tool")
    assert legacy is not None
    assert legacy.action == "deny"
    direct = p.route("git.corp.example/platform/x")
    assert direct is not None
    assert direct.kind == "direct"
    upstream = p.route("example.com/other")
    assert upstream is not None
    assert upstream.kind == "upstream"
    assert upstream.proxies is None
    assert p.route("example.com/unruled") is None
    lib = p.rule_for("example.com/lib")
    assert lib is not None
    assert lib.version_refused("v1.3.0")
    assert lib.version_refused("v2.1.0")
    assert not lib.version_refused("v1.2.9")
    pinned = p.rule_for("example.com/pinned")
    assert pinned is not None
    assert not pinned.version_refused("v1.2.0")
    assert not pinned.version_refused("v0.9.0")
    assert pinned.version_refused("v1.1.0")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            '[[rule]]\nmatch = "a.example"\n\n[[rule]]\nmatch = "b.example"\nactoin = "deny"\n',
            4,
            "unknown key",
        ),
        ('[[rule]]\naction = "deny"\n', 1, "'match' is required"),
        ('[[rule]]\nmatch = "a.example"\naction = "block"\n', 1, "'action' must be one of"),
        ('\n[[rule]]\nmatch = "a.example"\ndeny-versions = ["1.0"]\n', 2, "is not a version"),
        ('[[rule]]\nmatch = "a.example"\nallow-versions = "v1.0.0"\n', 1, "must be a list"),
    ],
)
def test_bad_rules_name_their_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(RulesError, match=problem) as caught:
        _parse(text)
    assert caught.value.line == line
    assert f"rules.toml:{line}:" in str(caught.value)


def test_unknown_top_level_key_is_refused() -> None:
    with pytest.raises(RulesError, match="only \\[\\[rule\\]\\]"):
        _parse('[rules]\nmatch = "x"\n')


def test_holder_swaps_whole_policies() -> None:
    holder = PolicyHolder()
    assert holder.current.rule_for("a.example/x") is None
    holder.swap(_parse(GOOD))
    route = holder.current.route("git.corp.example/x")
    assert route is not None
    assert route.kind == "direct"


def test_a_rule_with_its_own_upstream_list() -> None:
    p = _parse(
        '[[rule]]\nmatch = "example.com/vendorx"\nupstream = "https://mirror.example|direct"\n'
    )
    route = p.route("example.com/vendorx/sub")
    assert route is not None
    assert route.kind == ""
    assert route.proxies is not None
    assert route.proxies.proxy_urls == ("https://mirror.example",)
    for bad, problem in (
        ('upstream = "ftp://x"', "'upstream'"),
        ('action = "direct"\nupstream = "https://m.example"', "cannot go with"),
        ('action = "upstream"\nupstream = "direct"', "needs a proxy URL"),
    ):
        with pytest.raises(RulesError, match=problem):
            _parse(f'[[rule]]\nmatch = "a.example"\n{bad}\n')
