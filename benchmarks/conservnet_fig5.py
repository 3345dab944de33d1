"""Fig. 5 / appendix C of Ha & Jeong 2021: the variance term alone collapses to a constant.

    python -m benchmarks.conservnet_fig5 [--quick] [--out_dir results/conservnet_fig5] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S]

The ablation trains with L_simple = sum_i Var_j F(x_ij) (Eq. (C1)) -- no spreading term -- which has the
trivial global minimum F = const; the paper reports R² 0.5317 on S2 (20, 100) after 20 000 epochs with
train and test loss near zero. The full NV loss (Eq. (1)) is trained beside it with the same budget, the default
recipe's settings for the NV loss (``BUDGETS["full_nv"]``: 3 x 128 Mish, Adam 2e-3, 4000 steps).
Writes ``fig5.png`` (curves of train/test loss, rho and mean intra-group std; C against a F + b for both
losses) and the results table.
"""

from __future__ import annotations

from benchmarks import _common, harness
from conserve_tf import ConservNet, NVLoss, VarianceLoss, input_scaling

PAPER_R2_SIMPLE = 0.5317
PAPER_R2_NV = 0.9919


def _fit(train, test, budget, seed, simple: bool, points: int):
    from conserve_tf import fit_conservnet

    scale, offset, log = input_scaling(train, "auto")
    objective = VarianceLoss() if simple else NVLoss(seed=seed)  # Eq. (C1) alone, or the full Eq. (1)
    model = ConservNet(width=budget["width"], depth=budget["depth"], activation=budget["activation"], scale=scale,
                       offset=offset, log_inputs=log, objective=objective)
    kw = _common.fit_kwargs(budget, train, points)
    curves = _common.loss_curves(test, steps_per_epoch=kw["steps_per_epoch"])
    model, _ = fit_conservnet(train, model=model, seed=seed, callbacks=[curves], **kw)
    return model, curves.records


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, seed: int = 0) -> dict:
    """Train S2 (20, 100) with L_simple and with the NV loss; returns both reports and curves."""
    from conserve_tf import evaluate_invariant, predict_groups

    budget = budget or _common.make_budget(quick, base=_common.BUDGETS["full_nv"])
    groups, members = (10, 40) if quick else (20, 100)
    train, test = _common.paper_split("s2", groups, members, seed=seed)
    points = 5 if quick else 40
    plt = harness.pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 7))
    out, rows = {"budget": budget}, []
    for i, (label, simple) in enumerate((("simple", True), ("nv", False))):
        model, rec = _fit(train, test, budget, seed, simple, points)
        rep = evaluate_invariant(model, test)
        f = predict_groups(model, test)[..., 0]
        rep["output_std"] = float(f.std())
        out[label] = {**rep, "curves": rec}
        ep = [r["step"] for r in rec]
        ax = axes[i, 0]
        ax.plot(ep, [r["train_loss"] for r in rec], label="train loss")
        ax.plot(ep, [r["test_loss"] for r in rec], label="test loss")
        lows = [min(r["train_loss"], r["test_loss"]) for r in rec]
        ax.set_yscale("log") if min(lows) > 0 else ax.set_yscale("symlog", linthresh=1e-8)
        ax.set_xlabel("step")
        ax.set_title(f"{'L_simple' if simple else 'NV loss'}: losses", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[i, 1]
        ax.plot(ep, [r["rho"] for r in rec], label="rho")
        ax.plot(ep, [r["std"] for r in rec], label="mean intra-group std")
        ax.axhline(1.0, color="g", ls="--", lw=1)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
        _common.plot_fit(axes[i, 2], f, test.constants(0), "S2 (20, 100), " + ("L_simple" if simple else "NV"), seed)
        rows.append({"quantity": f"Fig. 5 R² S2 with {'L_simple (variance only)' if simple else 'NV loss'}",
                     "paper": PAPER_R2_SIMPLE if simple else PAPER_R2_NV, "ours": rep["r2"],
                     "note": f"rho {rep['rho']:.4f}, std of F over all test points {rep['output_std']:.2e}, "
                             f"final test loss {rec[-1]['test_loss']:.2e}"})
    fig.suptitle(f"Appendix C ablation on S2 ({groups}, {members}); budget {budget}", fontsize=9)
    harness.save_figure(fig, out_dir, "fig5.png")
    collapse = out["simple"]["output_std"] / max(out["nv"]["output_std"], 1e-30)
    rows.append({"quantity": "std of F: L_simple / NV (collapse to a constant when << 1)", "paper": None,
                 "ours": collapse, "note": "paper: L_simple output nearly constant"})
    harness.write_results(out_dir, "conservnet_fig5", rows, budget, notes=_common.PAPER_BUDGET + " (20 000 here)")
    out["rows"] = rows
    out["collapse_ratio"] = float(collapse)
    return out


if __name__ == "__main__":
    _common.main("conservnet_fig5", benchmark, base=_common.BUDGETS["full_nv"])
