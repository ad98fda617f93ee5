"""``twinstage bench``: performance rows, each with its target beside its result.

Suites live one per module in this package and are listed in :data:`SUITES`. A suite module
exposes ``run(quick: bool) -> list[Row]``. Benchmarks measure and print; tests only check that
they run (timings are never asserted: these machines are shared and noisy).
"""
