"""Latent Atlas: a desktop latent-space editor for VAE, beta-VAE, CVAE and GAN models.

One import name: `latent_atlas.models` (PyTorch and numpy), `latent_atlas.editor.core` (Qt-free editor
state), `latent_atlas.editor` (the Qt application) and `latent_atlas.cli` (headless subcommands). Importing
this package imports nothing heavy.
"""
__version__ = "0.1.0"
