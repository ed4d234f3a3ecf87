"""Headless subcommands of `latent-atlas` (train, info, sample, convert, evaluate). No Qt here."""
