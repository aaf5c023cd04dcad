"""Recurrent cells, one per module; each registers itself with ``register_cell`` on import.

Nothing is imported here: the catalog in ``memorybench.models.builtin`` names each cell's module
so that listing names never imports Keras.
"""
