"""The performance suite behind ``memorybench bench`` (``suite.py``), shipped in the package so
an installed wheel runs it; ``generators.py``, ``cells.py`` and ``pipeline.py`` are its parts and
stand-alone measurements (``python -m memorybench.bench.cells --help``)."""
