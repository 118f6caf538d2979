"""Transform shifts (vleval.api.TransformShift, vleval_shifts.transforms): ImageNet-C corruptions, restyling, text
noise and paraphrase of any dataset, paired item by item with the source.

Reference parameters are copied from hendrycks/robustness, ImageNet-C/create_c/make_imagenet_c.py (commit
e0377d46411fa30c01a9559017bdb6a5f78d4abf); expected values are derived independently (by hand, by brute force, by
the statistics of the noise, or by another library: colorsys, Pillow).
"""

from __future__ import annotations

import colorsys
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import explicit_registry
from PIL import Image

import vleval_shifts.plugin
from vleval.api import DatasetSpec, MCItem, RetrievalItem, TransformedDataset
from vleval.config.load import ConfigError
from vleval.executors.runner import run_benchmark
from vleval_shifts import filters
from vleval_shifts import imagenet_c as ic
from vleval_shifts.restyle import edges, posterize
from vleval_shifts.text import char_noise, paraphrase
from vleval_shifts.transforms import CorruptionShift, ParaphraseShift, RestyleShift, TextNoiseShift

QUESTIONS = {"name": "toy-questions", "args": {"n": 6}}
COLORS = {"name": "toy-colors", "args": {"n": 6}}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A natural photograph (scikit-learn's bundled china.jpg), 48 x 48."""
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("china.jpg")).resize((48, 48), Image.Resampling.BOX)


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def _rms(a: Image.Image, b: Image.Image) -> float:
    return float(np.sqrt(((_px(a) - _px(b)) ** 2).mean()))


# -- parameters: the reference's tables, copied from make_imagenet_c.py
REFERENCE = {
    "gaussian_noise": [.08, .12, 0.18, 0.26, 0.38],
    "shot_noise": [60, 25, 12, 5, 3],
    "impulse_noise": [.03, .06, .09, 0.17, 0.27],
    "defocus_blur": [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)],
    "glass_blur": [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)],
    "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],
    "snow": [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
             (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)],
    "frost": [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)],
    "fog": [(1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)],
    "brightness": [.1, .2, .3, .4, .5],
    "contrast": [0.4, .3, .2, .1, .05],
    "elastic_transform": [(488, 170.8, 24.4), (488, 19.52, 48.8), (12.2, 2.44, 4.88), (17.08, 2.44, 4.88),
                          (29.28, 2.44, 4.88)],
    "pixelate": [0.6, 0.5, 0.4, 0.3, 0.25],
    "jpeg_compression": [25, 18, 15, 10, 7],
}
REFERENCE_ZOOM = [np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.02),
                  np.arange(1, 1.26, 0.02), np.arange(1, 1.31, 0.03)]


def test_parameters_equal_the_reference_tables() -> None:
    assert set(ic.CORRUPTIONS) == set(REFERENCE) | {"zoom_blur"} and len(ic.CORRUPTIONS) == 15
    for name, table in REFERENCE.items():
        assert np.allclose(np.asarray(ic.PARAMS[name], dtype=float), np.asarray(table, dtype=float)), name
    for (stop, step), reference in zip(ic.PARAMS["zoom_blur"], REFERENCE_ZOOM, strict=True):
        assert np.allclose(np.arange(1, stop, step), reference)


# -- every family: changes the image, deterministic per item and seed, monotone where the reference is
MONOTONE = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "motion_blur", "zoom_blur",
            "brightness", "contrast", "pixelate", "jpeg_compression")


@pytest.mark.parametrize("corruption", ic.CORRUPTIONS)
def test_each_family_changes_the_image_deterministically(corruption: str, photo: Image.Image) -> None:
    item = RetrievalItem("a", photo, ["x"])
    distances = []
    for severity in range(1, 6):
        shift = CorruptionShift(COLORS, corruption, severity, seed=3)
        out = shift.apply(item, 0, 3)
        assert out.id == "a" and out.captions == ["x"] and item.image is photo  # the source item is untouched
        assert out.image.size == photo.size and out.image.mode == "RGB"
        assert _px(shift.apply(item, 7, 3).image).tobytes() == _px(out.image).tobytes()  # index plays no part
        distances.append(_rms(out.image, photo))
    assert min(distances) > 0.5, distances
    if corruption in MONOTONE:
        assert distances == sorted(distances), distances


