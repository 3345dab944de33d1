"""Fig. 4 of Ha & Jeong 2021: ConservNet on the measured double pendulum (Schmidt & Lipson 2009).

    python -m benchmarks.conservnet_fig4 [--quick] [--out_dir results/conservnet_fig4] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S]

Trained on the first 80 % of trial 0 (655 rows, one group, ω scaled by 0.1), tested on the rest, with the NV
loss and the default recipe's settings for it (3 x 128 Mish, Adam 2e-3, 4000 steps).
(a) F(x) and F(x + ε) along time over both parts (ε uniform in the L2 ball of radius 1 in the scaled
inputs): the paper's F stays constant on the held-out rest and not on the noised inputs. (b) heat maps
of F over (ω1, ω2) at θ1 = θ2 = 0 and over (θ1, θ2) at (ω1, ω2) = (5, 10) beside (i) F's least-squares
fit to the physical form of the energy, c1 ω1² + c2 ω2² + c3 ω1ω2 cos(θ1 - θ2) + c4 cos θ1 + c5 cos θ2 + c0
(docs/design.md, erratum E5; Table I of the paper is garbled), and (ii) the paper's θ = 0 map
ω1² + 0.32 ω2² + 0.82 ω1ω2 - 170.95 (top) and the ideal point-mass energy (m = l = 1, bottom). Numbers:
spread of F on train / test / noised test, c2/c1 and c3/c1 at θ = 0 against the paper's 0.32 and 0.82,
and the correlation of F's heat maps with the reference maps.
"""

from __future__ import annotations

import numpy as np

from benchmarks import _common, harness

PAPER_THETA0 = (1.0, 0.32, 0.82, -170.95)


