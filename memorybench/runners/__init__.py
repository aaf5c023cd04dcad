"""Runners: one training run (train.py), sweeps (sweep.py), the result store (store.py), reports.

Importing this package imports nothing heavy; ``train`` imports Keras when a run starts.
"""
