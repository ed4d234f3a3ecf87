"""Latent Atlas editor. `editor.core` is Qt-free; the rest of this package is the Qt application."""
