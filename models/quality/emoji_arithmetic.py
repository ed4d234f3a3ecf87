"""The lecture's attribute arithmetic measured on emoji, on families the model never saw.

Tone: for each skin tone k, the vector is the mean latent of the training split's tone-k renders minus the mean
latent of the toneless (yellow) renders of the same bases. It is added to the latent of the toneless render of
each held-out base that has a tone-k variant, and the decode is read by the emoji classifier
(models/quality/emoji_classifier.py): "tone read" is the share read as tone k; "right base" the share whose
classifier features are nearer to the real tone-k render of the same base than to the tone-k render of any other
held-out base. Man -> woman works the same way on the pairs of one family and tone ("man office worker: dark skin
tone" -> "woman office worker: dark skin tone"). Two baselines in the same run: no edit (the reconstruction of the
source) and a random direction of the same length as the vector. Two ceilings: "target recon", the model's own
reconstruction of the real target render (an edit that landed exactly on the target's latent scores this), and
"real target", the reader on the real target renders themselves (its "right base" is 1 by construction; its read
bounds what any decode can score under this reader).

"local edit" is the same arithmetic with a vector per source: the mean difference over the LOCAL_K training
pairs whose source latent is nearest the held-out source's (a hand is darkened by what darkened other hands, not
by the mean over faces, hands and people at work). Attribute vectors are not the same everywhere in a latent
space; how much this gains over the one global vector says how much.

A CVAE carries tone in its condition, not in z, so its edit is the condition's: encode the toneless render with its
own condition, decode with tone k set (the same two shares), and its conditional accuracy: prior samples decoded
with tone k set, read as tone k. A GAN has no encoder: only its samples could be read, which says nothing of
arithmetic, so it is not scored here.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from latent_atlas.models.data.emoji import ATTRIBUTE_NAMES
from latent_atlas.models.data.emoji_catalogue import PERSONS, TONES
from latent_atlas.models.quality.direction_score import decode_all, encode_all
from latent_atlas.models.quality.emoji_classifier import read_emoji

EDIT_TONES = TONES[1:]
METHODS = ("edit", "local edit", "no edit", "random", "condition edit", "target recon", "real target")
LOCAL_K = 5   # leave-one-family-out on the train split: k = 3 and 5 best of 3..40 for both bundled models


def _encode(model, images: np.ndarray, cond: torch.Tensor | None) -> torch.Tensor:
    return torch.from_numpy(encode_all(model, images, None if cond is None else cond.numpy()))


def _decode(model, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    return decode_all(model, z.numpy(), None if cond is None else cond.numpy())


def _conditions(model, data) -> torch.Tensor | None:
    return torch.from_numpy(data.attributes).float() if model.cond_dim else None


def _index(data, key_fields, where) -> dict:
    """{key: first row} over rows where where(row) holds; key from data.columns fields."""
    cols = data.columns
    out = {}
    for i in range(len(data)):
        if where(i):
            out.setdefault(tuple(str(cols[f][i]) for f in key_fields), i)
    return out


def pairs_by(data, key_fields, field: str, source: str, target: str) -> list[tuple[int, int]]:
    """(source row, target row) pairs sharing key_fields, where column `field` is source / target."""
    col = data.columns[field]
    src = _index(data, key_fields, lambda i: col[i] == source)
    dst = _index(data, key_fields, lambda i: col[i] == target)
    return [(src[k], dst[k]) for k in sorted(src) if k in dst]


def tone_pairs(data, tone: str) -> list[tuple[int, int]]:
    return pairs_by(data, ("base",), "tone", "none", tone)


def gender_pairs(data) -> list[tuple[int, int]]:
    return pairs_by(data, ("family", "tone"), "person", "man", "woman")


def _shares(decoded, target_rows, real_feats, reader, want: int, attr: str) -> dict:
    """tone/person read as want, and nearest real target render (by features) being the pair's own."""
    tones, persons, feats = read_emoji(reader, decoded)
    read = (tones if attr == "tone" else persons) == want
    d = ((feats[:, None, :] - real_feats[None, :, :]) ** 2).sum(-1)            # (n, n): decode x real target
    right = d.argmin(1) == np.arange(len(target_rows))
    return {"read": float(read.mean()), "right_base": float(right.mean()), "n": len(target_rows)}


def _edit_report(model, test, train_pairs, test_pairs, reader, want, attr, z_train, z_test, cond_test, g):
    """The vector's edit, the no-edit and the random-direction baselines on test_pairs."""
    if not train_pairs or not test_pairs:
        return {"n": 0}
    s_tr, t_tr = map(list, zip(*train_pairs))
    s_te, t_te = map(list, zip(*test_pairs))
    vector = z_train[t_tr].mean(0) - z_train[s_tr].mean(0)
    random = torch.randn(vector.shape, generator=g)
    random = random * vector.norm() / random.norm()
    real = read_emoji(reader, test.images[t_te])[2]
    c = None if cond_test is None else cond_test[s_te]
    z = z_test[s_te]
    local = local_vectors(z_train[s_tr], z_train[t_tr], z_test[s_te])
    out = {name: _shares(_decode(model, z + delta, c), t_te, real, reader, want, attr)
           for name, delta in (("edit", vector), ("local edit", local), ("no edit", torch.zeros_like(vector)),
                               ("random", random))}
    c_target = None if cond_test is None else cond_test[t_te]
    out["target recon"] = _shares(_decode(model, z_test[t_te], c_target), t_te, real, reader, want, attr)
    out["real target"] = _shares(torch.from_numpy(test.images[t_te]), t_te, real, reader, want, attr)
    out["vector_norm"] = float(vector.norm())
    out["train_pairs"] = len(train_pairs)
    return out


