"""Reports: leaderboards, findings, plots, the HTML page and the diagnostics' figures.

They read run artifacts only and never train; the diagnostics that build models to take their
gradients are computed in ``memorybench.diagnostics`` and only drawn here.
"""
