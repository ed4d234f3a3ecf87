"""The emoji attribute arithmetic of one or more checkpoints (models/quality/emoji_arithmetic.py), as a table:

    python scripts/emoji_arithmetic.py resources/models/emoji_vae.safetensors [more.safetensors] [--json OUT]
        [--sheet OUT.png]

Needs the emoji packages (apt-get install fonts-noto-color-emoji unicode-data: the train split's vectors) and the
shipped emoji classifier. Prints, per tone and for man -> woman, the share of decodes read as the target and the
share matched to the right base, for the edit, the local edit (the mean offset of the 5 nearest training pairs)
and the two baselines (no edit, a random direction of the same length); for a CVAE also the condition edit and
the conditional accuracy; and the two ceilings (the model's reconstruction of the real target, and the reader on
the real target). One core, seconds per model. `--sheet` also draws the dark-tone edit of six held-out bases, one
row each: source, reconstruction, edit, local edit, target recon, real target (one PNG per model: OUT.png for the
first, OUT-2.png for the second, ...).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from PIL import Image

from latent_atlas.models.checkpoints.atomic_io import atomic_write, atomic_write_bytes
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import LatentAtlasError
from latent_atlas.models.quality.emoji_arithmetic import METHODS, edit_sheet, emoji_arithmetic
from latent_atlas.models.quality.emoji_classifier import EMOJI_CLASSIFIER_PATH, load_emoji_classifier


def table(name: str, report: dict) -> list[str]:
    lines = [f"## {name}", "", "| target | pairs | " + " | ".join(f"{m}: read / base" for m in METHODS) + " |",
             "|---|---|" + "---|" * len(METHODS)]
    rows = [(f"tone {k}", v) for k, v in report["tone"].items()] + [("man -> woman", report["man->woman"])]
    for label, entry in rows:
        cells = [f"{entry[m]['read']:.0%} / {entry[m]['right_base']:.0%}" if m in entry else "-" for m in METHODS]
        lines.append(f"| {label} | {entry.get('edit', {}).get('n', 0)} | " + " | ".join(cells) + " |")
    s = report["summary"]
    cells = [f"{s[m]['tone read']:.0%} / {s[m]['right base']:.0%}" if m in s else "-" for m in METHODS]
    lines.append(f"| all tones | {s['edit']['n']} | " + " | ".join(cells) + " |")
    if "conditional tone accuracy" in report:
        acc = report["conditional tone accuracy"]
        lines += ["", "conditional tone accuracy (prior samples): "
                  + ", ".join(f"{k} {v:.0%}" for k, v in acc.items())]
    return lines + [""]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--classifier", default=str(EMOJI_CLASSIFIER_PATH))
    p.add_argument("--json", help="also write the full reports here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sheet", help="also draw the dark-tone edits of six held-out bases into this PNG")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        reader = load_emoji_classifier(args.classifier)
        train, test = load_dataset("emoji", split="train"), load_dataset("emoji", split="test")
        reports, sheets = {}, {}
        for i, f in enumerate(args.files):
            model = load_checkpoint(f).model.float().eval()
            reports[f] = emoji_arithmetic(model, train, test, reader, seed=args.seed)
            if args.sheet:
                sheets[sheet_path(args.sheet, i)] = edit_sheet(model, train, test)
    except (LatentAtlasError, ValueError) as e:
        print(f"emoji_arithmetic: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    record = json.loads(Path(args.classifier).with_suffix(".json").read_text())
    print(f"reader: {args.classifier} (held-out tone accuracy {record.get('tone_accuracy')}, "
          f"person {record.get('person_accuracy')})\n")
    for f, r in reports.items():
        print("\n".join(table(f, r)))
    try:
        if args.json:
            atomic_write_bytes(args.json, json.dumps(reports, indent=1).encode())
        for path, sheet in sheets.items():
            atomic_write(path, lambda tmp, sheet=sheet: Image.fromarray(sheet).save(tmp, format="PNG"))
            print(f"wrote {path}")
    except OSError as e:
        print(f"emoji_arithmetic: cannot write {e.filename}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def sheet_path(path: str, i: int) -> Path:
    p = Path(path)
    return p if i == 0 else p.with_name(f"{p.stem}-{i + 1}{p.suffix}")


if __name__ == "__main__":
    sys.exit(main())
