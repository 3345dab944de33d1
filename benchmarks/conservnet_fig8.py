"""Fig. 8 / appendix H.2 of Ha & Jeong 2021: robustness to Q, R and the shape of the spreading ball.

    python -m benchmarks.conservnet_fig8 [--quick] [--out_dir results/conservnet_fig8] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S] [--values 0.5,1,2]

The paper's NV loss (Eq. (1)) with the default recipe's settings for it (3 x 128 Mish, Adam 2e-3, 4000 steps,
all groups per step; ``BUDGETS["full_nv"]`` of ``benchmarks._common``).
rho on S2 (20, 100) against Q with R = 1 and against R with Q = 1 (the paper: practically flat after
20 000 epochs), and with the noise drawn in the L1 and L-infinity balls of radius 1 instead of L2
(the paper: rho 0.9910 and 0.9862). Writes ``fig8.png`` and the results table.
"""

from __future__ import annotations

from benchmarks import _common, harness

PAPER_BALL = {"l1": 0.9910, "linf": 0.9862}
VALUES = (0.5, 1.0, 2.0)


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, values=None, seed: int = 0) -> dict:
    """Train S2 for every Q (R = 1), every R (Q = 1) and the L1 / L∞ balls; returns the rows."""
    budget = budget or _common.make_budget(quick, base=_common.BUDGETS["full_nv"])
    values = tuple(float(v) for v in (values or ((2.0,) if quick else VALUES)))
    if any(v <= 0 for v in values):
        raise ValueError(f"Q and R values must be positive, got {values}")
    groups, members = (10, 40) if quick else (20, 100)
    train, test = _common.paper_split("s2", groups, members, seed=seed)
    cache = {}

    def run(q=1.0, r=1.0, ball="l2"):
        key = (q, r, ball)
        if key not in cache:
            _, _, row = _common.train_and_score(train, test, budget, seed=seed, objective="nv", q=q, r=r,
                                                 spreader=ball)
            cache[key] = row
            print(f"Q {q} R {r} {ball}: rho {row['rho']:.4f}", flush=True)
        return cache[key]

    vs_q = {v: run(q=v) for v in values}
    vs_r = {} if quick else {v: run(r=v) for v in values}  # quick: Q scan and balls only
    balls = {b: run(ball=b) for b in ("l2", "l1", "linf")}
    rows = [{"quantity": f"Fig. 8 rho S2, Q = {v:g} (R = 1)", "paper": "flat", "ours": row["rho"], "note": ""}
            for v, row in vs_q.items()]
    rows += [{"quantity": f"Fig. 8 rho S2, R = {v:g} (Q = 1)", "paper": "flat", "ours": row["rho"], "note": ""}
             for v, row in vs_r.items()]
    rows += [{"quantity": f"App. H.2 rho S2, {b} ball", "paper": PAPER_BALL.get(b), "ours": row["rho"],
              "note": f"R² {row['r2']:.4f}"} for b, row in balls.items()]
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (label, d) in zip(axes, (("Q (R = 1)", vs_q), ("R (Q = 1)", vs_r))):
        ax.plot(list(d), [row["rho"] for row in d.values()], "o-", label="L2 ball") if d else None
        for b, mark in (("l1", "s"), ("linf", "^")):
            ax.plot([1.0], [balls[b]["rho"]], mark, label=f"{b} ball")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("rho (test)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    fig.suptitle(f"S2 ({groups}, {members}); budget {budget}", fontsize=8)
    harness.save_figure(fig, out_dir, "fig8.png")
    harness.write_results(out_dir, "conservnet_fig8", rows, budget, notes=_common.PAPER_BUDGET + " (20 000 here)")
    return {"budget": budget, "vs_q": vs_q, "vs_r": vs_r, "balls": balls, "rows": rows}


def define_flags():
    """The benchmark's own absl flags (harness.main defines them when run as a script)."""
    from absl import flags

    flags.DEFINE_list("values", None, "Q and R values to scan (default 0.5,1,2)")


if __name__ == "__main__":
    _common.main("conservnet_fig8", benchmark, define_flags, base=_common.BUDGETS["full_nv"])
