"""A user's own torch.nn.Module behind the one model interface (models/base.py): latents of any shape,
outputs in [0, 1] or [-1, 1], conditional or not, encoder or only a generator."""
