"""Diagnostics that build models and take gradients (gradient flow, memory-path Jacobian).

They sit below ``report/``, which draws and reads what they write, and below ``run/study.py``,
which computes them after the searches."""