def _predict(model, x):
    return np.asarray(model.predict(np.asarray(x, np.float32).reshape(-1, 4), verbose=0, batch_size=8192))[:, 0]


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, seed: int = 0) -> dict:
    """Train on the paper's split of trial 0; returns spreads, the physical-form fit and map correlations."""
    from conserve_tf import ball_noise, double_pendulum_split, fit_conservnet
    from conserve_tf.pendulum import double_pendulum_energy, double_pendulum_energy_features

    budget = budget or _common.make_budget(quick, base=_common.BUDGETS["full_nv"])
    train, test = double_pendulum_split(0.8)
    model, _ = fit_conservnet(train, width=budget["width"], depth=budget["depth"], activation=budget["activation"],
                              seed=seed, objective="nv", **_common.fit_kwargs(budget, train))
    scale = np.asarray(train.scale)
    parts = {}
    for label, d in (("train", train), ("test", test)):
        x = d.x[0]
        eps = ball_noise((1, x.shape[0], 4), 1.0, "l2", seed=seed + 7, step=0).numpy()[0] / scale
        parts[label] = {"t": d.params["times"], "x": x, "xn": x + eps, "f": _predict(model, x),
                        "fn": _predict(model, x + eps)}
    f_all = np.concatenate([parts["train"]["f"], parts["test"]["f"]])
    f_noised = np.concatenate([parts["train"]["fn"], parts["test"]["fn"]])
    spread = {"train": parts["train"]["f"].std(), "test": parts["test"]["f"].std(),
              "noised": f_noised.std()}
    # least-squares fit of F to the physical form of the energy, on clean and noised training rows (F is
    # nearly constant on the clean rows alone); R² on the noised test rows, where F varies
    feats = lambda x: np.column_stack([double_pendulum_energy_features(x), np.ones(len(x))])  # noqa: E731
    xfit = np.concatenate([parts["train"]["x"], parts["train"]["xn"]])
    coef, *_ = np.linalg.lstsq(feats(xfit), np.concatenate([parts["train"]["f"], parts["train"]["fn"]]), rcond=None)
    target = parts["test"]["fn"]
    ss = np.sum((target - target.mean()) ** 2)
    r2_form = 1 - np.sum((target - feats(parts["test"]["xn"]) @ coef) ** 2) / ss if ss > 0 else float("nan")
    # heat maps
    n = 41 if quick else 101
    wmax = np.abs(train.x[0, :, 2:]).max(axis=0)
    w1, w2 = np.meshgrid(np.linspace(-wmax[0], wmax[0], n), np.linspace(-wmax[1], wmax[1], n))
    th1, th2 = np.meshgrid(np.linspace(-np.pi, np.pi, n), np.linspace(-np.pi, np.pi, n))
    grid_w = np.stack([np.zeros_like(w1), np.zeros_like(w1), w1, w2], axis=-1)
    grid_t = np.stack([th1, th2, np.full_like(th1, 5.0), np.full_like(th1, 10.0)], axis=-1)
    a1, a2, a3, a4 = PAPER_THETA0
    maps = {
        "omega": {"F": _predict(model, grid_w).reshape(n, n), "fit": feats(grid_w.reshape(-1, 4)) @ coef,
                  "ref": a1 * w1**2 + a2 * w2**2 + a3 * w1 * w2 + a4, "ref_name": "paper: w1²+0.32w2²+0.82w1w2-170.95"},
        "theta": {"F": _predict(model, grid_t).reshape(n, n), "fit": feats(grid_t.reshape(-1, 4)) @ coef,
                  "ref": double_pendulum_energy(grid_t), "ref_name": "ideal point-mass energy (m = l = 1)"},
    }
    corr = {}
    for key, m in maps.items():
        m["fit"] = m["fit"].reshape(n, n)
        corr[key] = {k: float(abs(np.corrcoef(m["F"].ravel(), m[k].ravel())[0, 1])) for k in ("fit", "ref")}
    ratios = (coef[1] / coef[0], coef[2] / coef[0])
    plt = harness.pyplot()
    fig = plt.figure(figsize=(13, 8))
    ax = fig.add_subplot(3, 1, 1)
    for label in ("train", "test"):
        p = parts[label]
        ax.plot(p["t"], p["f"], "b-" if label == "train" else "b-", lw=1, label="F(x)" if label == "train" else None)
        ax.plot(p["t"], p["fn"], "r-", lw=0.5, alpha=0.6, label="F(x + ε)" if label == "train" else None)
    ax.axvspan(parts["train"]["t"][0], parts["train"]["t"][-1], color="0.9", label="training part")
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=7)
    ax.set_title(f"double pendulum trial 0: std F train {spread['train']:.3g}, test {spread['test']:.3g}, "
                 f"noised {spread['noised']:.3g}", fontsize=9)
    for r, (key, m) in enumerate(maps.items()):
        ext = ([-wmax[0], wmax[0], -wmax[1], wmax[1]] if key == "omega" else [-np.pi, np.pi, -np.pi, np.pi])
        for c, (k, title) in enumerate((("F", "F"), ("fit", "F fitted to the physical form"), ("ref", m["ref_name"]))):
            ax = fig.add_subplot(3, 3, 3 + 3 * r + c + 1)
            ax.imshow(m[k], origin="lower", extent=ext, aspect="auto", cmap="viridis")
            if k == "F":
                pts = train.x[0]
                ax.scatter(pts[:, 2], pts[:, 3], s=1, c="w") if key == "omega" else ax.scatter(pts[:, 0], pts[:, 1], s=1, c="w")
            ax.set_title(title + ("" if k == "F" else f" (abs corr. with F {corr[key][k]:.2f})"), fontsize=8)
            ax.set_xlabel("ω1" if key == "omega" else "θ1")
            ax.set_ylabel("ω2" if key == "omega" else "θ2")
    harness.save_figure(fig, out_dir, "fig4.png", dpi=110)
    rows = [
        {"quantity": "Fig. 4a std F test / std F(x + ε) test+train", "paper": "small (plot)",
         "ours": spread["test"] / spread["noised"], "note": f"train / noised {spread['train'] / spread['noised']:.3f}"},
        {"quantity": "Fig. 4b ω2² / ω1² coefficient at θ = 0", "paper": 0.32, "ours": ratios[0],
         "note": "point mass m1 = m2, l1 = l2: 0.5"},
        {"quantity": "Fig. 4b ω1ω2 / ω1² coefficient at θ = 0", "paper": 0.82, "ours": ratios[1],
         "note": "point mass m1 = m2, l1 = l2: 1"},
        {"quantity": "Fig. 4 R² of the physical-form fit to F (noised test rows)", "paper": None, "ours": float(r2_form),
         "note": "coefficients " + ", ".join(f"{v:.3g}" for v in coef)},
        {"quantity": "Fig. 4b corr. (abs) of F map vs paper's θ = 0 map", "paper": None, "ours": corr["omega"]["ref"], "note": ""},
        {"quantity": "Fig. 4b corr. (abs) of F map vs ideal energy at (ω1, ω2) = (5, 10)", "paper": None,
         "ours": corr["theta"]["ref"], "note": ""},
    ]
    harness.write_results(out_dir, "conservnet_fig4", rows, budget, notes=_common.PAPER_BUDGET)
    return {"budget": budget, "spread": spread, "coefficients": coef.tolist(), "ratios": ratios,
            "r2_physical_form": float(r2_form), "map_correlation": corr, "rows": rows,
            "noised_over_clean": float(spread["noised"] / max(spread["test"], 1e-30)),
            "f_all": f_all}


if __name__ == "__main__":
    _common.main("conservnet_fig4", benchmark, base=_common.BUDGETS["full_nv"])
