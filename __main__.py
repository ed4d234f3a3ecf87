"""`python -m latent_atlas`: the same as the `latent-atlas` command."""
import sys

from latent_atlas.main import main

sys.exit(main())
