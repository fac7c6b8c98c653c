"""The nginx configuration of the optional static front (``gomodproxy front nginx``); pure text.

A module version's ``.info``, ``.mod`` and ``.zip`` are written into a filesystem cache only
after they were verified, under their final name in one ``rename``, and never change: nginx may
send them straight from the cache folder, and pass everything else to gomodproxy. The file
rendered here does exactly that, and nothing more:

- the decision is taken on the *raw* request line (``$request_uri``, before nginx decodes or
  normalizes anything) by one ``map``: a GET or HEAD of
  ``<prefix>/<escaped module path>/@v/<escaped canonical version>.(info|mod|zip)`` with no query,
  whose characters are only those of the go command's case-encoding (lower-case letters,
  digits, ``-._~`` and ``!`` before a lower-case letter, the ``!`` also as the ``%21`` the go
  command sends), no element empty or starting with a dot (so no ``.``/``..``, no ``//``, no
  other ``%`` escape, no ``.gomodproxy/`` internal file), is looked up in the folder
  (``try_files`` of the decoded path, which then equals the raw one but for ``%21``); a miss,
  and every other request, goes to gomodproxy with the request line as sent (lists,
  ``@latest``, queries, the checksum-database relay, non-canonical versions, malformed paths,
  which gomodproxy refuses with its own answers);
- module path patterns that gomodproxy guards or refuses are listed before that rule and always
  go to gomodproxy: ``--client-auth`` patterns (credentials are checked there), the private
  patterns (GOPRIVATE, GONOPROXY, GONOSUMDB, ``--vcs-rewrite`` prefixes), ``--rules`` entries that
  deny a module or some of its versions, and the deny entries ``cache rm`` left in the store. A
  glob is turned into a regular expression of the *escaped* path that matches at least what the
  glob matches (an element holding a wildcard matches any element), so a pattern can only send
  more to gomodproxy, never less;
- answers carry the ``Content-Type`` and ``Cache-Control`` gomodproxy sends for the same files;
  ``merge_slashes off``, symbolic links refused below the folder; open files are kept
  (``open_file_cache``, which also keeps the symbolic-link checks: without it a hit costs about
  three times nginx's bare CPU) and their names checked again every ``open_file_seconds``
  (2 s, as gomodproxy's own deny refresh), so a file deleted by ``cache rm`` stops being sent
  within that time; 0 leaves the cache out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gomodproxy.module.paths import escape_path, escape_version
from gomodproxy.module.policy import Rule
from gomodproxy.protocol.access import METRICS

__all__ = [
    "FILE_URI_REGEX",
    "FrontSpec",
    "Passed",
    "front_passes",
    "glob_regex",
    "literal_regex",
    "render_nginx_front",
]

# The go command's case-encoding writes an upper-case letter as "!" and the lower-case letter
# (nothing else may follow "!"); in a URL the go command percent-encodes that "!" as "%21", the
# one escape a file request may hold.
_BANG = "(?:!|%21)"
# One character of an escaped path or version element.
_CHAR = rf"(?:[a-z0-9._~-]|{_BANG}[a-z])"
# The first character of an element: never a dot (no ".", "..", ".gomodproxy", hidden files).
_FIRST = rf"(?:[a-z0-9_~-]|{_BANG}[a-z])"
_ELEMENT = f"{_FIRST}{_CHAR}*"
_MODULE = f"{_ELEMENT}(?:/{_ELEMENT})*"
_NUM = r"(?:0|[1-9][0-9]*)"
_ALNUM = rf"(?:[0-9a-z-]|{_BANG}[a-z])"
# A pre-release identifier: a number without leading zeros, or alphanumerics with a non-digit.
_IDENT = rf"(?:0|[1-9][0-9]*|[0-9]*(?:[a-z-]|{_BANG}[a-z]){_ALNUM}*)"
_VERSION = rf"v{_NUM}\.{_NUM}\.{_NUM}(?:-{_IDENT}(?:\.{_IDENT})*)?(?:\+incompatible)?"
#: The path (after the prefix) of a file the front may serve: escaped module path, ``/@v/``,
#: escaped canonical version, extension.
FILE_URI_REGEX = rf"/{_MODULE}/@v/{_VERSION}\.(?:info|mod|zip)"

_GLOB_META = frozenset("*?[]\\")
_PLAIN = re.compile(r"[A-Za-z0-9._~-]+")
_WILD = "[^/]*"

_CONTENT_TYPES = (
    ("application/json", "info"),
    ("text/plain", "mod"),
    ("application/zip", "zip"),
)
# As gomodproxy answers a file of a canonical version (gomodproxy.server.routes).
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Passed:
    """Requests always passed to gomodproxy: escaped-path ``regex`` (anchored after the prefix,
    ending at an element boundary) and why, for the comment beside it."""

    regex: str
    why: str


@dataclass(frozen=True, slots=True)
class FrontSpec:
    """What the front is rendered from."""

    cache_dir: Path
    #: gomodproxy's address as nginx reaches it, HOST:PORT.
    backend: str
    #: The front's own ``listen`` parameter.
    listen: str
    path_prefix: str = ""
    passed: tuple[Passed, ...] = ()
    #: Seconds nginx may keep using an open file before it checks the name again (its
    #: ``open_file_cache_valid``); 0: no ``open_file_cache``, every hit opens the file.
    open_file_seconds: int = 2
    #: The command that regenerates the file, for its header.
    command: str = "gomodproxy front nginx"


def _element_regex(element: str) -> str:
    if _GLOB_META & set(element) or not _PLAIN.fullmatch(element):
        return _WILD
    out = []
    for c in element:
        if "A" <= c <= "Z":
            out.append(_BANG + c.lower())
        elif c == ".":
            out.append(r"\.")
        else:
            out.append(c)
    return "".join(out)


def glob_regex(glob: str) -> str | None:
    """The escaped-path regex (``/e1/e2/``, to anchor after the prefix) matching every module
    path the GOPRIVATE-syntax ``glob`` matches (x/mod's ``MatchPrefixPatterns``: by element,
    as a prefix), or None for an empty glob. A malformed glob never matches in Go; here it
    matches as a wildcard would, which only sends more requests to gomodproxy."""
    glob = glob.strip().removesuffix("/")
    if not glob:
        return None
    return "".join("/" + _element_regex(e) for e in glob.split("/")) + "/"


def literal_regex(escaped: str) -> str:
    """The regex of an already escaped path or path-and-file prefix, taken literally (a "!"
    also as the "%21" the go command sends)."""
    quoted = re.sub(r"([^A-Za-z0-9_~/!@-])", r"\\\1", escaped)
    return quoted.replace("!", _BANG)


def _quote(text: str) -> str:
    if '"' in text or "\\\n" in text or "\n" in text:
        raise ValueError(f"cannot quote {text!r} for nginx")
    return f'"{text}"'


def _open_file_cache(seconds: int) -> list[str]:
    if seconds <= 0:
        return [
            "    # No open_file_cache: a file deleted by 'cache rm' or eviction, or quarantined by",
            "    # a scrub, stops being sent at once (each hit opens its file).",
        ]
    return [
        "    # Open files are kept (and the symbolic-link checks with them), and their names",
        f"    # checked again after {seconds} s: a file deleted by 'cache rm' or eviction, or",
        f"    # quarantined by a scrub, stops being sent within {seconds} s (gomodproxy's own",
        "    # processes drop a denied version within 2 s). Misses are never remembered.",
        "    open_file_cache max=10000 inactive=60s;",
        f"    open_file_cache_valid {seconds}s;",
        "    open_file_cache_min_uses 1;",
        "    open_file_cache_errors off;",
    ]


def render_nginx_front(spec: FrontSpec) -> str:
    """The configuration file (for nginx's ``http`` block, e.g. ``conf.d/``)."""
    prefix = literal_regex(spec.path_prefix)
    root = str(spec.cache_dir)
    if any(c in root for c in "\"';{}$\\\n") or " " in root:
        raise ValueError(
            f"the cache folder {root!r} holds a character nginx would read as syntax; "
            "use a folder path without quotes, braces, '$', ';', backslashes or spaces"
        )
    lines = [
        "# The static front of gomodproxy: nginx sends verified, immutable module files",
        "# (.info, .mod, .zip of canonical versions) straight from the cache folder and passes",
        "# everything else, and every miss, to gomodproxy (docs/guides/operations.md).",
        "#",
        "# Generated by:",
        f"#   {spec.command}",
        "# Generate it again and reload nginx whenever the --rules file, --client-auth, the",
        "# private patterns (GOPRIVATE, GONOPROXY, GONOSUMDB) or --path-prefix change: files of a",
        "# module denied or guarded only after this file was written are still sent by nginx",
        "# until then. ('cache rm' deletes the files it denies, so nginx stops sending them",
        "# without it; see open_file_cache below.) With --output FILE --reload-command CMD the",
        "# command does both, when needed.",
        "#",
        "# nginx records no access time: do not combine with --cache-max-size/--cache-max-age.",
        "# nginx does not re-hash what it sends: run 'gomodproxy cache verify' periodically.",
        "",
        "upstream gomodproxy_front_backend {",
        f"    server {spec.backend};",
        "    keepalive 32;",
        "}",
        "",
        "# Whether nginx may look the request up in the folder (1) or gomodproxy answers it",
        "# (empty). Decided on the raw request line; the first matching expression wins.",
        'map "$request_method:$request_uri" $gomodproxy_front_static {',
        '    default "";',
    ]
    for passed in spec.passed:
        why = "".join(c if " " <= c <= "~" else "?" for c in passed.why)
        lines.append(f"    # {why}")
        lines.append(f'    {_quote("~^[A-Z]+:" + prefix + passed.regex)} "";')
    lines += [
        "    # A file of a canonical version, in the go command's escaped form.",
        f"    {_quote('~^(?:GET|HEAD):' + prefix + FILE_URI_REGEX + '$')} 1;",
        "}",
        "",
        "# Its file below the folder: the decoded path ($uri equals the raw path but for %21",
        "# read as !, the raw one having no other escape, no dot element and no empty one).",
        "map $uri $gomodproxy_front_file {",
        '    default "";',
        f'    {_quote("~^" + prefix + "(/.+)$")} "$1";',
        "}",
        "",
        "server {",
        f"    listen {spec.listen};",
        "",
        "    # Module paths are escaped (!x for capitals): no merging, no rewriting.",
        "    merge_slashes off;",
        "    client_max_body_size 1m;",
        f"    root {root};",
        "    # Nothing below the cache folder is a symbolic link; never follow one.",
        "    disable_symlinks on from=$document_root;",
        *_open_file_cache(spec.open_file_seconds),
        "",
        "    location / {",
        "        error_page 418 = @gomodproxy;",
        '        if ($gomodproxy_front_static = "") {',
        "            return 418;",
        "        }",
        "        types {",
        *(f"            {ctype} {ext};" for ctype, ext in _CONTENT_TYPES),
        "        }",
        "        charset utf-8;",
        "        charset_types text/plain;",
        f'        add_header Cache-Control "{_IMMUTABLE}";',
        "        try_files $gomodproxy_front_file @gomodproxy;",
        "    }",
        "",
        "    location @gomodproxy {",
        "        # No URI part: gomodproxy receives the request line as the client sent it.",
        "        proxy_pass http://gomodproxy_front_backend;",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $http_host;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        # Zips stream through: nginx neither buffers them to disk nor delays them.",
        "        proxy_buffering off;",
        "        proxy_request_buffering off;",
        "        proxy_connect_timeout 5s;",
        "        # A zip fetched from upstream may take gomodproxy's zip-timeout (600 s default).",
        "        proxy_read_timeout 660s;",
        "        proxy_send_timeout 660s;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def front_passes(
    *,
    client_auth: tuple[str, ...] = (),
    private: tuple[tuple[str, str], ...] = (),
    vcs_prefixes: tuple[str, ...] = (),
    rules: tuple[Rule, ...] = (),
    denied: tuple[tuple[str, str], ...] = (),
) -> tuple[Passed, ...]:
    """What always goes to gomodproxy: ``client_auth`` (comma lists of globs, ``/metrics``
    ignored), ``private`` ((setting name, comma list of globs)), ``vcs_prefixes`` (path
    prefixes), the ``rules`` that deny a module or limit its versions, and ``denied`` deny
    entries ((module path, version or "" for every version))."""
    passes: list[Passed] = []
    seen: set[str] = set()

    def add(regex: str | None, why: str) -> None:
        if regex is not None and regex not in seen:
            seen.add(regex)
            passes.append(Passed(regex, why))

    for patterns in client_auth:
        for glob in patterns.split(","):
            if glob.strip() != METRICS:
                add(glob_regex(glob), f"--client-auth {glob.strip()}: credentials checked there")
    for name, patterns in private:
        for glob in patterns.split(","):
            add(glob_regex(glob), f"{name} {glob.strip()}: a private module")
    for prefix in vcs_prefixes:
        add(glob_regex(prefix), f"--vcs-rewrite {prefix}: a private module")
    for rule in rules:
        if rule.action == "deny" or rule.deny_versions or rule.allow_versions is not None:
            what = "deny" if rule.action == "deny" else "version limits"
            for glob in rule.match.split(","):
                at = f" (line {rule.line})" if rule.line else ""
                add(glob_regex(glob), f"--rules {what}{at}: {glob.strip()}")
    for path, version in sorted(denied):
        base = f"/{escape_path(path)}/@v/"
        if version:
            add(
                literal_regex(f"{base}{escape_version(version)}."),
                f"cache rm {path}@{version}",
            )
        else:
            add(literal_regex(base), f"cache rm {path} (every version)")
    return tuple(passes)
