"""Reproduce Wetzel et al. 2020 (paper 004): accuracies, R² tables I-V, recovered formulas, Figs. 3-7.

    python -m benchmarks.siamese_paper [--quick] [--seeds 0,1,2] [--out_dir results/siamese_paper]
        [--epochs N] [--groups 50000] [--em_groups 200000] [--test_groups 5000] [--hidden 160,160]
        [--recipe cosine] [--systems special_relativity,...] [--symmetry rotation] [--first_layer product]

Without flags every data set is trained with the defaults of ``python -m siamese.train --system=NAME``
(the paper's data sizes, 160-160 tanh with a product first layer, the ``cosine`` recipe with its 10-million-pair
budget; dense after the rotation invariants with ``--symmetry``); ``--first_layer=dense`` trains the paper's plain
network instead.
``special_relativity`` draws Λ from the whole Lorentz group, ``sr_orthochronous`` from the proper
orthochronous group only (docs/siamese.md: there sign(t) of timelike events is a second invariant that the
network uses). The paper trains up to 10 000 epochs; the numbers reached are printed beside the paper's
(results.csv/.md/.json), one row per seed, with one scatter plot per system and seed. As in ``siamese.train``,
``central_fixed_L`` trains on the rotation invariants of the state by default (with L fixed the raw state's
orbit orientation is an exact invariant the network reads instead of E; docs/siamese.md);
``--symmetry=rotation`` trains both central-potential data sets (whose features are one body's position and
velocity) that way, ``--symmetry=none`` both on the raw state, the paper's network.
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks import harness

PAPER_ACC = {"special_relativity": (94, 92), "sr_orthochronous": (94, 92), "sr_fixed_interval": (58, 57), "central_potential": (98, 97),
             "central_fixed_L": (99, 99), "electromagnetism": (95, 94), "em_fixed_EdotB": (93, 92)}
ROTATION_SYSTEMS = ("central_potential", "central_fixed_L")  # features (x, y, vx, vy): --symmetry applies
PAPER_TABLES = {  # degree -> (train R², test R²); Tables I-V
    "special_relativity": {1: (0.0013, 0.0005), 2: (0.9894, 0.9893), 3: (0.9900, 0.9899), 4: (0.9907, 0.9906)},
    "sr_orthochronous": {1: (0.0013, 0.0005), 2: (0.9894, 0.9893), 3: (0.9900, 0.9899), 4: (0.9907, 0.9906)},
    "central_potential": {1: (0.0003, -0.0003), 2: (0.9936, 0.9939), 3: (0.9937, 0.9940), 4: (0.9952, 0.9858)},
    "central_fixed_L": {1: (0.8055, 0.8074), 2: (0.9719, 0.9729), 3: (0.9938, 0.9940), 4: (0.9982, 0.9982)},
    "electromagnetism": {1: (0.0000, 0.0000), 2: (0.9902, 0.9902), 3: (0.9902, 0.9902), 4: (0.9946, 0.9946)},
    "em_fixed_EdotB": {1: (0.0002, -0.0003), 2: (0.9956, 0.9956), 3: (0.9957, 0.9956), 4: (0.9962, 0.9962)},
}
PAPER_FORMULA = {"special_relativity": ("s2", "88 (-t² + x² + y² + z²) - 60"),
                 "sr_orthochronous": ("s2", "88 (-t² + x² + y² + z²) - 60"),
                 "central_potential": ("L", "-403 (x vy - y vx)"),
                 "central_fixed_L": ("E", "90 (vx²/2 + vy²/2 - 1/r) + ... (paper 002, with 1/r features)"),
                 "electromagnetism": ("EdotB", "-170 (Ex Bx + Ey By + Ez Bz) + 53"),
                 "em_fixed_EdotB": ("E2mB2", "-216 (|E|² - |B|²) + 14")}


def benchmark(quick: bool, out_dir: str, epochs: int | None = None, groups: int | None = None,
              em_groups: int | None = None, test_groups: int | None = None, hidden=None, recipe: str = "cosine",
              seeds=(0,), systems=None, symmetry: str | None = None, first_layer: str | None = None) -> dict:
    """Train one SNN per data set of paper 004 and seed, and read it out; returns {seed: {system: numbers}}."""
    from conserve_tf.layers import check_first_layer
    from siamese.training import PAPER_GROUPS, default_groups, default_symmetry

    unknown = set(systems or ()) - set(PAPER_ACC)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; choose from {list(PAPER_ACC)}")
    os.makedirs(out_dir, exist_ok=True)
    sizes = dict(epochs=2 if quick else epochs, test_groups=test_groups or (300 if quick else 5_000),
                 hidden=tuple(hidden or ((16,) if quick else (160, 160))), recipe=recipe, quick=quick,
                 first_layer=first_layer)
    if first_layer is not None:
        check_first_layer(first_layer)
    if symmetry not in (None, "rotation", "none"):
        raise ValueError(f"symmetry must be None (each data set's default), 'rotation' or 'none', got {symmetry!r}")
    results = {}
    for seed in seeds:
        for k, name in enumerate(PAPER_ACC):
            if systems and name not in systems:
                continue
            n = 600 if quick else (em_groups if name in PAPER_GROUPS else groups) or default_groups(name)
            chosen = default_symmetry(name) if symmetry is None else symmetry  # as siamese.train chooses
            results.setdefault(int(seed), {})[name] = _one(name, k, n, int(seed), out_dir,
                                                            chosen if name in ROTATION_SYSTEMS and chosen != "none"
                                                            else None, **sizes)
    harness.write_results(out_dir, "siamese_paper", [row for seed, res in results.items() for row in _rows(res, seed)],
                          title="Siamese network, paper 004 reproduction: conserve-tf beside the paper")
    return results


def _one(name, k, n, seed, out_dir, symmetry, epochs, test_groups, hidden, recipe, quick, first_layer) -> dict:
    """Train and read out one data set with one seed (``symmetry``, ``first_layer``: see
    :func:`siamese.train_siamese`)."""
    from siamese import EXTRA_FEATURES, invariant_scores, make_system, pattern_match, readout
    from siamese import scatter_invariants, train_siamese

    train = make_system(name, n, 2, seed=seed * 1000 + 10 * k)
    test = make_system(name, test_groups, 2, seed=seed * 1000 + 10 * k + 1)
    start = time.perf_counter()
    model, info = train_siamese(train, test, hidden=hidden, recipe=recipe, epochs=epochs, seed=seed,
                                validate=not quick, symmetry=symmetry, first_layer=first_layer)
    row = {"symmetry": symmetry, "first_layer": model.first_layer,
           "train_accuracy": info["train_accuracy"], "test_accuracy": info["test_accuracy"],
           "epochs": info["epochs"], "groups": n, "seconds": time.perf_counter() - start,
           "scores": invariant_scores(model, test)}
    max_samples = 1000 if quick else 20_000
    if name in PAPER_TABLES:
        res = readout(model, train, test, max_samples=max_samples)
        row.update(table=res.table, formula=res.formula, formula_degree=res.degree)
        target, _ = PAPER_FORMULA[name]
        extra = EXTRA_FEATURES.get(name)
        pm = pattern_match(model, test, target, degree=2, extra_features=extra if target == "E" else None,
                           max_samples=max_samples)
        row.update(pattern=target, pattern_normalized=pm["normalized"], pattern_share=pm["share"],
                   pattern_formula=pm["formula"])
        if extra:
            r1 = readout(model, train, test, extra_features=extra, max_samples=max_samples)
            row.update(table_1r=r1.table, formula_1r=r1.formula, lrl_r2=_lrl_r2(model, test))
    square = name == "central_fixed_L"
    row["plot"] = scatter_invariants(model, test, os.path.join(out_dir, f"{name}_seed{seed}.png"),
                                     title=f"{name}, seed {seed}: f{'²' if square else ''} against the invariants",
                                     square=square)
    return row


def _lrl_r2(model, test):
    """R² of the least-squares fit f ≈ a Ax + b Ay + c: does f read a direction of the Laplace-Runge-Lenz vector?"""
    f = model.invariant(test.flat())
    a = np.stack([test.flat_constants("Ax"), test.flat_constants("Ay"), np.ones(len(f))], 1)
    coef, *_ = np.linalg.lstsq(a, f, rcond=None)
    return float(1 - np.sum((a @ coef - f) ** 2) / np.sum((f - f.mean()) ** 2))


def _rows(results, seed) -> list:
    """One results row per number of paper 004 that we measure, the paper's beside it."""
    rows = []
    for system, r in results.items():
        name = f"{system} (seed {seed}{', rotation-invariant inputs' if r.get('symmetry') else ''})"
        sizes = (f"{r['first_layer']} first layer, {r['epochs']} epochs, {r['groups']} training groups, "
                 f"{r['seconds']:.0f} s; scatter plot "
                 f"{os.path.basename(r['plot'])}")
        for i, part in enumerate(("train", "test")):
            rows.append({"quantity": f"{name}: {part} accuracy", "paper": PAPER_ACC[system][i] / 100,
                         "ours": r[f"{part}_accuracy"], "note": sizes})
        rows += [{"quantity": f"{name}: |rho(f, {c})| on the test set", "ours": sc["rho_f"],
                  "note": f"|rho(f²)| {sc['rho_f2']:.3f}"} for c, sc in r["scores"].items()]
        if "table" not in r:
            continue
        paper = PAPER_TABLES[system]
        rows += [{"quantity": f"{name}: read-out R² degree {t['degree']} (test)", "paper": paper[t["degree"]][1],
                  "ours": t["r2_test"], "note": f"train {t['r2_train']:.4f} (paper {paper[t['degree']][0]:.4f})"}
                 for t in r["table"]]
        rows.append({"quantity": f"{name}: dominant terms of f (degree {r['formula_degree']})",
                     "paper": PAPER_FORMULA[system][1], "ours": r["formula"]})
        rows.append({"quantity": f"{name}: share of the degree-2 fit on the terms of {r['pattern']}",
                     "ours": r["pattern_share"], "note": "coefficients over their common scale: " + ", ".join(
                         f"{m}: {v:+.3f}" for m, v in r["pattern_normalized"].items())})
        if "table_1r" in r:
            rows += [{"quantity": f"{name}: read-out R² degree {t['degree']} with 1/r offered (test)",
                      "paper": None, "ours": t["r2_test"], "note": f"train {t['r2_train']:.4f} (paper 002)"}
                     for t in r["table_1r"]]
            rows.append({"quantity": f"{name}: dominant terms of f with 1/r", "ours": r["formula_1r"]})
            rows.append({"quantity": f"{name}: R² of f ≈ a Ax + b Ay + c (Laplace-Runge-Lenz vector), test",
                         "ours": r["lrl_r2"]})
    return rows


