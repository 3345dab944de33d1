"""Property-based tests: random malformed input to the grouped-data loaders gives a clear error or a
correct load, never a crash deep inside NumPy or TensorFlow."""

import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conserve_tf import GroupedData, GroupedDataError

CLEAR = (GroupedDataError, FileNotFoundError)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cells = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.sampled_from(["", "abc", "1e400", "nan", "-inf", " 3 ", "1,5", '"', "0x10"]),
)
names = st.sampled_from(["group", "C", "x1", "x2", "t", "group ", ""])


@st.composite
def csv_text(draw):
    header = draw(st.lists(names, min_size=0, max_size=5))
    n_rows = draw(st.integers(0, 8))
    rows = [draw(st.lists(cells, min_size=max(0, len(header) - 1), max_size=len(header) + 1)) for _ in range(n_rows)]
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return "\n".join(lines) if draw(st.booleans()) else "\r\n".join(lines)


def _check_loaded(d):
    assert isinstance(d, GroupedData)
    assert d.x.ndim == 3 and d.n_members >= 2 and np.isfinite(d.x).all()
    if d.c is not None:
        assert d.c.shape[0] == d.n_groups and np.isfinite(d.c).all()


@SETTINGS
@given(csv_text())
def test_random_csv_gives_clear_error_or_valid_data(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.csv")
        with open(path, "w", newline="") as fh:
            fh.write(text)
        try:
            d = GroupedData.load(path)
        except CLEAR as err:
            assert str(err)  # a message, naming the problem
        else:
            _check_loaded(d)


arrays = st.one_of(
    st.integers(0, 4).flatmap(lambda r: st.lists(st.integers(0, 4), min_size=r, max_size=r)).map(
        lambda shape: np.random.default_rng(len(shape)).normal(size=shape)),
    st.just(np.array([[[np.nan, 1.0], [2.0, 3.0]]])),
    st.just(np.array([[["a", "b"], ["c", "d"]]])),
    st.just(np.zeros((2, 3, 2), dtype=complex)),
)


@SETTINGS
@given(arrays, st.one_of(st.none(), st.integers(0, 4).map(lambda n: np.arange(float(n)))))
def test_random_arrays_give_clear_error_or_valid_data(x, c):
    try:
        d = GroupedData(x, c=c)
    except CLEAR as err:
        assert str(err)
    else:
        _check_loaded(d)


@SETTINGS
@given(st.integers(1, 30), st.integers(1, 3), st.lists(st.integers(0, 4), min_size=1, max_size=30),
       st.sampled_from(["error", "truncate", "sample"]))
def test_random_flat_groupings(n, f, ids, ragged):
    x = np.random.default_rng(n).normal(size=(n, f))
    gid = np.resize(np.asarray(ids), len(ids))
    try:
        d = GroupedData.from_flat(x, gid, ragged=ragged)
    except CLEAR as err:
        assert str(err)
    else:
        _check_loaded(d)
        counts = np.unique(gid, return_counts=True)[1]
        assert d.n_groups == len(counts) and d.n_members == counts.min()


@SETTINGS
@given(st.binary(min_size=0, max_size=200))
def test_random_bytes_as_npz(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        with open(path, "wb") as fh:
            fh.write(blob)
        try:
            d = GroupedData.load(path)
        except CLEAR as err:
            assert str(err)
        else:
            _check_loaded(d)
