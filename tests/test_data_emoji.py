"""The emoji data set, with the real Noto Color Emoji font and Unicode's emoji-test.txt (Debian packages
fonts-noto-color-emoji and unicode-data). The full file is parsed; drawing uses a few subgroups of it, so the
cache and determinism tests stay at about a second each."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from latent_atlas.models.data import emoji, load_dataset
from latent_atlas.models.data.emoji import load_emoji, open_font
from latent_atlas.models.data.emoji_catalogue import TONES, read_emoji_test
from latent_atlas.models.errors import DatasetError

TEST_FILE = emoji.DEFAULT_TEST_FILE
FONT = emoji.DEFAULT_FONT
pytestmark = pytest.mark.skipif(not (TEST_FILE.is_file() and FONT.is_file()),
                                reason="apt-get install fonts-noto-color-emoji unicode-data")
SUBGROUPS = {"face-smiling", "hand-fingers-open", "person-role"}


@pytest.fixture(scope="module")
def records():
    return read_emoji_test(TEST_FILE)


@pytest.fixture
def small_file(tmp_path) -> Path:
    """emoji-test.txt cut down to three subgroups (headers kept), so drawing takes a fraction of a second."""
    keep, out = False, []
    for line in TEST_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            out.append(line)
        elif line.startswith("# subgroup:"):
            keep = line.split(":", 1)[1].strip() in SUBGROUPS
            out.append(line)
        elif keep or not line.strip() or line.startswith("#"):
            out.append(line)
    path = tmp_path / "emoji-test.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "latent-atlas"


def _independent_counts(path: Path):
    """Counts by group and by single tone read straight from the text, without the parser."""
    groups, tones, group = Counter(), Counter(), None
    tone_words = re.compile(r"\b(medium-light|medium-dark|light|medium|dark) skin tone")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line:
            groups[group] += 1
            found = set(tone_words.findall(line.split("#", 1)[1]))
            tones["none" if not found else found.pop() if len(found) == 1 else "mixed"] += 1
    footer = int(re.search(r"^# fully-qualified : (\d+)$", path.read_text(encoding="utf-8"), re.MULTILINE).group(1))
    return groups, tones, footer


def test_the_full_parse_matches_the_file_counts_by_group_and_tone(records):
    groups, tones, footer = _independent_counts(TEST_FILE)
    assert len(records) == footer == sum(groups.values())
    assert Counter(r.group for r in records) == groups
    assert Counter(r.tone for r in records) == tones
    assert "Component" not in groups and len(groups) == 9       # Component holds no fully-qualified emoji
    assert all(tones[t] > 0 for t in TONES) and len({tones[t] for t in TONES[1:]}) == 1   # 5 tones, same count


def test_a_known_emoji_has_its_labels(records):
    by_name = {r.name: r for r in records}
    r = by_name["woman office worker: medium-dark skin tone"]
    assert (r.tone, r.person, r.base, r.family) == ("medium-dark", "woman", "woman office worker", "office worker")
    assert (r.group, r.subgroup) == ("People & Body", "person-role")
    assert by_name["woman office worker"].tone == "none"
    assert by_name["man office worker: light skin tone"].person == "man"
    assert by_name["office worker"].person == "person"                 # gender-neutral, from its subgroup
    assert by_name["waving hand: dark skin tone"].person == "none"     # a hand has a tone but is no person
    assert by_name["flag: Isle of Man"].person == "none"               # "Man" there is no man
    mixed = by_name["kiss: woman, man, light skin tone, dark skin tone"]
    assert (mixed.tone, mixed.tones, mixed.person) == ("mixed", ("light", "dark"), "mixed")
    assert mixed.base == "kiss: woman, man"


def test_the_split_never_separates_the_variants_of_a_base(records):
    for key in ("base", "family"):
        sides: dict[str, set[bool]] = {}
        for r in records:
            sides.setdefault(getattr(r, key), set()).add(r.held_out)
        assert all(len(s) == 1 for s in sides.values()), key
    share = sum(r.held_out for r in records) / len(records)
    assert 0.1 < share < 0.35
    # negative control: a split by position (every fifth emoji) does separate tone variants
    by_index = {}
    for i, r in enumerate(records):
        by_index.setdefault(r.base, set()).add(i % 5 == 0)
    assert any(len(s) == 2 for s in by_index.values())


def test_every_emoji_of_the_file_is_one_picture_in_noto(records):
    font = open_font(FONT)
    widths = {font.getbbox(r.text)[2] for r in records}
    assert widths == {font.getbbox(emoji.REFERENCE)[2]}   # a sequence the font lacks would draw wider


def test_train_and_test_hold_whole_bases_and_the_images_are_rgb_on_white(small_file, cache):
    train = load_emoji("train", test_file=small_file)
    test = load_emoji("test", test_file=small_file)
    assert len(train) > 0 and len(test) > 0 and not train.skipped
    assert not set(train.columns["family"]) & set(test.columns["family"])
    assert len(train) + len(test) == len(read_emoji_test(small_file))
    assert train.image_shape == (3, 64, 64) and train.label_names == test.label_names
    corners = train.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 255).all()                               # white background
    centre = train.images[:, :, 24:40, 24:40].reshape(len(train), -1)
    assert (centre.min(axis=1) < 200).all()                     # something drawn in the middle of each
    name = "woman office worker: medium-dark skin tone"
    data = train if name in train.columns["name"] else test
    i = list(data.columns["name"]).index(name)
    row = dict(zip(data.attribute_names, data.attributes[i]))
    assert row["tone-medium-dark"] == 1 and row["woman"] == 1 and sum(row.values()) == 2
    assert data.label_names[data.labels[i]] == "People & Body"
    cond, names = data.conditions("attributes")                 # what a CVAE --condition attributes gets
    assert cond.shape == (len(data), 8) and names == emoji.ATTRIBUTE_NAMES


def test_tone_variants_differ_where_the_skin_is_and_line_up_elsewhere(small_file, cache):
    data = load_emoji("train", test_file=small_file)
    data = data if "waving hand: light skin tone" in data.columns["name"] else load_emoji("test", test_file=small_file)
    names = list(data.columns["name"])
    light = data.images[names.index("waving hand: light skin tone")].astype(int)
    dark = data.images[names.index("waving hand: dark skin tone")].astype(int)
    background = (light == 255).all(axis=0) & (dark == 255).all(axis=0)
    assert background.mean() > 0.3                              # the same outline: the white around it agrees
    assert light.mean() > dark.mean() + 10                       # a light hand is brighter than a dark one


def test_32_pixels_is_the_64_drawing_at_half_size(small_file, cache):
    small = load_emoji("train", image_size=32, test_file=small_file)
    large = load_emoji("train", image_size=64, test_file=small_file)
    assert small.image_shape == (3, 32, 32) and len(small) == len(large)
    halved = large.images.reshape(len(large), 3, 32, 2, 32, 2).mean(axis=(3, 5))
    assert np.abs(halved - small.images).mean() < 6              # the same pictures, not another order
    with pytest.raises(DatasetError, match="32 or 64|64 or 32"):
        load_emoji("train", image_size=48, test_file=small_file)


def test_builds_are_byte_identical(small_file, tmp_path):
    a = load_emoji("train", test_file=small_file, cache_dir=tmp_path / "a")
    b = load_emoji("train", test_file=small_file, cache_dir=tmp_path / "b")
    assert a.images.tobytes() == b.images.tobytes()
    files_a = sorted((tmp_path / "a").iterdir())
    files_b = sorted((tmp_path / "b").iterdir())
    assert [f.name for f in files_a] == [f.name for f in files_b] and len(files_a) == 2   # 64 and 32
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(files_a, files_b))


def _count_renders(monkeypatch) -> list[int]:
    calls = []
    real = emoji.render_emoji

    def counting(records, font_path):
        calls.append(len(records))
        return real(records, font_path)
    monkeypatch.setattr(emoji, "render_emoji", counting)
    return calls


def test_the_cache_is_reused_and_a_corrupt_one_is_rebuilt(small_file, cache, monkeypatch):
    calls = _count_renders(monkeypatch)
    first = load_emoji("train", test_file=small_file)
    again = load_emoji("test", test_file=small_file)
    assert calls == [len(read_emoji_test(small_file))]           # one build served both splits (and 32 px)
    assert load_emoji("train", image_size=32, test_file=small_file).image_shape == (3, 32, 32)
    assert len(calls) == 1 and len(again) > 0
    (path,) = cache.glob("emoji-64-*.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF                                            # one pixel byte: the sha256 no longer agrees
    path.write_bytes(bytes(raw))
    rebuilt = load_emoji("train", test_file=small_file)
    assert len(calls) == 2 and rebuilt.images.tobytes() == first.images.tobytes()
    path.write_bytes(path.read_bytes()[:1000])                   # truncated
    assert load_emoji("train", test_file=small_file).images.tobytes() == first.images.tobytes()
    assert len(calls) == 3
    load_emoji("train", test_file=small_file)
    assert len(calls) == 3                                       # the rewritten cache is trusted again


def test_a_changed_source_file_is_drawn_again(small_file, cache, monkeypatch):
    calls = _count_renders(monkeypatch)
    load_emoji("train", test_file=small_file)
    small_file.write_text(small_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")   # size changes
    load_emoji("train", test_file=small_file)
    assert len(calls) == 2


def test_missing_packages_name_the_apt_get_line(tmp_path, monkeypatch):
    monkeypatch.setattr(emoji, "DEFAULT_FONT", tmp_path / "NotoColorEmoji.ttf")
    with pytest.raises(DatasetError) as e:
        load_dataset("emoji")
    assert "apt-get install fonts-noto-color-emoji" in str(e.value) and "\n" not in str(e.value)
    assert "unicode-data" not in str(e.value)
    monkeypatch.setattr(emoji, "DEFAULT_TEST_FILE", tmp_path / "emoji-test.txt")
    with pytest.raises(DatasetError, match="apt-get install fonts-noto-color-emoji unicode-data$"):
        load_dataset("emoji")


def test_another_font_file_is_used_and_a_bad_one_named(small_file, tmp_path, cache):
    copy = tmp_path / "MyEmoji.ttf"
    copy.write_bytes(FONT.read_bytes())
    data = load_emoji("train", font=copy, test_file=small_file)
    assert str(copy) in data.source and len(data) > 0
    not_a_font = tmp_path / "notes.ttf"
    not_a_font.write_text("hello")
    with pytest.raises(DatasetError, match="notes.ttf: not a font"):
        load_emoji("train", font=not_a_font, test_file=small_file)
    with pytest.raises(DatasetError, match="only to the emoji dataset"):
        load_dataset("shapes", font=str(copy))


def test_a_damaged_emoji_test_file_names_its_line(tmp_path):
    bad = tmp_path / "emoji-test.txt"
    bad.write_text("# group: Smileys & Emotion\n# subgroup: face-smiling\n1F600 ; fully-qualified # 😀 E1.0 "
                   "grinning face\nthis is not a line\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 4"):
        read_emoji_test(bad)


def test_the_train_command_takes_font():
    from latent_atlas.cli.parser import build_parser

    args = build_parser().parse_args(["train", "--dataset", "emoji", "--font", "/x.ttf", "--out", "m.safetensors"])
    assert args.font == "/x.ttf" and args.dataset == "emoji"
