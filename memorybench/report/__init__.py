"""Reports: leaderboards, findings, plots, the HTML page and the gradient-flow diagnostic.

They read run artifacts only and never train; nothing here imports TensorFlow except
``gradflow``, which builds models to take their gradients.
"""
