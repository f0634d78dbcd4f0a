"""Keras's ``model.fit`` as a Lightning Trainer with the same numbers (issue 20).

Placeholder: the trainer side is written separately. Keras's compiled metrics, computed in
PyTorch as Keras computes them, are in ``zoo.lightning._metrics``.
"""
