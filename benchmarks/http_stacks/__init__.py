"""HTTP stack benchmark: the proxy's hot paths served by each candidate stack, nginx as ceiling.

Run by hand (not in CI): ``.venv/bin/python -m benchmarks.http_stacks.run``. See
``benchmarks/README.md`` and ``docs/reports/http-stack.md``.
"""
