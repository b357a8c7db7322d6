"""Stores of a built corpus: the :class:`Store` interface and its backends."""

from .base import BACKENDS, Embedder, Store, StoreBackend

__all__ = ["BACKENDS", "Embedder", "Store", "StoreBackend"]