def local_vectors(z_from: torch.Tensor, z_to: torch.Tensor, z: torch.Tensor, k: int = LOCAL_K) -> torch.Tensor:
    """For each row of z, the mean of z_to - z_from over the k training pairs whose z_from is nearest it."""
    nearest = torch.cdist(z, z_from).topk(min(k, len(z_from)), largest=False).indices      # (n, k)
    return (z_to - z_from)[nearest].mean(1)


def _condition_edit(model, test, test_pairs, reader, want, z_test, cond_test, column: int) -> dict:
    """CVAE: the toneless render encoded with its condition, decoded with tone `column` set instead."""
    if not test_pairs:
        return {"n": 0}
    s_te, t_te = map(list, zip(*test_pairs))
    c = cond_test[s_te].clone()
    c[:, :len(EDIT_TONES)] = 0.0
    c[:, column] = 1.0
    real = read_emoji(reader, test.images[t_te])[2]
    return {"condition edit": _shares(_decode(model, z_test[s_te], c), t_te, real, reader, want, "tone")}


@torch.inference_mode()
def conditional_tone_accuracy(model, test, reader, per_tone: int = 200, seed: int = 0) -> dict:
    """CVAE: prior samples decoded with each tone set on the condition of a random held-out person render."""
    g = torch.Generator().manual_seed(seed)
    people = np.flatnonzero(np.isin(test.columns["person"], PERSONS[1:]))
    out = {}
    for k, tone in enumerate(EDIT_TONES):
        rows = people[torch.randint(0, len(people), (per_tone,), generator=g).numpy()]
        c = torch.from_numpy(test.attributes[rows]).float()
        c[:, :len(EDIT_TONES)] = 0.0
        c[:, k] = 1.0
        z = model.prior_sample(per_tone, generator=g).cpu()
        tones = read_emoji(reader, _decode(model, z, c))[0]
        out[tone] = float((tones == TONES.index(tone)).mean())
    return out


def emoji_arithmetic(model, train, test, reader, seed: int = 0, per_tone: int = 200) -> dict:
    """The full report (see the module's docstring); needs a model with an encoder and the emoji split pair."""
    if not model.can_encode:
        raise ValueError("the emoji arithmetic needs a model with an encoder (a VAE or CVAE)")
    g = torch.Generator().manual_seed(seed)
    cond_train, cond_test = _conditions(model, train), _conditions(model, test)
    z_train = _encode(model, train.images, cond_train)
    z_test = _encode(model, test.images, cond_test)
    report: dict = {"tone": {}, "man->woman": {}}
    for k, tone in enumerate(EDIT_TONES):
        pairs = tone_pairs(test, tone)
        entry = _edit_report(model, test, tone_pairs(train, tone), pairs, reader, TONES.index(tone),
                             "tone", z_train, z_test, cond_test, g)
        if model.cond_dim:
            entry.update(_condition_edit(model, test, pairs, reader, TONES.index(tone), z_test, cond_test,
                                         ATTRIBUTE_NAMES.index(f"tone-{tone}")))
        report["tone"][tone] = entry
    report["man->woman"] = _edit_report(model, test, gender_pairs(train), gender_pairs(test), reader,
                                        PERSONS.index("woman"), "person", z_train, z_test, cond_test, g)
    if model.cond_dim:
        report["conditional tone accuracy"] = conditional_tone_accuracy(model, test, reader, per_tone, seed)
    report["summary"] = summarise(report)
    return report


def summarise(report: dict) -> dict:
    """Means over the five tones (weighted by pairs) of each method's two shares."""
    sums: dict = defaultdict(lambda: [0.0, 0.0, 0])
    for entry in report["tone"].values():
        for method in METHODS:
            if method in entry:
                s = sums[method]
                n = entry[method]["n"]
                s[0] += entry[method]["read"] * n
                s[1] += entry[method]["right_base"] * n
                s[2] += n
    return {m: {"tone read": s[0] / s[2], "right base": s[1] / s[2], "n": s[2]} for m, s in sums.items() if s[2]}


SHEET_COLUMNS = ("source", "reconstruction", "edit", "local edit", "target recon", "real target")


@torch.inference_mode()
def edit_sheet(model, train, test, tone: str = "dark", rows: int = 6) -> np.ndarray:
    """A picture of the tone edit on `rows` held-out bases spread over the split: (H, W, 3) uint8, one base per
    row, SHEET_COLUMNS left to right (a CVAE's edits keep the source's condition, its target recon the target's)."""
    cond_train, cond_test = _conditions(model, train), _conditions(model, test)
    z_train = _encode(model, train.images, cond_train)
    s_tr, t_tr = map(list, zip(*tone_pairs(train, tone)))
    pairs = tone_pairs(test, tone)
    pairs = [pairs[i] for i in np.unique(np.linspace(0, len(pairs) - 1, rows).astype(int))]
    s_te, t_te = map(list, zip(*pairs))
    z_s = _encode(model, test.images[s_te], None if cond_test is None else cond_test[s_te])
    z_t = _encode(model, test.images[t_te], None if cond_test is None else cond_test[t_te])
    c_s = None if cond_test is None else cond_test[s_te]
    c_t = None if cond_test is None else cond_test[t_te]
    vector = z_train[t_tr].mean(0) - z_train[s_tr].mean(0)
    local = local_vectors(z_train[s_tr], z_train[t_tr], z_s)
    columns = [torch.from_numpy(test.images[s_te]).float() / 255.0, _decode(model, z_s, c_s),
               _decode(model, z_s + vector, c_s), _decode(model, z_s + local, c_s), _decode(model, z_t, c_t),
               torch.from_numpy(test.images[t_te]).float() / 255.0]
    grid = torch.cat([torch.cat(list(col.clamp(0, 1)), 1) for col in columns], 2)            # (3, rows*H, 6*W)
    return (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
