"""Checks shared by the script tests: a run folder holds its files, readable figures and the JSON."""

import json
import os
import subprocess
import sys

import matplotlib.image
import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}


def not_blank(path) -> bool:
    """matplotlib reads the PNG back and its colours vary (a blank figure has one colour)."""
    image = matplotlib.image.imread(path)
    return image.ndim == 3 and float(image[..., :3].std()) > 0


def check_run_folder(out_dir, files) -> dict:
    """Assert every name in ``files`` exists in ``out_dir`` and every PNG is a real figure; return results.json."""
    for name in files:
        path = os.path.join(out_dir, name)
        assert os.path.exists(path), f"{name} missing from {out_dir}: {sorted(os.listdir(out_dir))}"
        if name.endswith(".png"):
            assert not_blank(path), f"{name} is blank"
    with open(os.path.join(out_dir, "results.json")) as fh:
        return json.load(fh)


def printed_number(stdout: str, after: str) -> float:
    """The number printed right after ``after`` (first occurrence), e.g. 'rho = '."""
    start = stdout.index(after) + len(after)
    return float(stdout[start:].split()[0].rstrip(","))


def assert_help_lists(command: str, flags) -> None:
    """``<command> --help`` (the console script installed beside this Python) names every one of ``flags``."""
    path = os.path.join(os.path.dirname(sys.executable), command)
    if not os.path.exists(path):
        pytest.skip(f"{command} is not installed (pip install -e .)")
    out = subprocess.run([path, "--help"], capture_output=True, text=True, env=ENV, timeout=120)
    assert "Traceback" not in out.stderr, out.stderr[-2000:]  # absl exits with status 1 after --help
    missing = [flag for flag in flags if flag not in out.stdout]
    assert not missing, f"{command} --help does not list {missing}:\n{out.stdout[:3000]}"
