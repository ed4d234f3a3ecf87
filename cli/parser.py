"""The argparse tree. Kept free of heavy imports so `latent-atlas --help` is instant."""
from __future__ import annotations

import argparse

FAMILY_CHOICES = ("vae", "betavae", "ae", "cvae", "gan")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latent-atlas", description="Latent-space editor for VAE, beta-VAE, "
                                "CVAE and GAN checkpoints. With no subcommand, opens the editor.")
    p.add_argument("--open", metavar="FILE", help="checkpoint to open in the editor")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window to a PNG once drawn, then exit")
    p.add_argument("--projection", choices=("pca", "tsne", "umap"), default="pca")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    m = p.add_argument_group("your own model (this runs your code, on purpose: nothing else in the program "
                             "ever imports code named by a file it opens)")
    m.add_argument("--module", metavar="FILE.py:FACTORY", help="open the module FACTORY() returns (FILE.py or "
                   "package.module); it needs decode(z) and, for a VAE, encode(x)")
    m.add_argument("--weights", metavar="FILE", help="state dict for --module (torch.save or safetensors; read "
                   "with weights_only=True)")
    m.add_argument("--data", metavar="FOLDER|NAME", help="images for the map: a folder, digits, fashion-mnist, "
                   "mnist or shapes (default: prior samples)")
    m.add_argument("--kind", choices=("vae", "cvae", "gan"), help="what --module is (default: a VAE if it has "
                   "encode(), else a GAN)")
    m.add_argument("--latent-dim", type=int, help="latent size, when the module has no latent_dim attribute")
    m.add_argument("--latent-shape", metavar="C,H,W", help="a spatial latent's shape, e.g. 4,8,8")
    m.add_argument("--image-shape", metavar="C,H,W", help="when the decoder's output does not say, e.g. 3,64,64")
    m.add_argument("--output-range", choices=("unit", "tanh", "logits"), help="what decode returns: unit [0, 1], "
                   "tanh [-1, 1] or logits (default: read from a few decodes)")
    m.add_argument("--likelihood", choices=("bernoulli", "gaussian"), help="p(x|z), for the ELBO and log p(x)")
    m.add_argument("--sigma", type=float, default=1.0, help="the Gaussian likelihood's sigma (pixels in [0, 1])")
    m.add_argument("--condition-names", metavar="FILE", help="a CVAE's condition names: one per line, or "
                   "one line separated by spaces")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model headless (torchrun for several processes)",
                       description="Train a model. With --resume, the model, dataset, batch size, learning rate "
                       "and seed default to the checkpoint's, and --epochs counts from its start. Under "
                       "torchrun every process trains on its shard of each epoch; --batch-size is per process.")
    t.add_argument("--model", choices=FAMILY_CHOICES,
                   help="vae (default); betavae (beta 4); ae (beta 0); cvae (conditioned on labels); gan")
    t.add_argument("--dataset", help="digits (default), shapes, fashion-mnist, mnist, emoji, or a folder")
    t.add_argument("--epochs", type=int, default=10, help="total epochs, counting those of a resumed run")
    t.add_argument("--out", metavar="FILE.safetensors", help="where to save, in a folder that exists (default "
                   "with --resume: that file)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out (the old file is kept as "
                   "NAME.prev.safetensors); without it an existing file is refused unless --resume names it")
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--beta", type=float, help="KL weight (0: autoencoder, 1: VAE, >1: beta-VAE)")
    t.add_argument("--likelihood", choices=("bernoulli", "gaussian"), help="p(x|z) (default bernoulli)")
    t.add_argument("--consistency", type=float, metavar="W",
                   help="CVAE: weight of the condition-consistency term - prior samples must be read back as "
                        "their condition by a classifier trained alongside on the real images (default 0: off; "
                        "the bundled Fashion-MNIST CVAE uses 3; about twice the time per epoch)")
    t.add_argument("--mirror-shift", action=argparse.BooleanOptionalAction, default=None,
                   help="augment: mirror half of each batch left-right and shift every image by up to 1/16 of "
                        "its side, for small sets whose pictures mean the same mirrored (emoji, faces, clothes; "
                        "not digits or text). Default off; with --resume the checkpoint's")
    t.add_argument("--batch-size", type=int, help="images per step and process (default 128)")
    t.add_argument("--lr", type=float, help="learning rate (default 1e-3 VAE family, 2e-4 GAN)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (torchrun: each process "
                   "takes cuda:LOCAL_RANK)")
    t.add_argument("--resume", metavar="FILE", help="continue from a checkpoint written by train")
    t.add_argument("--seed", type=int, help="seed of the weights, data order and noise (default 0)")
    t.add_argument("--image-size", type=int, help="resize images to this side")
    t.add_argument("--channels", type=int, choices=(1, 3))
    t.add_argument("--limit", type=int, help="use only the first N training images")
    t.add_argument("--condition", choices=("labels", "attributes"), help="what a CVAE is conditioned on "
                   "(default labels)")
    t.add_argument("--attributes", metavar="FILE", help="attribute table for an image folder (CelebA or CSV)")
    t.add_argument("--font", metavar="FILE", help="emoji: a colour emoji font to draw with (default Noto Color "
                   "Emoji, apt-get install fonts-noto-color-emoji)")
    t.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between checkpoints (0: each epoch; default: each epoch, or every few epochs when "
                        "an epoch is under 500 steps); the last step is always saved")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("info", help="describe a checkpoint")
    i.add_argument("file")

    s = sub.add_parser("sample", help="write a grid of samples from the prior")
    s.add_argument("file")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", required=True, metavar="GRID.png")
    s.add_argument("--label", help="CVAE: class name or index to condition on")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscaling factor")

    c = sub.add_parser("convert", help="import a PyTorch checkpoint (.pt/.pth/.ckpt) safely",
                       description="Convert a state dict or Lightning .ckpt of the PyTorch-VAE zoo (VanillaVAE, "
                       "BetaVAE, ConditionalVAE) or the PyTorch examples (VAE, DCGAN), read with "
                       "torch.load(weights_only=True) only, into a Latent Atlas checkpoint.")
    c.add_argument("file")
    c.add_argument("--arch", choices=("pytorch-vae", "pytorch-dcgan", "zoo-vae", "zoo-cvae"),
                   help="default: recognised from the tensor names and shapes (zoo-vae: VanillaVAE or BetaVAE; "
                   "zoo-cvae: ConditionalVAE)")
    c.add_argument("--out", required=True, metavar="FILE.safetensors")
    c.add_argument("--discriminator", metavar="NETD.pth", help="DCGAN: the discriminator's state dict too")
    c.add_argument("--condition-names", metavar="FILE", help="ConditionalVAE: names of its conditions (CelebA's "
                   "list_attr_celeba.txt, one line separated by spaces, or one name per line)")
    c.add_argument("--output-range", choices=("unit", "tanh"), default="unit", help="zoo: the images it was "
                   "trained on: unit [0, 1] (its code since December 2021, default) or tanh [-1, 1] (before)")

    r = sub.add_parser("render", help="decode an exported recipe again (image, or strip when it has frames)")
    r.add_argument("recipe", metavar="RECIPE.json")
    r.add_argument("--out", required=True, metavar="IMAGE.png", help="a .png (the image, or the strip of the "
                   "frames), or a .gif of the frames as the GIF export played them")
    r.add_argument("--checkpoint", help="use this checkpoint instead of the one the recipe names")

    e = sub.add_parser("evaluate", help="test ELBO and importance-weighted log-likelihood; --quality: "
                       "sample quality (FD, KID, precision/recall)")
    e.add_argument("file")
    e.add_argument("--dataset", help="default: the dataset the model was trained on")
    e.add_argument("--k", type=int, default=64, help="importance samples")
    e.add_argument("--limit", type=int, default=2000, help="test images to use (0: all)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--quality", action="store_true", help="also sample quality, measured with the bundled "
                   "Fashion-MNIST classifier: FD (with its train-vs-test floor), KID, precision/recall (k=3), "
                   "CVAE conditional accuracy, VAE attribute-arithmetic accuracy")
    e.add_argument("--samples", type=int, default=10000, help="samples and real images for --quality")
    e.add_argument("--reference", action="store_true", help="also train the PyTorch examples' VAE "
                   "(784-400-20) on Fashion-MNIST for --epochs and report it in a second column")
    e.add_argument("--epochs", type=int, help="epochs of the --reference VAE (default: as many as the "
                   "checkpoint's history shows, else 10)")

    d = sub.add_parser("directions", help="compare edit directions for an attribute (mean difference, "
                       "classifier normal, nearest PCA and SeFa direction, a random control) on held-out images",
                       description="Fit each direction on training latents (a GAN: prior samples labelled by the "
                       "reader), walk the held-out latents without the attribute by --step, decode, and report "
                       "how often a reader sees the attribute, how often the other read-outs changed, and how "
                       "many edited latents left the data. Reader: the shipped Fashion-MNIST classifier, or "
                       "logistic regressions fitted on the training images (shapes, digits, folders).")
    d.add_argument("file")
    d.add_argument("--attribute", required=True, metavar="NAME", help="a class or attribute of the data")
    d.add_argument("--methods", default="mean,classifier,pca,sefa,random", help="comma-separated, of mean, "
                   "classifier, pca, sefa, random (default: all)")
    d.add_argument("--step", type=float, help="distance walked along each unit direction (default: the length "
                   "of the mean difference, the lecture's edit)")
    d.add_argument("--limit", type=int, default=1000, help="test images to load (those without the attribute "
                   "are walked; a GAN: prior samples)")
    d.add_argument("--fit", type=int, default=2000, help="training images (a GAN: prior samples) to fit on")
    d.add_argument("--classifier", choices=("logistic", "svm"), default="logistic",
                   help="the linear classifier whose normal is a direction")
    d.add_argument("--dataset", help="default: the dataset the model was trained on")
    d.add_argument("--seed", type=int, default=0)
    return p
