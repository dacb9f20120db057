"""The user's own data (`--data.path`): image folders and CSV files, and one clear error per mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from neuralab.data.sources import DigitsConfig
from neuralab.data.user import fill_missing, read_csv_features, read_image, read_image_folder
from neuralab.errors import DataError
from neuralab.registry import DATA


def write_folder(root, n=12, size=16, classes=(("bright", 180, 256), ("dark", 0, 70))):
    """One sub-folder of random-noise PNG squares per class, brightness in [lo, hi)."""
    rng = np.random.default_rng(0)
    for name, lo, hi in classes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(lo, hi, (size, size), dtype=np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def build(path, **fields):
    return DATA.get("digits").build(DigitsConfig(path=str(path), **fields), 0)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- image folders ----------------------------------------------------------------------------------------

def test_image_folder_reads_classes_in_sorted_order(tmp_path):
    root = write_folder(tmp_path / "imgs")
    (root / "bright" / "notes.txt").write_text("not an image, ignored")
    (root / ".hidden").mkdir()
    x, y, classes = read_image_folder(root, 8, 1)
    assert classes == ["bright", "dark"] and x.shape == (24, 1, 8, 8) and x.dtype == torch.uint8
    assert y.tolist() == [0] * 12 + [1] * 12
    assert x[:12].float().mean() > 180 and x[12:].float().mean() < 70


def test_image_folder_in_rgb(tmp_path):
    root = write_folder(tmp_path / "imgs", n=3)
    x, _, _ = read_image_folder(root, 5, 3)
    assert x.shape == (6, 3, 5, 5)
    assert torch.equal(x[:, 0], x[:, 1])  # grey PNGs: equal channels


def test_read_image_is_writable_and_resized(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.full((10, 20, 3), 200, dtype=np.uint8)).save(path)
    arr = read_image(path, 28, 1)
    assert arr.shape == (1, 28, 28) and arr.flags.writeable and int(arr[0, 0, 0]) == 200


def test_image_folder_source_splits_and_describes_the_data(tmp_path):
    data = build(write_folder(tmp_path / "imgs"), image_size=8, test_fraction=0.25)
    assert (len(data.x_train), len(data.x_test)) == (18, 6)
    assert data.meta.kind == "images" and data.meta.input_shape == [1, 8, 8]
    assert data.meta.num_classes == 2 and data.meta.class_names == ["bright", "dark"]
    assert data.meta.pixel_scale == 255.0 and data.x_train.dtype == torch.float32


def test_missing_folder(tmp_path):
    assert f"{tmp_path / 'nope'}: not found" in error_of(build, tmp_path / "nope")
    assert "folder not found" in error_of(read_image_folder, tmp_path / "nope", 8, 1)


def test_folder_with_no_class_folders(tmp_path):
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "flat" / "a.png")
    assert "flat: no class folders" in error_of(build, tmp_path / "flat")


def test_class_folder_with_no_images(tmp_path):
    root = write_folder(tmp_path / "imgs")
    (root / "empty").mkdir()
    (root / "empty" / "readme.txt").write_text("x")
    assert f"{root / 'empty'}: class folder has no images" in error_of(build, root)


def test_unreadable_image(tmp_path):
    root = write_folder(tmp_path / "imgs")
    (root / "dark" / "x.png").write_bytes(b"this is not a PNG at all")
    message = error_of(build, root)
    assert message.startswith(f"{root / 'dark' / 'x.png'}: unreadable image")


def test_only_one_class(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=(("cats", 0, 256),))
    assert "only one class folder (cats); a classifier needs at least two" in error_of(build, root)


def test_not_a_folder_or_csv(tmp_path):
    (tmp_path / "data.txt").write_text("1,2\n")
    assert "not an image folder or a .csv file" in error_of(build, tmp_path / "data.txt")


# --- CSV --------------------------------------------------------------------------------------------------

def write_csv(path, text: str):
    path.write_text(text)
    return path


def test_csv_features_labels_and_names(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a, cls ,b\n1,yes,2\n\n3,no,4.5\n5,yes,-6e1\n")
    x, y, names, classes, dropped = read_csv_features(path, "cls")
    assert names == ["a", "b"] and classes == ["no", "yes"]
    assert x.dtype == torch.float32 and x.tolist() == [[1, 2], [3, 4.5], [5, -60]]
    assert y.tolist() == [1, 0, 1] and dropped == 0


def test_csv_numeric_labels_sort_as_numbers(tmp_path):
    path = write_csv(tmp_path / "d.csv", "x,label\n1,10\n2,9\n3,2\n")
    _, y, _, classes, _ = read_csv_features(path, "label")
    assert classes == ["2", "9", "10"] and y.tolist() == [2, 1, 0]


def test_csv_selected_features_for_prediction(tmp_path):
    path = write_csv(tmp_path / "d.csv", "b,cls,a\n1,yes,2\n")
    x, y, names, _, _ = read_csv_features(path, None, features=["a", "b"])
    assert y is None and names == ["a", "b"] and x.tolist() == [[2, 1]]
    assert "missing feature columns c; columns are b, cls, a" in error_of(read_csv_features, path, None,
                                                                          features=["a", "c"])


def test_csv_source_splits(tmp_path):
    rows = "".join(f"{i},{-i},{i % 2}\n" for i in range(40))
    data = build(write_csv(tmp_path / "d.csv", "u,v,target\n" + rows), label="target", test_fraction=0.25)
    assert (len(data.x_train), len(data.x_test)) == (30, 10)
    assert data.meta.kind == "features" and data.meta.input_shape == [2] and data.meta.feature_names == ["u", "v"]
    assert len(data.meta.mean) == 2  # per-feature standardisation


def test_missing_csv(tmp_path):
    assert "nope.csv: file not found" in error_of(build, tmp_path / "nope.csv")


def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,x\n\n3,oops,y\n")
    message = error_of(read_csv_features, path, "label")
    assert message == f"{path}: line 4, column 'b': non-numeric cell 'oops'"


def test_csv_empty_cell_is_missing_and_names_the_option(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,,x\n")
    assert error_of(read_csv_features, path, "label") == (
        f"{path}: line 2, column 'b': missing value ''; set --data.missing drop (drop such rows) or mean "
        "(fill the column mean)")


def test_csv_missing_drop_keeps_complete_rows_and_counts_the_others(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,x\nNA,3,y\n4, nan ,x\n5,6,?\n7,8,y\n")
    x, y, _, classes, dropped = read_csv_features(path, "label", missing="drop")
    assert x.tolist() == [[1, 2], [7, 8]] and y.tolist() == [0, 1] and classes == ["x", "y"] and dropped == 3


def test_csv_missing_mean_reads_gaps_as_nan_but_refuses_a_missing_label(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,,x\nNULL,3,y\n")
    x, _, _, _, dropped = read_csv_features(path, "label", missing="mean")
    assert x.isnan().tolist() == [[False, True], [True, False]] and x[0, 0] == 1 and dropped == 0
    path = write_csv(tmp_path / "e.csv", "a,label\n1,x\n2,\n")
    assert error_of(read_csv_features, path, "label", missing="mean") == (
        f"{path}: line 3, column 'label': missing value ''; a label cannot be filled; set --data.missing drop to "
        "drop such rows")


def test_fill_missing_uses_training_rows_only():
    x_train = torch.tensor([[1.0, float("nan")], [3.0, 4.0]])
    x_test = torch.tensor([[float("nan"), 100.0]])  # a test value must not move the training mean
    (tr, te, none), means, count = fill_missing(x_train, [x_test, None], ["a", "b"], "d.csv")
    assert means == [2.0, 4.0] and count == 2 and none is None
    assert tr.tolist() == [[1, 4], [3, 4]] and te.tolist() == [[2, 100]]
    all_gaps = torch.tensor([[float("nan")], [float("nan")]])
    assert "column 'a' has no value in any training row" in error_of(fill_missing, all_gaps, [], ["a"], "d.csv")


def test_csv_non_finite_value(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,x\ninf,2,y\n")
    assert "line 3, column 'a': value 'inf' is not finite" in error_of(read_csv_features, path, "label")


def test_csv_without_the_label_column_names_the_columns(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,cls\n1,2,x\n")
    message = error_of(build, path)
    assert "no label column 'label'; columns are a, b, cls (choose one with --data.label COLUMN)" in message


def test_csv_ragged_rows(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,x\n3,y\n")
    assert f"{path}: line 3 has 2 cells, the header has 3" in error_of(read_csv_features, path, "label")


def test_csv_with_one_class(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,label\n1,x\n2,x\n3,x\n")
    assert "only one class (x)" in error_of(build, path)


def test_csv_with_only_a_header(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,label\n")
    assert "needs a header row and at least one data row" in error_of(read_csv_features, path, "label")


def test_csv_with_only_the_label_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", "label\nx\ny\n")
    assert "no feature columns" in error_of(read_csv_features, path, "label")


def test_csv_that_is_not_text(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    assert "cannot read CSV" in error_of(read_csv_features, path, "label")


def test_csv_with_labels_outside_the_given_classes(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,label\n1,x\n2,z\n")
    assert "labels z are not among the classes x, y" in error_of(read_csv_features, path, "label", ["x", "y"])
