"""Fig. 2a of Ha & Jeong 2021: R² of a·F + b against C for S1, S2, S3, Lotka-Volterra, Kepler at (20, 100).

    python -m benchmarks.conservnet_fig2 [--quick] [--out_dir results/conservnet_fig2] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S] [--systems s1,s2,...]

Each system is trained twice: on the paper's split (train and test share the constants, see
``benchmarks._common.paper_split``) and -- beyond the paper -- on a split by group (half of 2N groups held
out: test constants never seen in training). Kepler is scored against L, the invariant ConservNet finds
first. Writes ``fig2a.png`` (top row: paper split, bottom row: split by group) and the results table.
"""

from __future__ import annotations

from benchmarks import _common, harness

PAPER_R2 = {"s1": 0.9994, "s2": 0.9919, "s3": 0.9918, "lotka_volterra": 0.9866, "kepler": 0.9974}
LABELS = {"s1": "S1", "s2": "S2", "s3": "S3", "lotka_volterra": "Lotka-Volterra", "kepler": "Kepler (L)"}


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, systems=None, seed: int = 0,
              groups: int | None = None, members: int | None = None) -> dict:
    """Train on every system with both splits; returns {system: {"paper": row, "group": row}}."""
    budget = budget or _common.make_budget(quick)
    systems = list(systems or (["s1"] if quick else PAPER_R2))
    unknown = [s for s in systems if s not in PAPER_R2]
    if unknown:
        raise ValueError(f"unknown system(s) {unknown}; Fig. 2a has {list(PAPER_R2)}")
    groups = groups or (10 if quick else 20)
    members = members or (40 if quick else 100)
    splits = {"paper": _common.paper_split, "group": _common.group_split}
    plt = harness.pyplot()
    fig, axes = plt.subplots(2, len(systems), figsize=(3.2 * len(systems), 6.4), squeeze=False)
    results, rows = {}, []
    for j, name in enumerate(systems):
        results[name] = {}
        for i, (split, make) in enumerate(splits.items()):
            train, test = make(name, groups, members, seed=seed)
            model, _, row = _common.train_and_score(train, test, budget, seed=seed)
            from conserve_tf import predict_groups

            f = predict_groups(model, test)[..., 0]
            _common.plot_fit(axes[i, j], f, test.constants(0), f"{LABELS[name]} ({split} split)", seed)
            results[name][split] = row
            note = (f"rho {row['rho']:.4f}, std {row['std']:.4f}, held-out relative spread "
                    f"{row['relative_spread']:.3f}, {row['seconds']:.0f} s")
            if test.n_constants > 1:  # Kepler: also the other invariant, E
                from conserve_tf import evaluate_invariant

                other = evaluate_invariant(model, test, constant=1)
                row["rho_" + test.constant_names[1]] = other["rho"]
                note += f"; rho against {test.constant_names[1]} {other['rho']:.4f}"
            rows.append({"quantity": f"Fig. 2a R² {LABELS[name]} ({split} split)",
                         "paper": PAPER_R2[name] if split == "paper" else None, "ours": row["r2"], "note": note})
    fig.suptitle(f"ConservNet, condition ({groups}, {members}); budget {budget}", fontsize=9)
    harness.save_figure(fig, out_dir, "fig2a.png")
    harness.write_results(out_dir, "conservnet_fig2", rows, budget,
                          notes=f"condition ({groups}, {members}); {_common.PAPER_BUDGET}")
    return {"budget": budget, "groups": groups, "members": members, "systems": results, "rows": rows}


def define_flags():
    """The benchmark's own absl flags (harness.main defines them when run as a script)."""
    from absl import flags

    flags.DEFINE_list("systems", None, "subset of s1,s2,s3,lotka_volterra,kepler (default: all)")


if __name__ == "__main__":
    _common.main("conservnet_fig2", benchmark, define_flags)
