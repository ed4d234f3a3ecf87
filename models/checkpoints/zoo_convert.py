"""Recognising the PyTorch-VAE zoo's state dicts (VanillaVAE / BetaVAE, ConditionalVAE) and deriving
their sizes from the tensor shapes, never from the zoo's defaults; and reading condition names.

Nothing here reads a pickle or builds a network: `zoo_arch` names the layout, `zoo_config_values` returns
the VAEConfig fields, and convert.py builds the model and checks every remaining name and shape.
"""
from __future__ import annotations

import math
from pathlib import Path

from latent_atlas.models.config import MAX_COND, MAX_ZOO_BLOCKS
from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.safe_files import regular_file_size

ZOO_ARCHS = {"zoo-vae": "VanillaVAE", "zoo-cvae": "ConditionalVAE"}
# present in every zoo VanillaVAE / ConditionalVAE, whatever its hidden_dims
ZOO_CORE = ("encoder.0.0.weight", "fc_mu.weight", "fc_var.weight", "decoder_input.weight", "final_layer.3.weight")
NAMES_MAX_BYTES = 256 * 1024     # enough for MAX_COND names; CelebA's 26 MB table is read to line two only


def zoo_arch(sd: dict) -> str | None:
    """'zoo-cvae', 'zoo-vae', or None when the state dict is neither."""
    if not all(k in sd for k in ZOO_CORE):
        return None
    return "zoo-cvae" if "embed_class.weight" in sd else "zoo-vae"


def zoo_config_values(src: Path, sd: dict, arch: str, image_size: int | None = None) -> dict:
    """VAEConfig fields of the zoo network in `sd`: hidden_dims, latent, condition and image size."""
    name = ZOO_ARCHS[arch]
    conditional = arch == "zoo-cvae"

    def shape(key: str, dims: int) -> tuple[int, ...]:
        t = sd.get(key)
        if t is None:
            raise CheckpointError(f"{src}: not the PyTorch-VAE zoo's {name}: it has no {key}")
        if t.dim() != dims:
            raise CheckpointError(f"{src}: {key} has shape {list(t.shape)}, not that of a {name} layer")
        return tuple(int(n) for n in t.shape)

    if conditional != ("embed_class.weight" in sd):
        other = "zoo-vae" if conditional else "zoo-cvae"
        raise CheckpointError(f"{src}: holds a {ZOO_ARCHS[other]}, not a {name}; use --arch {other}")
    in_ch = shape("encoder.0.0.weight", 4)[1]
    blocks = 0
    while f"encoder.{blocks}.0.weight" in sd and blocks <= MAX_ZOO_BLOCKS:
        blocks += 1
    if blocks > MAX_ZOO_BLOCKS:
        raise CheckpointError(f"{src}: its encoder has more than {MAX_ZOO_BLOCKS} blocks")
    dims = [shape(f"encoder.{i}.0.weight", 4)[0] for i in range(blocks)]
    if min(dims) < 1:
        raise CheckpointError(f"{src}: an encoder block has no channels ({dims})")
    latent, feat = shape("fc_mu.weight", 2)
    out_ch = shape("final_layer.3.weight", 4)[0]
    s = math.isqrt(feat // dims[-1])
    if dims[-1] * s * s != feat or s == 0:
        raise CheckpointError(f"{src}: fc_mu takes {feat} inputs, which is not the last block's "
                              f"{dims[-1]} channels times s x s for any s")
    side = s * 2 ** blocks                       # each encoder block halves the side; the decoder doubles it
    channels = in_ch - 1 if conditional else in_ch   # the CVAE's encoder also reads the condition channel
    if channels != out_ch:
        raise CheckpointError(f"{src}: its encoder reads {channels}-channel images but final_layer makes "
                              f"{out_ch}-channel ones")
    if image_size is not None and image_size != side:
        raise CheckpointError(f"{src}: this {name} takes {side} x {side} images, not {image_size} x {image_size}")
    cond = 0
    if conditional:
        area, cond = shape("embed_class.weight", 2)
        if area != side * side:
            raise CheckpointError(f"{src}: embed_class makes {area} values, not one {side} x {side} channel "
                                  f"(the size fc_mu implies)")
    dec_in = shape("decoder_input.weight", 2)[1]
    if dec_in != latent + cond:
        wanted = f"z ({latent})" + (f" plus the condition ({cond})" if conditional else "")
        raise CheckpointError(f"{src}: decoder_input takes {dec_in} inputs, not {wanted}")
    values = {"arch": "zoo", "hidden_dims": tuple(dims), "latent_dim": latent, "image_shape": (channels, side, side),
              "likelihood": "gaussian", "beta": 1.0}   # the zoo's loss is MSE + kld_weight * KL
    if conditional:
        values.update(cond_dim=cond, condition_kind="attributes")   # its CVAE is trained on CelebA's 40
    return values


def read_condition_names(path, count: int | None = None) -> list[str]:
    """`count` names (None: as many as the file holds) from a text file: CelebA's list_attr_celeba.txt (a
    count, then a line of names), one space-separated line, or one name per line. Also --module's."""
    path = Path(path)
    regular_file_size(path, CheckpointError, "condition names file")   # a FIFO would block the open
    try:
        with open(path, "rb") as f:
            data = f.read(NAMES_MAX_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the condition names ({e.strerror or e})") from None
    try:
        text = data[:NAMES_MAX_BYTES].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: the condition names are not UTF-8 text") from None
    lines = [line.strip() for line in text.splitlines()]
    if len(data) > NAMES_MAX_BYTES:
        lines = lines[:-1]                       # the last line read may be cut in the middle
    lines = [line for line in lines if line]
    if len(lines) == 1:
        names = lines[0].split()
    elif len(lines) >= 2 and lines[0].isdigit() and len(lines[1].split()) > 1:
        names = lines[1].split()                 # CelebA: the number of images, then the attribute names
    elif len(data) > NAMES_MAX_BYTES:
        raise CheckpointError(f"{path}: over {NAMES_MAX_BYTES // 1024} KB of names (at most {MAX_COND})")
    else:
        names = lines
    if not names:
        raise CheckpointError(f"{path}: no condition names in it")
    if count is not None and len(names) != count:
        raise CheckpointError(f"{path}: {len(names)} condition names, but the model has {count} conditions")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise CheckpointError(f"{path}: the condition name {dup[:40]!r} appears twice")
    if any(len(n) > 200 for n in names):
        raise CheckpointError(f"{path}: a condition name is over 200 characters long")
    return names
