"""Latent Atlas models layer: PyTorch and numpy only (never Qt)."""
