"""Labelled data files: good ones load as float32 images and int64 labels; every bad kind is a DataError."""
from __future__ import annotations

import os
import pickle
import sys
import zipfile

import numpy as np
import pytest

from recalib.export.labelled import DIGITS_CLASSES, LabelledData, digits, load_labelled, load_npz
from recalib.errors import ConfigError, DataError

CHW = (3, 8, 8)


def write(tmp_path, **arrays) -> str:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return str(path)


def images(n: int = 5, chw: tuple[int, ...] = CHW) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, *chw))


def test_a_good_file_loads_as_float32_images_and_int64_labels(tmp_path) -> None:
    x = images()
    data = load_labelled(write(tmp_path, inputs=x, labels=np.array([0, 1, 2, 3, 9], np.uint8)), CHW)
    assert data.inputs.dtype == np.float32 and data.labels.dtype == np.int64
    np.testing.assert_array_equal(data.inputs, x.astype(np.float32))
    assert data.labels.tolist() == [0, 1, 2, 3, 9] and len(data) == 5 and "5 images" in data.name


def test_whole_number_float_labels_are_class_indices(tmp_path) -> None:
    data = load_npz(write(tmp_path, inputs=images(2), labels=np.array([3.0, 1.0])))
    assert data.labels.tolist() == [3, 1]


