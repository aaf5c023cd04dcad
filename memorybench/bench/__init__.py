"""The performance suite behind ``memorybench bench`` (``suite.py``: levels, targets, the run
and its report; ``sections.py``: the measurements), shipped in the package so an installed
wheel runs it; ``generators.py``, ``cells.py`` and ``pipeline.py`` are its parts and
stand-alone measurements (``python -m memorybench.bench.cells --help``)."""
