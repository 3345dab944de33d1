"""Helpers for the absl scripts of all three packages (the library lives elsewhere).

* :func:`run` defines a script's flags, makes them the flags ``--help`` lists, starts the absl ``main``
  and turns the errors a user can cause (bad flag values, bad data files, unknown system names) into
  one clear line on stderr and exit status 2, instead of a traceback.
* :func:`define_output_flags` adds ``--out_dir``, ``--overwrite`` and ``--tensorboard``, shared by the training
  scripts; :func:`out_dir_from_flags` resolves the default folder under ``runs/`` and refuses, before any work,
  a file or a folder that holds an earlier run (unless ``--overwrite``).
* :func:`define_readout_flags` adds the formula read-out's flags; :func:`report_data_formula` runs
  ``--data_formula`` (the network-free search of :mod:`conserve_tf.symbolic.conserved`) for either script.
* :func:`script_flags` returns the values of the running script's own flags (for ``results.json``).

``set_seed`` and ``save_model`` live in :mod:`conserve_tf.runs`; they are re-exported here for code
written against earlier versions.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import warnings

from absl import app, flags

from .runs import default_out_dir, save_model, set_seed

__all__ = ["UsageError", "RUN_FILES", "run", "quiet_tensorflow", "define_output_flags", "define_overwrite_flag",
           "define_readout_flags", "report_data_formula", "check_features", "run_files_in", "out_dir_from_flags",
           "script_flags", "save_model", "set_seed"]


class UsageError(ValueError):
    """A flag value or an input file that the script cannot use; printed as one line."""


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter (call before importing TensorFlow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _adopt_as_key_flags(names) -> None:
    """Make the flags ``names`` key flags of the main module, the ones ``--help`` lists.

    absl's ``--help`` shows the key flags of the module named by ``sys.argv[0]``: under ``python -m`` that
    is the script itself, but an installed console script's main module is pip's wrapper, which defines
    no flags. Registering the script's flags for ``sys.argv[0]`` works in both cases.
    """
    for name in names:
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])


def run(main, define_flags=None) -> None:
    """Define the flags (``define_flags()``, if given), then ``absl.app.run(main)`` with one-line user errors.

    Every flag ``define_flags`` defines (also through helpers such as
    :func:`conserve_tf.distribute.define_flags`) is listed by ``--help``; ``--helpfull`` adds absl's own.
    ``ValueError`` (including :class:`UsageError` and the package's data errors), ``FileNotFoundError``,
    ``KeyError`` and ``FloatingPointError`` (a diverged training, see
    :class:`conserve_tf.callbacks.NonFiniteLoss`) raised by ``main`` are reported in one line as
    ``error: <message>`` with exit status 2; anything else is a bug and keeps its traceback.
    """
    if define_flags is not None:
        before = set(flags.FLAGS)
        define_flags()
        _adopt_as_key_flags([name for name in flags.FLAGS if name not in before])

    def guarded(argv):
        try:
            return main(argv)
        except (ValueError, FileNotFoundError, KeyError, FloatingPointError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(2)

    app.run(guarded)


#: what the scripts write into ``--out_dir``: a folder holding one of these holds a run (see out_dir_from_flags)
RUN_FILES = ("model.keras", "results.json", "rollout.json", "readout.md", "readout_multi.md", "training.png",
             "invariant.png", "scatter.png", "count.png", "monitors.csv", "monitors.npz", "*_trajectories.png",
             "*_charges.png", "*_dq.png", "tensorboard")


def define_overwrite_flag() -> None:
    """``--overwrite``: let a script replace the files of an earlier run in ``--out_dir``."""
    flags.DEFINE_boolean("overwrite", False, "Write into an --out_dir that already holds a run's files, replacing "
                         "them (without it the script stops before any work, so nothing saved there is lost).")


def define_output_flags() -> None:
    """``--out_dir`` (results folder, default ``runs/<script>-<UTC time>``), ``--overwrite`` and ``--tensorboard``."""
    flags.DEFINE_string("out_dir", None, "Folder for model.keras, results.json and the figures (default: a new "
                        "runs/<script>-<UTC date-time> folder; an empty value writes nothing).")
    define_overwrite_flag()
    flags.DEFINE_boolean("tensorboard", False, "Log every epoch's loss terms and held-out metrics to TensorBoard "
                         "event files in <out_dir>/tensorboard (view: tensorboard --logdir <out_dir>).")


def define_readout_flags() -> None:
    """``--readout`` (polynomial | symbolic | both | none), ``--readout_seconds``, ``--readout_functions``,
    ``--readout_fit`` and ``--data_formula`` (see :func:`report_data_formula`)."""
    flags.DEFINE_enum("readout", "polynomial", ["polynomial", "symbolic", "both", "none"],
                      "Formula read off every output: ridge on polynomial features (the papers'), symbolic "
                      "regression with Operon (sin, log, 1/r ...; docs/symbolic.md), both, or none.")
    flags.DEFINE_float("readout_seconds", 35.0, "Search budget of the symbolic read-out, seconds per output.",
                       lower_bound=1.0)
    flags.DEFINE_list("readout_functions", ["div", "square", "sin", "cos", "exp", "log", "sqrt"],
                      "Functions the symbolic read-out may use besides +, -, *.")
    flags.DEFINE_enum("readout_fit", "monotone", ["monotone", "gradient", "affine"],
                      "Symbolic read-out: fit F = h(formula) with h a monotone cubic (docs/symbolic.md), fit the "
                      "formula's gradient direction to the output's input-gradient (blind to any monotone map "
                      "F = h(C)), or fit F = a*formula + b.")
    flags.DEFINE_boolean("data_formula", False, "Also search the raw groups, without the network, for the sparse formula "
                         "most nearly constant within them (symbolic.conserved_formula; --readout_seconds, "
                         "--readout_functions): a cross-check of the network's read-out.")


def report_data_formula(train, test, seed: int = 0) -> dict | None:
    """``--data_formula``: search the raw groups of ``train`` (scored on ``test``) for the formula conserved
    within them, print it and return what ``results.json`` keeps (None, with a message, for one group)."""
    from . import symbolic  # delayed: sympy and the library load only when asked

    if train.n_groups < 2 or test.n_groups < 2:
        print("\nformula conserved within the groups: skipped, it needs at least two groups (one trajectory here)")
        return None
    with warnings.catch_warnings():  # the verdict is printed below
        warnings.filterwarnings("ignore", message="no formula conserved", category=UserWarning)
        res = symbolic.conserved_formula(train.x, test.x, feature_names=train.feature_names,
                                         time_budget=flags.FLAGS.readout_seconds,
                                         functions=tuple(flags.FLAGS.readout_functions), seed=seed)
    head = ("formula conserved within the groups of the data" if res.found else
            "NO formula conserved within the groups of the data; the best candidate")
    print(f"\n{head} (no network, {res.seconds:.1f} s): {res.formula}\n"
          f"  held-out within-group fraction of its variance {res.fraction_test:.2e} (0: conserved, about 1: not)\n"
          f"  {res.verdict.message}")
    return {"formula": res.formula, "latex": res.latex, "fraction_fit": res.fraction_fit,
            "fraction_test": res.fraction_test, "found": res.found, "verdict": res.verdict.message,
            "seconds": res.seconds}


def check_features(data) -> list[str]:
    """Warn about features of GroupedData ``data`` that vary between groups but within none (a conserved quantity
    loaded as a feature, such as the known constant under another name): a network would simply read it. When no
    feature varies within the groups there is nothing to learn: UsageError. Returns the warned names."""
    conserved = data.conserved_features()
    still = [n for n, sd in zip(data.feature_names, data.flat().std(axis=0)) if sd == 0]
    if len(conserved) + len(still) == data.n_features:
        raise UsageError(f"no feature varies within the groups ({', '.join(data.feature_names)}): nothing is left "
                         "to learn an invariant from; if some of these columns are known constants, name them with "
                         "--constant_columns")
    if conserved:
        print(f"WARNING: feature(s) {', '.join(conserved)} vary between groups but within none: each is conserved "
              "already and the network will read it; if one is the known constant, name it with --constant_columns")
    return conserved


def run_files_in(folder: str) -> list[str]:
    """Names in ``folder`` that a script run writes (:data:`RUN_FILES`), sorted; [] when it has none."""
    if not os.path.isdir(folder):
        return []
    return sorted(name for name in os.listdir(folder) if any(fnmatch.fnmatch(name, pat) for pat in RUN_FILES))


def out_dir_from_flags(script: str) -> str | None:
    """The ``--out_dir`` to write to: the flag, a fresh ``runs/<script>-...`` when unset, None when empty.

    Checked before any work: a path that is a file, or a folder holding an earlier run's files (unless
    ``--overwrite``), is a usage error, so a long training never ends unable to write, or over a saved run.
    """
    value = flags.FLAGS.out_dir
    if value is None:
        return default_out_dir(script)
    if "tensorboard" in flags.FLAGS and flags.FLAGS.tensorboard and not value:
        raise UsageError("--tensorboard writes into --out_dir; give a folder (or leave --out_dir unset)")
    if value and os.path.exists(value) and not os.path.isdir(value):
        raise UsageError(f"--out_dir {value!r} is a file, not a folder")
    earlier = run_files_in(value) if value else []
    if earlier and not ("overwrite" in flags.FLAGS and flags.FLAGS.overwrite):
        shown = ", ".join(earlier[:5]) + (" ..." if len(earlier) > 5 else "")
        raise UsageError(f"--out_dir {value!r} already holds a run ({shown}): give a new folder, or pass "
                         "--overwrite to replace those files")
    return value or None


def script_flags() -> dict:
    """``{name: value}`` of the running script's own flags (the ones ``--help`` lists)."""
    return {f.name: f.value for f in flags.FLAGS.get_key_flags_for_module(sys.argv[0])}
