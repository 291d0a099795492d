"""Datasets: the before/after folder layout other trainers use, read and written; what cannot train is
said; both sides of a pair get the same crop and flip."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.training.conftest import inverted, small
from training.buckets import PairTransform, bucket_for, buckets
from training.dataset import Dataset, from_arrays, read_folder, write_folder
from training.errors import DatasetError


def codec():
    """The app's codec: the document's one safe image path."""
    from canvas.imageio import export_image, load_image

    return load_image, export_image


def test_a_dataset_folder_round_trips(tmp_path, pairs):
    load, save = codec()
    ds = from_arrays(pairs, instruction="invert the colours")
    ds.set_instruction(ds.pairs[1].name, "make it a negative")
    ds.pairs[2] = type(ds.pairs[2])(ds.pairs[2].name, (pairs[2][0], pairs[0][0]), pairs[2][1])  # two before images
    ds.held_out = ds.pairs[0].name
    write_folder(ds, tmp_path / "set", save)
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["after", "akapen.json", "before", "before2"]
    assert (tmp_path / "set" / "after" / f"{ds.pairs[1].name}.txt").read_text() == "make it a negative\n"
    back = read_folder(tmp_path / "set", load)
    assert back.instruction == ds.instruction and back.held_out == ds.held_out
    assert back.fingerprint() == ds.fingerprint()
    for a, b in zip(ds.pairs, back.pairs, strict=True):
        assert a.name == b.name and a.instruction == b.instruction and len(a.before) == len(b.before)
        assert all(np.array_equal(x, y) for x, y in zip((*a.before, a.after), (*b.before, b.after), strict=True))


def test_a_folder_made_for_other_trainers_reads(tmp_path, pairs):
    """ai-toolkit / musubi-tuner style: JPEG images, a caption .txt beside each result, no akapen.json."""
    root = tmp_path / "theirs"
    (root / "before").mkdir(parents=True)
    (root / "after").mkdir()
    for i, (b, a) in enumerate(pairs):
        Image.fromarray(b[..., :3]).save(root / "before" / f"img_{i}.jpg", quality=95)
        Image.fromarray(a[..., :3]).save(root / "after" / f"img_{i}.png")
        (root / "after" / f"img_{i}.txt").write_text(f"caption {i}\n")
    ds = read_folder(root, codec()[0])
    assert [p.name for p in ds.pairs] == ["img_0", "img_1", "img_2"]
    assert [ds.instruction_of(p) for p in ds.pairs] == ["caption 0", "caption 1", "caption 2"]
    assert ds.check() == []


def test_what_cannot_train_is_one_clear_message(tmp_path, pairs):
    load = codec()[0]
    with pytest.raises(DatasetError, match="at least 2 pairs"):
        from_arrays(pairs[:1], instruction="x").check()
    held = from_arrays(pairs[:2], instruction="x")
    held.held_out = held.pairs[0].name
    with pytest.raises(DatasetError, match="one more is held out"):
        held.check()
    wide = from_arrays([(pairs[0][0], small(pairs[0][1], (64, 64))), pairs[1]], instruction="x")
    with pytest.raises(DatasetError, match="one aspect"):
        wide.check()
    same = from_arrays([(pairs[0][0], pairs[0][0]), pairs[1]], instruction="x")
    with pytest.raises(DatasetError, match="identical to before"):
        same.check()
    with pytest.raises(DatasetError, match="no instruction"):
        from_arrays(pairs[:2]).check()
    (tmp_path / "half" / "before").mkdir(parents=True)
    (tmp_path / "half" / "after").mkdir()
    Image.fromarray(pairs[0][0]).save(tmp_path / "half" / "before" / "a.png")
    Image.fromarray(pairs[0][1]).save(tmp_path / "half" / "after" / "a.png")
    Image.fromarray(pairs[1][0]).save(tmp_path / "half" / "before" / "b.png")
    with pytest.raises(DatasetError, match="'b' has no after image"):
        read_folder(tmp_path / "half", load)
    with pytest.raises(DatasetError, match="before/ and after/"):
        read_folder(tmp_path, load)
    from canvas.errors import ImageImportError

    (tmp_path / "half" / "after" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ImageImportError, match="b.png"):  # the codec's own clear error, naming the file
        read_folder(tmp_path / "half", load)


def test_both_sides_of_a_pair_get_the_same_crop_and_flip(pairs):
    before = small(pairs[0][0], (150, 100))
    after = inverted(before)
    big_before = np.asarray(Image.fromarray(before).resize((300, 200), Image.Resampling.LANCZOS))
    for tf in (PairTransform(bucket_for(150, 100, 64)), PairTransform(bucket_for(150, 100, 64), flip=True),
               PairTransform(bucket_for(150, 100, 64), shift=(0.7, -0.4))):
        b, a = tf.apply(before).astype(int), tf.apply(after).astype(int)
        assert b.shape == a.shape == (tf.bucket.height, tf.bucket.width, 3)
        assert np.abs((255 - b) - a).mean() < 1.5  # the edit, pixel for pixel: nothing moved between them
        big = tf.apply(big_before).astype(int)  # a before at twice the size lands on the same picture
        assert np.abs(big - b).mean() < 6
    plain, flipped = PairTransform(bucket_for(150, 100, 64)), PairTransform(bucket_for(150, 100, 64), flip=True)
    assert np.array_equal(flipped.apply(after), plain.apply(after)[:, ::-1])


def test_buckets_keep_the_area_and_follow_the_aspect():
    for res in (512, 768, 1024):
        for b in buckets(res):
            assert b.width % 64 == 0 and b.height % 64 == 0 and b.width * b.height <= res * res
        assert bucket_for(1000, 1000, res).width == res
    wide = bucket_for(1600, 900, 1024)
    assert abs(wide.aspect - 16 / 9) < 0.1 and wide.width * wide.height > 0.9 * 1024 * 1024


def test_a_dataset_is_edited_by_name():
    rng = np.random.default_rng(1)
    img = lambda: rng.integers(0, 255, (8, 8, 4), dtype=np.uint8)  # noqa: E731
    ds = Dataset(instruction="x")
    a = ds.add(img(), img(), name="cat photo")
    b = ds.add(img(), img(), name="cat photo")
    assert (a.name, b.name) == ("cat-photo", "cat-photo-2")
    ds.held_out = b.name
    ds.remove(b.name)
    assert ds.held_out is None and [p.name for p in ds.pairs] == ["cat-photo"]


def test_a_job_folder_carries_pairs_settings_and_model(tmp_path, pairs):
    from training.job import export_job, is_job, read_job
    from training.trainer import Settings

    load, save = codec()
    ds = from_arrays(pairs, instruction="invert the colours")
    settings = Settings(steps=1500, rank=32, learning_rate=2e-4, resolution=768)
    folder = export_job(ds, settings, "black-forest-labs/FLUX.1-Kontext-dev", "flux-kontext", tmp_path / "job", save,
                        "invert.safetensors")
    assert is_job(folder) and not is_job(tmp_path)
    readme = (folder / "README.txt").read_text()
    assert "akapen train job -o invert.safetensors" in readme and "accelerate launch" in readme
    back, s, model, out = read_job(folder, load)
    assert (s, model, out) == (settings, "black-forest-labs/FLUX.1-Kontext-dev", "invert.safetensors")
    assert back.fingerprint() == ds.fingerprint()
