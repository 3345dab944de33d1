"""Fig. 9 / appendix H.3 of Ha & Jeong 2021: random data with no invariant, and the package's verdict.

    python -m benchmarks.conservnet_fig9 [--quick] [--out_dir results/conservnet_fig9] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S]

ConservNet (the NV loss, with the default recipe's settings for it: 3 x 128 Mish, Adam 2e-3) is trained on
5-dimensional N(mu, I) data in (20, 100) groups that share nothing. The paper
shows the training loss falling while the test loss does not, with large intra-group deviations; it
gives no number. The package turns this into :func:`conserve_tf.verdict.invariant_verdict`, computed on
held-out groups; S1 is trained with the same budget as the positive control. Writes ``fig9.png`` (train
and test loss, mean intra-group std of F, for random data and S1) and the results table.
"""

from __future__ import annotations

from benchmarks import _common, harness


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, seed: int = 0) -> dict:
    """Train on random data and on S1; returns curves and verdicts of both."""
    from conserve_tf import fit_conservnet
    from conserve_tf.verdict import invariant_verdict

    budget = budget or _common.make_budget(quick, base=_common.BUDGETS["full_nv"])
    groups, members = (10, 40) if quick else (20, 100)
    points = 5 if quick else 40
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    out, rows = {"budget": budget}, []
    for name, style in (("random", "-"), ("s1", "--")):
        train, test = _common.paper_split(name, groups, members, seed=seed)
        kw = _common.fit_kwargs(budget, train, points)
        curves = _common.loss_curves(test, constant=None, steps_per_epoch=kw["steps_per_epoch"])
        # one training's curves, as the paper's figure (a restart would append a second training to them)
        model, _ = fit_conservnet(train, width=budget["width"], depth=budget["depth"], activation=budget["activation"],
                                  seed=seed, objective="nv", callbacks=[curves], restarts=0, **kw)
        rec = curves.records
        v = invariant_verdict(model, test, train,
                              test_spread_history=[r["test_relative_spread"] for r in rec])
        out[name] = {"verdict": v.as_dict(), "curves": rec}
        ep = [r["step"] for r in rec]
        axes[0].plot(ep, [r["train_loss"] for r in rec], style, label=f"{name} train")
        axes[0].plot(ep, [r["test_loss"] for r in rec], style, label=f"{name} test")
        axes[1].plot(ep, [r["test_spread_f"] for r in rec], style, label=f"{name} held-out")
        axes[2].plot(ep, [r["test_relative_spread"] for r in rec], style, label=name)
        print(f"{name}: {v.message}")
        rows.append({"quantity": f"Fig. 9 verdict on {name} data", "paper": "none" if name == "random" else "found",
                     "ours": "found" if v.found else "none", "note": v.message})
        rows.append({"quantity": f"Fig. 9 {name}: held-out / shuffled relative spread", "paper": None,
                     "ours": v.ratio, "note": f"train relative spread {v.train_spread:.3f}"})
        first, last = rec[0], rec[-1]
        rows.append({"quantity": f"Fig. 9 {name}: train loss first -> last", "paper": None,
                     "ours": f"{first['train_loss']:.4f} -> {last['train_loss']:.4f}",
                     "note": f"test loss {first['test_loss']:.4f} -> {last['test_loss']:.4f}"})
    axes[0].set_title("NV loss", fontsize=9)
    axes[1].set_title("mean intra-group std of F (held out)", fontsize=9)
    axes[2].set_title("held-out relative spread (verdict statistic)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.suptitle(f"Random data vs S1 ({groups}, {members}); budget {budget}", fontsize=9)
    harness.save_figure(fig, out_dir, "fig9.png")
    harness.write_results(out_dir, "conservnet_fig9", rows, budget, notes=_common.PAPER_BUDGET + " (5 000 here)")
    out["rows"] = rows
    return out


if __name__ == "__main__":
    _common.main("conservnet_fig9", benchmark, base=_common.BUDGETS["full_nv"])