def define_flags():
    """The reproduction's own absl flags."""
    from absl import flags

    flags.DEFINE_integer("epochs", None, "epoch budget per system (default: the recipe's, as siamese.train; 2 "
                         "with --quick)")
    flags.DEFINE_integer("groups", None, "training groups per system (default 50000, the paper's)")
    flags.DEFINE_integer("em_groups", None, "training groups for electromagnetism (default 200000, the paper's)")
    flags.DEFINE_integer("test_groups", None, "test groups per system (default 5000, as the paper)")
    flags.DEFINE_list("hidden", None, "hidden widths (default 160,160 as siamese.train; 16 with --quick)")
    flags.DEFINE_enum("recipe", "cosine", ["cosine", "adam", "paper"], "training recipe (siamese.training.RECIPES)")
    flags.DEFINE_list("seeds", ["0"], "seeds; each trains every system once")
    flags.DEFINE_list("systems", None, f"run only these (default all: {', '.join(PAPER_ACC)})")
    flags.DEFINE_enum("symmetry", None, ["rotation", "none"], "rotation: train both central-potential data sets on "
                      "the rotation invariants of the state; none: both on the raw state (the paper's network); "
                      "default: as siamese.train, rotation for central_fixed_L only (docs/siamese.md)")
    flags.DEFINE_enum("first_layer", None, ["product", "dense"], "first hidden layer of f (default: as siamese.train, "
                      "product, dense with --symmetry); dense is the paper's network")


if __name__ == "__main__":
    harness.main("siamese_paper", benchmark, define_flags, lambda F: {
        "epochs": F.epochs, "groups": F.groups, "em_groups": F.em_groups, "test_groups": F.test_groups,
        "hidden": [int(h) for h in F.hidden] if F.hidden else None, "recipe": F.recipe, "systems": F.systems,
        "seeds": [int(s) for s in F.seeds], "symmetry": F.symmetry, "first_layer": F.first_layer}, seed=False)