BAD_FILES = {
    "missing inputs": (dict(images=images(), labels=np.zeros(5, int)), "has no array 'inputs' \\(it has images, labels\\)"),
    "missing labels": (dict(inputs=images()), "has no array 'labels'"),
    "inputs without a channel axis": (dict(inputs=images(5, (8, 8)), labels=np.zeros(5, int)),
                                      "must be \\(N, C, H, W\\) \\(add the channel axis"),
    "inputs not numbers": (dict(inputs=np.full((5, *CHW), "a"), labels=np.zeros(5, int)), "not numbers"),
    "empty": (dict(inputs=np.zeros((0, *CHW)), labels=np.zeros(0, int)), "empty"),
    "NaN input": (dict(inputs=np.where(np.arange(5)[:, None, None, None] == 3, np.nan, images()),
                       labels=np.zeros(5, int)), "1 inputs hold NaN or infinite values \\(the first is sample 3\\)"),
    "infinite input": (dict(inputs=np.full((5, *CHW), np.inf), labels=np.zeros(5, int)), "5 inputs hold NaN"),
    "too large for float32": (dict(inputs=np.full((5, *CHW), 1e300), labels=np.zeros(5, int)), "too large"),
    "fewer labels than inputs": (dict(inputs=images(), labels=np.zeros(4, int)), "must be \\(5,\\)"),
    "one-hot labels": (dict(inputs=images(), labels=np.eye(5)), "one-hot\\? save labels.argmax\\(1\\)"),
    "fractional labels": (dict(inputs=images(), labels=np.array([0, 1, 2.5, 3, 4])), "integer class indices"),
    "NaN label": (dict(inputs=images(), labels=np.array([0, 1, np.nan, 3, 4])), "NaN or infinite"),
    "boolean labels": (dict(inputs=images(), labels=np.ones(5, bool)), "values of type bool"),
    "negative label": (dict(inputs=images(), labels=np.array([0, 1, -1, 3, 4])), "label -1 is out of range"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_is_refused_with_what_to_fix(tmp_path, kind: str) -> None:
    arrays, message = BAD_FILES[kind]
    with pytest.raises(DataError, match=message):
        load_npz(write(tmp_path, **arrays))


@pytest.mark.parametrize("chw, message", [((1, 8, 8), "have 3 channels, but the model takes 1"),
                                          ((3, 16, 16), "are 8x8, but the model takes 16x16")])
def test_images_of_another_shape_than_the_model_takes_are_refused(tmp_path, chw, message) -> None:
    with pytest.raises(DataError, match=message):
        load_labelled(write(tmp_path, inputs=images(), labels=np.zeros(5, int)), chw)


def test_labels_beyond_the_model_outputs_are_refused() -> None:
    data = LabelledData("d", images(3).astype(np.float32), np.array([0, 4, 5]))
    with pytest.raises(DataError, match="label 5 \\(sample 2\\) is out of range: the model has 5 outputs"):
        data.check_classes(5)
    assert data.check_classes(6) is data


def test_a_missing_file_or_a_folder_is_refused(tmp_path) -> None:
    with pytest.raises(DataError, match="none.npz: no such file"):
        load_npz(tmp_path / "none.npz")
    with pytest.raises(DataError, match="is a folder, not a regular file"):
        load_npz(tmp_path)


@pytest.mark.parametrize("make,kind", [(lambda p: os.mkfifo(p), "a FIFO"),
                                       (lambda p: p.symlink_to("/dev/zero"), "a character device")])
def test_a_fifo_or_device_is_refused_for_what_it_is_without_blocking(tmp_path, make, kind) -> None:
    """Issue 26: a FIFO blocked forever, and both were reported as "no such file"."""
    make(tmp_path / "data.npz")
    with pytest.raises(DataError, match=f"data.npz is {kind}, not a regular file"):
        load_npz(tmp_path / "data.npz")


def test_a_header_claiming_more_images_than_the_archive_holds_is_refused_before_allocating(tmp_path) -> None:
    """Issue 26: a small .npz whose header claims 10**6 images made numpy allocate 11.4 GiB."""
    path = write(tmp_path, inputs=images(), labels=np.zeros(5, int))
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["inputs.npy"] = members["inputs.npy"].replace(b"(5, ", b"(1000000, ")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(DataError, match=r"claims shape \(1000000, .*but the archive holds only"):
        load_npz(path)


@pytest.mark.parametrize("labels,message", [
    (np.array([0, 1, 2, 3, np.iinfo(np.uint64).max], dtype=np.uint64), "label 18446744073709551615 is out of range"),
    (np.array([0, 1, 2.5, 3, 4]), r"fractional values \(e.g. 2.5\)"),
])
def test_labels_are_refused_for_what_they_are(tmp_path, labels, message) -> None:
    with pytest.raises(DataError, match=message):
        load_npz(write(tmp_path, inputs=images(), labels=labels))


def test_a_file_that_is_not_an_archive_is_refused(tmp_path) -> None:
    path = tmp_path / "notes.npz"
    path.write_text("inputs,labels\n1,2\n")
    with pytest.raises(DataError, match="is not an .npz archive: not a zip archive"):
        load_npz(path)


def test_a_single_npy_array_is_refused(tmp_path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, images())
    with pytest.raises(DataError, match="holds a single array, not an .npz archive"):
        load_npz(path)


def test_a_truncated_archive_is_refused(tmp_path) -> None:
    path = tmp_path / "data.npz"
    path.write_bytes(open(write(tmp_path, inputs=images(), labels=np.zeros(5, int)), "rb").read()[:300])
    with pytest.raises(DataError, match="not a readable .npz archive|cannot be read"):
        load_npz(path)


class Evil:
    def __reduce__(self):
        return (open, ("pwned", "w"))


def test_pickled_objects_are_never_unpickled(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "objects.npz"
    np.savez(path, inputs=np.array([Evil()], dtype=object), labels=np.zeros(1, int))
    with pytest.raises(DataError, match="Python objects, which would have to be unpickled"):
        load_npz(path)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataError, match="pickled Python objects, which recalib never loads"):
        load_npz(raw)
    assert not (tmp_path / "pwned").exists()


def test_data_errors_are_usage_errors() -> None:
    assert issubclass(DataError, ConfigError) and DataError.exit_code == 2


def test_the_digits_split_is_fixed_disjoint_and_at_the_model_size() -> None:
    test, train = digits("test", (3, 16, 16)), digits("train", (3, 16, 16))
    assert (len(test), len(train)) == (449, 1348) and test.inputs.shape == (449, 3, 16, 16)
    assert test.inputs.dtype == np.float32 and -1 <= test.inputs.min() and test.inputs.max() <= 1
    assert set(test.labels.tolist()) == set(range(DIGITS_CLASSES))
    np.testing.assert_array_equal(test.inputs[:, 0], test.inputs[:, 2])
    again = digits("test", (1, 8, 8))
    np.testing.assert_array_equal(again.labels, test.labels)
    rows = {r.tobytes() for r in again.inputs} & {r.tobytes() for r in digits("train", (1, 8, 8)).inputs}
    from sklearn.datasets import load_digits
    duplicates = len(load_digits().images) - len({i.tobytes() for i in load_digits().images})
    assert len(rows) <= duplicates  # only images the data set itself holds twice appear in both splits


def test_the_digits_at_their_own_size_are_the_scaled_pixels() -> None:
    from sklearn.datasets import load_digits

    pixels = load_digits().images
    data = digits("test", (1, 8, 8))
    first = int(np.flatnonzero((pixels / 8 - 1 == data.inputs[0, 0]).all(axis=(1, 2)))[0])
    assert load_digits().target[first] == data.labels[0]


def test_without_scikit_learn_the_digits_say_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match="pip install scikit-learn"):
        digits("test", CHW)