@pytest.mark.parametrize("corruption", ["gaussian_noise", "glass_blur", "motion_blur", "snow", "frost", "fog",
                                        "elastic_transform", "impulse_noise"])
def test_random_families_depend_on_item_and_seed(corruption: str, photo: Image.Image) -> None:
    shift = CorruptionShift(COLORS, corruption, 3)
    a, b = RetrievalItem("a", photo, []), RetrievalItem("b", photo, [])
    out_a = _px(shift.apply(a, 0, 0).image)
    assert not np.array_equal(out_a, _px(shift.apply(b, 0, 0).image))  # same pixels, another id: other noise
    assert not np.array_equal(out_a, _px(shift.apply(a, 0, 1).image))  # another seed
    assert np.array_equal(out_a, _px(shift.apply(RetrievalItem("a", photo, []), 5, 0).image))


def test_mc_rotations_share_the_transform(photo: Image.Image) -> None:
    shift = CorruptionShift(QUESTIONS, "shot_noise", 4)
    first = MCItem(index=3, image=photo, question="q?", options={"A": "x", "B": "y"}, answer="A")
    rotated = MCItem(index=3 + 2_000_000, image=photo, question="q?", options={"A": "y", "B": "x"}, answer="B")
    assert np.array_equal(_px(shift.apply(first, 0, 0).image), _px(shift.apply(rotated, 9, 0).image))


