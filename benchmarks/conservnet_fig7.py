"""Fig. 7 / appendix H.1 of Ha & Jeong 2021: rho for data conditions (N, M) with N·M = 2000 points.

    python -m benchmarks.conservnet_fig7 [--quick] [--out_dir results/conservnet_fig7] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S] [--systems ...] [--conditions 2x1000,...]

Conditions (2, 1000), (4, 500), (10, 200), (20, 100), (40, 50), (100, 20) for S1, S2, S3,
Lotka-Volterra and Kepler (L), on the paper's split; the paper finds rho > 0.9 everywhere after
50 000 epochs. Writes ``fig7.png`` (rho against condition per system) and the results table.
"""

from __future__ import annotations

from benchmarks import _common, harness

SYSTEMS = ("s1", "s2", "s3", "lotka_volterra", "kepler")
CONDITIONS = ((2, 1000), (4, 500), (10, 200), (20, 100), (40, 50), (100, 20))


def _parse_conditions(items):
    out = []
    for it in items:
        try:
            n, m = (int(v) for v in str(it).lower().split("x"))
        except ValueError:
            raise ValueError(f"a condition must look like NxM (e.g. 20x100), got {it!r}") from None
        out.append((n, m))
    return tuple(out)


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, systems=None, conditions=None,
              seed: int = 0) -> dict:
    """rho on the paper's split for every (system, condition); returns {system: {"NxM": row}}."""
    budget = budget or _common.make_budget(quick)
    systems = tuple(systems or (("s1",) if quick else SYSTEMS))
    conditions = tuple(conditions or (((2, 100), (10, 20)) if quick else CONDITIONS))
    results, rows = {}, []
    for name in systems:
        results[name] = {}
        for n, m in conditions:
            train, test = _common.paper_split(name, n, m, seed=seed)
            _, _, row = _common.train_and_score(train, test, budget, seed=seed)
            results[name][f"{n}x{m}"] = row
            rows.append({"quantity": f"Fig. 7 rho {name} ({n}, {m})", "paper": "> 0.9", "ours": row["rho"],
                         "note": f"R² {row['r2']:.4f}, {row['seconds']:.0f} s"})
            print(f"{name} ({n}, {m}): rho {row['rho']:.4f}", flush=True)
    plt = harness.pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    labels = [f"({n}, {m})" for n, m in conditions]
    for name in systems:
        ax.plot(range(len(conditions)), [results[name][f"{n}x{m}"]["rho"] for n, m in conditions], "o-", label=name)
    ax.axhline(0.9, color="k", ls=":", lw=1, label="paper: all > 0.9")
    ax.set_xticks(range(len(conditions)), labels, fontsize=8)
    ax.set_xlabel("(N, M)")
    ax.set_ylabel("Pearson rho (test)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.set_title(f"budget {budget}", fontsize=7)
    harness.save_figure(fig, out_dir, "fig7.png")
    harness.write_results(out_dir, "conservnet_fig7", rows, budget, notes=_common.PAPER_BUDGET)
    return {"budget": budget, "systems": results, "rows": rows}


def define_flags():
    """The benchmark's own absl flags (harness.main defines them when run as a script)."""
    from absl import flags

    flags.DEFINE_list("systems", None, "subset of s1,s2,s3,lotka_volterra,kepler (default: all)")
    flags.DEFINE_list("conditions", None, "conditions as NxM (default: the paper's six)")


if __name__ == "__main__":
    _common.main("conservnet_fig7", benchmark, define_flags, lambda F: {
        "systems": F.systems, "conditions": _parse_conditions(F.conditions) if F.conditions else None})
