"""Latent Atlas: a desktop latent-space editor for VAE, beta-VAE, CVAE and GAN models.

    import latent_atlas
    latent_atlas.view(net, data=images, labels=labels)    # the editor on your own torch.nn.Module
    model = latent_atlas.load("model.safetensors")       # any checkpoint the editor opens, no window

One import name: `latent_atlas.models` (PyTorch and numpy), `latent_atlas.editor.core` (Qt-free editor
state), `latent_atlas.editor` (the Qt application) and `latent_atlas.cli` (headless subcommands). Importing
this package imports nothing heavy; view() and load() import what they need when called.
"""
__version__ = "0.1.0"
__all__ = ["load", "view", "__version__"]


def view(net, data=None, **options):
    """Open the editor on `net`, any module (or object) with decode(z) and, for a VAE, encode(x); a GAN
    passes its generator with kind="gan". See latent_atlas.editor.python_api.view for every option."""
    from latent_atlas.editor.python_api import view as _view

    return _view(net, data, **options)


def load(path, device: str = "cpu"):
    """The model of a checkpoint the editor opens: decode(z, c=None) -> (B, C, H, W) in [0, 1],
    encode(x, c=None) -> (mean, log-variance), latent_dim, image_shape, kind."""
    from latent_atlas.models.api import load as _load

    return _load(path, device=device)
