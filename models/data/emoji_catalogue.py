"""emoji-test.txt (Unicode's keyboard test data, Debian's `unicode-data`) read into one record per emoji.

Only fully-qualified lines become records: those are the RGI emoji a font draws as one picture. The file's
tenth group, "Component", holds the five skin-tone swatches and four hair styles with status `component`,
never `fully-qualified`, so the data set has the other nine groups (Smileys & Emotion ... Flags) as classes.

Labels, from the line itself:
- group and subgroup: the `# group:` and `# subgroup:` headers above the line.
- skin tone: the Fitzpatrick modifiers U+1F3FB..U+1F3FF among the code points. One distinct tone gives that tone,
  none gives "none", two different ones (a couple, a handshake: "light skin tone, dark skin tone") give "mixed";
  `tones` lists every tone present.
- person: whole words of the name. man/men/boy/prince/Santa/merman are "man", woman/women/girl/princess/Mrs./
  mermaid are "woman", person/people "person"; a name with none of them is "person" when its subgroup is one of
  People & Body's person-* or family subgroups (police officer, baby, merperson), else "none" (a waving hand,
  an ear). A name with men and women in it (kiss: woman, man) is "mixed"; `persons` lists every kind present.
- base: the name without its skin-tone parts ("woman office worker: medium-dark skin tone" -> "woman office
  worker"), so every tone variant of an emoji shares one base.
- family: the words of the base without man/woman/person ("office worker" for the man, woman and person office
  worker, "kiss" for every kiss), the unit the train/test split holds out: about a fifth of the families, picked
  by a hash of the family's name, so the tone and man -> woman arithmetic is measured on emoji never trained on.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from latent_atlas.models.errors import DatasetError
from latent_atlas.models.safe_files import read_capped

MAX_FILE_BYTES = 8 * 2**20          # emoji-test.txt 15.0 is 593 kB
TONES = ("none", "light", "medium-light", "medium", "medium-dark", "dark")
TONE_OF_MODIFIER = {0x1F3FB: "light", 0x1F3FC: "medium-light", 0x1F3FD: "medium", 0x1F3FE: "medium-dark",
                    0x1F3FF: "dark"}
PERSONS = ("none", "man", "woman", "person")
PERSON_WORDS = {
    "man": {"man", "men", "boy", "prince", "Santa", "merman"},
    "woman": {"woman", "women", "girl", "princess", "Mrs.", "mermaid"},
    "person": {"person", "people"},
}
HOLDOUT_SHARE = 0.2        # of families, chosen by a hash of the family name (stable when emoji are added)

_LINE = re.compile(r"^(?P<cps>[0-9A-Fa-f]{4,6}(?: [0-9A-Fa-f]{4,6})*)\s*;\s*(?P<status>[a-z-]+)\s*#\s*"
                   r"(?P<glyph>\S+)\s+E\d+\.\d+\s+(?P<name>.+?)\s*$")
_STATUSES = {"fully-qualified", "minimally-qualified", "unqualified", "component"}
_GENDER_WORDS = {"man", "men", "woman", "women", "person", "people"}


@dataclass(frozen=True)
class EmojiRecord:
    codepoints: tuple[int, ...]
    name: str                 # "woman office worker: medium-dark skin tone"
    group: str                # "People & Body"
    subgroup: str             # "person-role"
    tone: str                 # one of TONES, or "mixed"
    tones: tuple[str, ...]    # every tone present, in file order of appearance
    person: str               # one of PERSONS, or "mixed"
    persons: tuple[str, ...]  # every kind of person present
    base: str                 # the name without skin-tone parts
    family: str               # the base without man/woman/person words: the unit of the split
    line_no: int

    @property
    def text(self) -> str:
        return "".join(map(chr, self.codepoints))

    @property
    def held_out(self) -> bool:
        """True for the test split: decided by the family alone, so no family is ever on both sides."""
        digest = hashlib.sha256(self.family.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < HOLDOUT_SHARE


def read_emoji_test(path: str | Path) -> list[EmojiRecord]:
    """Every fully-qualified emoji of an emoji-test.txt, in file order; DatasetError naming the line if the
    file is not in that format."""
    path = Path(path)
    text = _read_text(path)
    group = subgroup = None
    records: list[EmojiRecord] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line.startswith("# group:"):
            group, subgroup = line[len("# group:"):].strip(), None
            continue
        if line.startswith("# subgroup:"):
            subgroup = line[len("# subgroup:"):].strip()
            continue
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None or m["status"] not in _STATUSES:
            raise DatasetError(f"{path}, line {line_no}: not an emoji-test.txt line: {line[:80]!r}")
        if m["status"] != "fully-qualified":
            continue
        if group is None or subgroup is None:
            raise DatasetError(f"{path}, line {line_no}: an emoji before any '# group:' and '# subgroup:' line")
        records.append(_record(tuple(int(c, 16) for c in m["cps"].split()), m["name"], group, subgroup, line_no))
    if not records:
        raise DatasetError(f"{path}: no fully-qualified emoji in it; is it emoji-test.txt?")
    return records


def _read_text(path: Path) -> str:
    data = read_capped(path, MAX_FILE_BYTES, DatasetError, "emoji test file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _record(codepoints: tuple[int, ...], name: str, group: str, subgroup: str, line_no: int) -> EmojiRecord:
    tones = tuple(dict.fromkeys(TONE_OF_MODIFIER[c] for c in codepoints if c in TONE_OF_MODIFIER))
    head, _, tail = name.partition(": ")
    parts = [p for p in tail.split(", ") if p and not p.endswith("skin tone")] if tail else []
    base = f"{head}: {', '.join(parts)}" if parts else head
    words = set(base.replace(",", " ").replace(":", " ").split())
    persons = tuple(kind for kind, vocabulary in PERSON_WORDS.items() if words & vocabulary)
    if not persons and group == "People & Body" and (subgroup.startswith("person") or subgroup == "family"):
        persons = ("person",)
    family = " ".join(w for w in re.split(r"[\s,:]+", base) if w and w not in _GENDER_WORDS) or base
    return EmojiRecord(codepoints=codepoints, name=name, group=group, subgroup=subgroup,
                       tone=_one(tones, "none"), tones=tones, person=_one(persons, "none"), persons=persons,
                       base=base, family=family, line_no=line_no)


def _one(kinds: tuple[str, ...], empty: str) -> str:
    return kinds[0] if len(kinds) == 1 else (empty if not kinds else "mixed")
