"""Private modules straight from their git repositories (``direct`` in the upstream list).

Pure parts: :mod:`~gomodproxy.vcs.tags` (tags to versions), :mod:`~gomodproxy.vcs.resolve`
(rewrite rules), :mod:`~gomodproxy.vcs.metatags` (go-import meta tags). The rest runs git:
:mod:`~gomodproxy.vcs.gitcmd` (the one place git starts), :mod:`~gomodproxy.vcs.gitrepo` (a
bare clone), :mod:`~gomodproxy.vcs.coderepo` (a module in a repository, the go command's
rules), :mod:`~gomodproxy.vcs.zipbuild` and :mod:`~gomodproxy.vcs.fetcher` (the fetcher).
"""
