"""Sequence models that are not recurrent cells (minGRU / minLSTM, LRU, S4D, Mamba, sLSTM /
mLSTM), one family a module; each registers its factory with ``register_model`` on import.

Nothing is imported here: the catalog in ``memorybench.models.builtin`` names each module so
that listing names never imports Keras. Their layers are Keras-serializable as
``memorybench>ClassName``, a name that does not depend on the module, so ``.keras`` files saved
when they lived in ``models/cells/`` still load.
"""