# -- expected values derived independently
def _gray(value: int, size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_gaussian_noise_has_the_reference_sigma(severity: int) -> None:
    out = ic.gaussian_noise(_gray(128), severity, np.random.default_rng(0))
    assert np.std(out - 128) == pytest.approx(255 * REFERENCE["gaussian_noise"][severity - 1], rel=0.05)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_shot_noise_is_poisson(severity: int) -> None:
    c, v = REFERENCE["shot_noise"][severity - 1], 0.3
    out = ic.shot_noise(_gray(round(v * 255)), severity, np.random.default_rng(0)) / 255
    lam = round(v * 255) / 255 * c
    assert out.mean() == pytest.approx(lam / c, rel=0.03)
    assert out.std() == pytest.approx(np.sqrt(lam) / c, rel=0.06)


@pytest.mark.parametrize("severity", [1, 5])
def test_impulse_noise_flips_the_reference_fraction(severity: int) -> None:
    out = ic.impulse_noise(_gray(128, 96), severity, np.random.default_rng(0))
    salt, pepper = (out == 255).mean(), (out == 0).mean()
    amount = REFERENCE["impulse_noise"][severity - 1]
    assert salt + pepper == pytest.approx(amount, rel=0.1) and salt == pytest.approx(pepper, rel=0.25)


def test_contrast_by_hand() -> None:
    x = np.zeros((2, 1, 3), dtype=np.uint8)
    x[1] = 200  # channel means 100: (0 - 100) * 0.4 + 100 = 60, (200 - 100) * 0.4 + 100 = 140
    out = ic.contrast(x, 1, np.random.default_rng(0))
    assert np.allclose(out[0], 60) and np.allclose(out[1], 140)


def test_brightness_matches_colorsys(photo: Image.Image) -> None:
    x = np.asarray(photo)[:8, :8]
    for severity in (1, 4):
        c = REFERENCE["brightness"][severity - 1]
        out = ic.brightness(x.copy(), severity, np.random.default_rng(0))
        for pixel, got in zip(x.reshape(-1, 3) / 255, out.reshape(-1, 3), strict=True):
            h, s, v = colorsys.rgb_to_hsv(*pixel)
            expected = np.array(colorsys.hsv_to_rgb(h, s, min(v + c, 1.0))) * 255
            assert np.allclose(got, expected, atol=1e-6)


def test_defocus_kernel_by_brute_force() -> None:
    for radius, alias in (REFERENCE["defocus_blur"][0], REFERENCE["defocus_blur"][4]):
        span, ksize = (8, 3) if radius <= 8 else (radius, 5)
        aliased = np.array([[float(i * i + j * j <= radius * radius) for j in range(-span, span + 1)]
                            for i in range(-span, span + 1)])
        aliased /= aliased.sum()
        g = np.exp(-((np.arange(ksize) - ksize // 2) ** 2) / (2 * alias ** 2))
        g2 = np.outer(g, g) / np.outer(g, g).sum()
        r = ksize // 2
        padded = np.pad(aliased, r, mode="reflect")  # numpy's reflect is OpenCV's default BORDER_REFLECT_101
        expected = np.array([[(padded[i:i + ksize, j:j + ksize] * g2).sum() for j in range(aliased.shape[1])]
                             for i in range(aliased.shape[0])])
        assert np.allclose(filters.disk(radius, alias), expected, atol=1e-7)


def test_glass_blur_reproduces_the_reference_loop(photo: Image.Image) -> None:
    """The reference's loop, verbatim on a numpy array (its tuple swap of views copies), on the same draws."""
    x = np.asarray(photo)[:20, :20].copy()
    for severity in (1, 4):
        sigma, delta, iterations = REFERENCE["glass_blur"][severity - 1]
        got = ic.glass_blur(x.copy(), severity, np.random.default_rng(5))
        rng = np.random.default_rng(5)
        from scipy.ndimage import gaussian_filter

        y = np.uint8(gaussian_filter(x / 255.0, (sigma, sigma, 0), mode="nearest") * 255)
        for _ in range(iterations):
            rows, cols = range(20 - delta, delta, -1), range(20 - delta, delta, -1)
            draws = rng.integers(-delta, delta, size=(len(rows), len(cols), 2))
            for a, h in enumerate(rows):
                for b, w in enumerate(cols):
                    dx, dy = draws[a, b]
                    h_prime, w_prime = h + dy, w + dx
                    y[h, w], y[h_prime, w_prime] = y[h_prime, w_prime], y[h, w]
        expected = np.clip(gaussian_filter(y / 255.0, (sigma, sigma, 0), mode="nearest"), 0, 1) * 255
        assert np.allclose(got, expected)


def test_motion_blur_impulse_response_is_the_gaussian_line() -> None:
    radius, sigma = REFERENCE["motion_blur"][0]
    x = np.zeros((9, 40), dtype=np.float64)
    x[4, 30] = 1.0
    out = filters.motion_blur_array(x, radius, sigma, angle=0.0)
    weights = np.exp(-(np.arange(2 * radius + 1) ** 2) / (2 * sigma ** 2))
    assert np.allclose(out[4, 30 - np.arange(2 * radius + 1)], weights / weights.sum())
    assert out.sum() == pytest.approx(1.0)


def test_zoom_blur_averages_the_reference_number_of_zooms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ic, "clipped_zoom", lambda img, factor: np.zeros_like(img))
    x = _gray(200, 8)
    for severity in range(1, 6):
        out = ic.zoom_blur(x, severity, np.random.default_rng(0))
        assert np.allclose(out, 200 / (len(REFERENCE_ZOOM[severity - 1]) + 1), atol=1e-3)


def test_weather_and_elastic_bounds(photo: Image.Image) -> None:
    x = np.asarray(photo)
    rng = np.random.default_rng
    for severity in range(1, 6):
        assert (ic.snow(x.copy(), severity, rng(1)) >= x - 1e-3).all()  # snow only brightens
        c0, c1 = REFERENCE["frost"][severity - 1]
        frosted = ic.frost(x.copy(), severity, rng(1))
        assert (frosted >= c0 * x - 1e-6).all() and (frosted <= c0 * x + c1 * 255 + 1e-6).all()
        v, (c, _) = 100, REFERENCE["fog"][severity - 1]
        fogged = ic.fog(_gray(v, 16), severity, rng(1)) / 255
        m = v / 255
        assert (fogged >= m * m / (m + c) - 1e-9).all() and (fogged <= (m + c) * m / (m + c) + 1e-9).all()
        warped = ic.elastic_transform(x.copy(), severity, rng(1))
        assert warped.min() >= x.min() - 1e-3 and warped.max() <= x.max() + 1e-3  # bilinear: no new extremes
        assert np.allclose(ic.elastic_transform(_gray(77, 16), severity, rng(1)), 77, atol=1e-3)


def test_pixelate_blocks_are_box_means() -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(20, 20, 3)).astype(np.uint8)
    out = ic.pixelate(x, 5, np.random.default_rng(0))  # factor 0.25: 5 x 5 blocks of 4 x 4
    means = x.reshape(5, 4, 5, 4, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(out - np.repeat(np.repeat(means, 4, 0), 4, 1)).max() <= 1.0


def test_jpeg_is_pillows_jpeg_at_the_reference_quality(photo: Image.Image, tmp_path: Path) -> None:
    for severity, quality in enumerate(REFERENCE["jpeg_compression"], 1):
        photo.save(tmp_path / "q.jpg", quality=quality)
        expected = _px(Image.open(tmp_path / "q.jpg").convert("RGB"))
        assert np.array_equal(ic.jpeg_compression(np.asarray(photo), severity, np.random.default_rng(0)), expected)


# -- restyling and text
def test_restyle_styles(photo: Image.Image) -> None:
    assert len(set(map(tuple, _px(posterize(photo, 5)).reshape(-1, 3)))) <= 5
    step = np.zeros((10, 10, 3), dtype=np.uint8)
    step[:, 5:] = 255
    drawn = _px(edges(Image.fromarray(step), 0.25))
    assert set(np.unique(drawn)) == {0.0, 255.0}
    assert (drawn[:, 4:6] == 0).all() and (drawn[:, :3] == 255).all() and (drawn[:, 7:] == 255).all()
    shift = RestyleShift(COLORS, "text-overlay", count=3)
    a = shift.apply(RetrievalItem("a", photo, []), 0, 0).image
    again = shift.apply(RetrievalItem("a", photo, []), 1, 0).image
    assert _rms(a, photo) > 1 and _px(a).tobytes() == _px(again).tobytes()
    assert _px(a).tobytes() != _px(shift.apply(RetrievalItem("b", photo, []), 0, 0).image).tobytes()


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_char_noise_rate() -> None:
    text = " ".join(["the quick brown fox jumps over a lazy dog"] * 20)
    letters = sum(ch.isalnum() for ch in text)
    for rate in (0.02, 0.1):
        noisy = [char_noise(text, rate, np.random.default_rng(s)) for s in range(5)]
        # substitute/delete/insert cost 1 edit, swap 2: expected distance 1.25 * rate per letter (edits rarely touch)
        per_letter = np.mean([_levenshtein(text, t) for t in noisy]) / letters
        assert per_letter == pytest.approx(1.25 * rate, rel=0.3)
        assert all(t.count(" ") == text.count(" ") for t in noisy)  # spaces are never edited


def test_text_shifts_on_items() -> None:
    item = MCItem(index=1_000_002, image=None, question="What is in the image?", options={"A": "a red cube",
                  "B": "a big dog"}, answer="B", hint="Look closely.")
    noisy = TextNoiseShift(QUESTIONS, rate=1.0).apply(item, 0, 0)
    assert (noisy.index, noisy.answer, list(noisy.options)) == (item.index, "B", ["A", "B"])
    assert noisy.question != item.question and noisy.hint != item.hint
    assert all(noisy.options[k] != item.options[k] for k in "AB") and item.question == "What is in the image?"
    swapped = MCItem(index=2, image=None, question=item.question, options={"A": "a big dog", "B": "a red cube"},
                     answer="A")
    again = TextNoiseShift(QUESTIONS, rate=1.0).apply(swapped, 0, 0)
    assert again.options["A"] == noisy.options["B"] and again.question == noisy.question  # same group, same text
    captions = TextNoiseShift(COLORS, rate=0.5, fields=["captions"]).apply(RetrievalItem("x", None, ["a cat"] * 3),
                                                                          0, 0)
    assert len(captions.captions) == 3 and len(set(captions.captions)) > 1  # each caption its own noise
    para = [ParaphraseShift(COLORS).apply(RetrievalItem(str(i), None, ["A man with a big hat."]), 0, 0).captions[0]
            for i in range(40)]
    assert len(set(para)) >= 4 and all("hat" in p for p in para)
    assert paraphrase("How many dogs?", "question", np.random.default_rng(0)).count("dogs") == 1


# -- identity: paired item ids, content hash
def test_transformed_dataset_ids_and_hash() -> None:
    registry = explicit_registry(vleval_shifts.plugin)
    shift = CorruptionShift(QUESTIONS, "fog", 2, seed=4)
    base = registry.create("dataset", "toy-questions", {"n": 6})
    target = TransformedDataset(base, shift.target().transform)
    assert [it.index for it in target] == [it.index for it in base] and len(target) == len(base)
    blob = json.dumps([base.content_hash(), {"shift": "corruption", "version": "1.0.0", "params": {
        "corruption": "fog", "severity": 2}, "seed": 4}], sort_keys=True)
    assert target.content_hash() == hashlib.sha256(blob.encode()).hexdigest()
    assert target.describe()["transform"]["params"] == {"corruption": "fog", "severity": 2}
    other = TransformedDataset(base, CorruptionShift(QUESTIONS, "fog", 3, seed=4).target().transform)
    assert other.content_hash() != target.content_hash()
    assert shift.source() == DatasetSpec("toy-questions", {"n": 6}) and shift.target() != shift.source()
    assert shift.target() == CorruptionShift(QUESTIONS, "fog", 2, seed=4).target()


# -- end to end: sweep, paired sidecars, calibration on the wrapped dataset's held-out split
def test_run_benchmark_end_to_end(tmp_path: Path) -> None:
    bench = {"models": [{"name": "toy-moe", "args": {"experts": 4}, "scaling": [{}, {"prune_to": 2}]}],
             "shifts": [{"name": "corruption", "args": {"dataset": QUESTIONS, "corruption": "contrast"},
                         "sweep": {"severity": [1, 5]}},
                        {"name": "text-noise", "args": {"dataset": COLORS, "rate": 0.5}}],
             "batch_sizes": [8], "latency": {"warmup": 0, "repetitions": 1}}
    summary = run_benchmark("t", bench, tmp_path, registry=explicit_registry(vleval_shifts.plugin))
    records = summary.results
    assert [r.status for r in records] == ["ok"] * 6, [r.error for r in records]
    severities = [r.evaluation["args"].get("severity") for r in records]
    assert severities == [1, 5, None, 1, 5, None]
    for r in records:
        source, target = r.domains["source"].dataset, r.domains["target"].dataset
        assert source.name == target.name and source.content_hash != target.content_hash
        assert target.details["transform"]["shift"] == r.evaluation["name"]
        with gzip.open(tmp_path / r.items["path"], "rt") as handle:
            rows = [json.loads(line) for line in handle]
        ids = {d: {(x["kind"], x["id"]) for x in rows if x["domain"] == d} for d in ("source", "target")}
        assert ids["source"] == ids["target"] and ids["source"]
    pruned = [r for r in records if r.cell["scaling"].get("prune_to")]
    assert all(r.scaling["keep_experts"] for r in pruned)
    # the toy model reads colour words: noisy captions lose them, retrieval drops (uniform colour squares have no
    # contrast to reduce: the corruption leaves their accuracy as it is)
    assert records[2].primary("target") < records[2].primary("source")
    assert records[0].primary("target") == records[0].primary("source")


@pytest.mark.parametrize(("args", "message"), [
    ({"dataset": QUESTIONS, "corruption": "blur", "severity": 1}, "not an ImageNet-C corruption"),
    ({"dataset": QUESTIONS, "corruption": "fog", "severity": 6}, "integer from 1 to 5"),
    ({"dataset": QUESTIONS, "corruption": "fog", "severity": "3"}, "integer from 1 to 5"),
    ({"dataset": {"name": "nope"}, "corruption": "fog", "severity": 1}, "no dataset named 'nope'"),
    ({"dataset": {"name": "toy-colors", "args": {"rows": 3}}, "corruption": "fog", "severity": 1}, "do not fit"),
    ({"corruption": "fog", "severity": 1}, "argument 'dataset' is required"),
])
def test_clear_errors_before_any_work(tmp_path: Path, args: dict, message: str) -> None:
    bench = {"models": [{"name": "toy-moe"}], "shifts": [{"name": "corruption", "args": args}]}
    with pytest.raises(ConfigError, match=message) as info:
        run_benchmark("t", bench, tmp_path, registry=explicit_registry(vleval_shifts.plugin))
    assert "benchmarks.t.shifts[0]" in str(info.value)
    assert not (tmp_path / "t.jsonl").exists()


def test_sweep_values_are_checked_too(tmp_path: Path) -> None:
    bench = {"models": [{"name": "toy-moe"}], "shifts": [{"name": "corruption", "args": {
        "dataset": QUESTIONS, "corruption": "fog"}, "sweep": {"severity": [1, 2, 9]}}]}
    with pytest.raises(ConfigError, match="9"):
        run_benchmark("t", bench, tmp_path, registry=explicit_registry(vleval_shifts.plugin))
