"""``make bench``: deterministic synthetic metric files and side-by-side measurements of the pipeline at scale.

Run ``python -m bench.run`` (``--quick`` for a 1M-row smoke run). See :mod:`bench.run` for what is measured and
how; results land in ``bench/results/`` and generated files in ``bench/data/`` (both gitignored).
"""
