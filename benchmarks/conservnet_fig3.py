"""Fig. 3 of Ha & Jeong 2021: robustness to measurement noise and to nuisance variables, vs the SNN.

    python -m benchmarks.conservnet_fig3 [--quick] [--out_dir results/conservnet_fig3] [--steps N]
        [--width W] [--depth D] [--learning_rate LR] [--seed S] [--noise 0,0.1,0.3]
        [--snn_epochs E] [--snn_widths 160] [--snn_learning_rates 5e-4] [--snn/--nosnn] [--validation 0.2]

(a) rho on S2 (20, 100) against the strength s of N(0, s) noise added to the inputs (train and test).
With noisy test inputs even the exact invariant scatters within a group, so beside the held-out rho of the
members every noisy case prints the rho of the test groups' mean outputs, the rho of the members' outputs
on the same test inputs without the noise, and the member rho of the exact C on the noisy inputs (the
ceiling of the member statistic). ``--validation`` trains the noisy cases with ``fit_conservnet(validation=)``;
(b) S2 against S2+ (a nuisance x4 ~ N(0, 1)) and Kepler against Kepler+ (polar coordinates). The paper
shows ConservNet flat near 1 and the Siamese baseline lower, dropping with nuisance variables; it
prints no numbers, so the table gives ours. The SNN baseline is ``siamese.baseline_rho`` (Adam,
batch 64, best test accuracy over a grid of widths x learning rates; the paper's grid is
{160, 320} x {5e-3, 5e-4, 5e-5}, best of 5 trials -- here reduced by flags). Writes ``fig3.png``.
"""

from __future__ import annotations

import numpy as np

from benchmarks import _common, harness

NOISE = (0.0, 0.1, 0.3)


def _snn(train, test, snn):
    if snn is None:
        return None
    try:
        from siamese import baseline_rho
    except ImportError:  # pragma: no cover - siamese ships with the package
        return None
    return baseline_rho(train, test, widths=snn["widths"], learning_rates=snn["learning_rates"],
                        epochs=snn["epochs"], trials=1, constant=0)


def _noise_scores(model, test, clean, name):
    """Group-mean rho, rho on the noise-free test inputs, and the member rho of the exact C on the noisy ones."""
    from conserve_tf import predict_groups
    from conserve_tf.systems import invariant

    c = np.asarray(test.c, dtype=np.float64)
    members = np.repeat(c, test.n_members)

    def rho(f, target):
        return float(abs(np.corrcoef(np.ravel(f), target)[0, 1]))
    f_noisy, f_clean = predict_groups(model, test)[..., 0], predict_groups(model, clean)[..., 0]
    return {"group_mean_rho": rho(f_noisy.mean(axis=1), c), "clean_input_rho": rho(f_clean, members),
            "exact_c_rho": rho(invariant(name, test.x), members)}


def benchmark(quick: bool, out_dir: str, budget: dict | None = None, noise=None, snn: dict | None | bool = True,
              seed: int = 0, validation: float | None = None) -> dict:
    """Noise scan on S2 and the nuisance comparison; ``snn=False`` skips the Siamese baseline;
    ``validation`` (a fraction) trains the noisy cases with ``fit_conservnet(validation=)``."""
    budget = budget or _common.make_budget(quick)
    noise = tuple(float(s) for s in (noise or ((0.2,) if quick else NOISE)))
    if any(s < 0 for s in noise):
        raise ValueError(f"noise strengths must be >= 0, got {noise}")
    if snn is True:
        snn = ({"widths": (16,), "learning_rates": (5e-3,), "epochs": 1} if quick else
               {"widths": (160,), "learning_rates": (5e-4,), "epochs": 20})
    snn = snn or None
    groups, members = (10, 40) if quick else (20, 100)
    cases = [("s2", s) for s in noise] + ([] if quick else [("s2+", 0.0), ("kepler", 0.0), ("kepler+", 0.0)])
    if quick:
        cases.append(("s2+", 0.0))
    results, rows = {}, []
    for k, (name, s) in enumerate(cases):
        train, clean = _common.paper_split(name, groups, members, seed=seed)
        train, test = train.with_noise(s, seed=seed + 11), clean.with_noise(s, seed=seed + 12)
        kw = {"validation": validation} if validation and s > 0 else {}
        model, _, row = _common.train_and_score(train, test, budget, seed=seed, **kw)
        if s > 0:
            row.update(_noise_scores(model, test, clean, name))
        row["snn_rho"] = _snn(train, test, None if quick and k > 0 else snn)  # quick: one SNN run
        results[f"{name}@{s:g}"] = row
        snn_txt = "SNN baseline: missing" if row["snn_rho"] is None else f"SNN rho {row['snn_rho']:.4f}"
        print(f"{name} s={s:g}: ConservNet rho {row['rho']:.4f}; {snn_txt}", flush=True)
        what = f"S2 noise s = {s:g}" if name == "s2" else name
        val_txt = f"; validation={validation:g}" if kw else ""
        rows.append({"quantity": f"Fig. 3 rho ConservNet, {what}", "paper": "~1 (plot)", "ours": row["rho"],
                     "note": f"R² {row['r2']:.4f}{val_txt}" + (f"; the exact C on the same noisy inputs: rho "
                                                             f"{row['exact_c_rho']:.4f}" if s > 0 else "")})
        if s > 0:
            rows.append({"quantity": f"Fig. 3 rho ConservNet, {what}, test groups' mean output", "paper": "~1 (plot)",
                         "ours": row["group_mean_rho"], "note": f"members without the noise: rho "
                                                               f"{row['clean_input_rho']:.4f}{val_txt}"})
        rows.append({"quantity": f"Fig. 3 rho SNN baseline, {what}", "paper": "below CN (plot)",
                     "ours": "missing" if row["snn_rho"] is None else row["snn_rho"],
                     "note": "" if snn is None else f"grid {snn}"})
    plt = harness.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    s2 = [results[f"s2@{s:g}"] for s in noise]
    axes[0].plot(noise, [r["rho"] for r in s2], "o-", label="ConservNet")
    if snn is not None:
        axes[0].plot(noise, [r["snn_rho"] for r in s2], "s--", label="SNN")
    axes[0].set_xlabel("noise strength s")
    axes[0].set_ylabel("rho (test)")
    axes[0].set_title("(a) S2 with N(0, s) input noise", fontsize=9)
    pairs = [k for k in ("s2@0", "s2+@0", "kepler@0", "kepler+@0") if k in results]
    if not pairs:
        axes[1].set_axis_off()
    xs = range(len(pairs))
    axes[1].bar([x - 0.2 for x in xs], [results[k]["rho"] for k in pairs], 0.4, label="ConservNet")
    if snn is not None:
        axes[1].bar([x + 0.2 for x in xs], [results[k]["snn_rho"] or 0.0 for k in pairs], 0.4, label="SNN")
    axes[1].set_xticks(list(xs), [k.split("@")[0] for k in pairs])
    axes[1].set_title("(b) nuisance variables", fontsize=9)
    for ax in axes:
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    fig.suptitle(f"({groups}, {members}); budget {budget}; SNN {snn or 'missing'}", fontsize=7)
    harness.save_figure(fig, out_dir, "fig3.png")
    harness.write_results(out_dir, "conservnet_fig3", rows, budget, notes=_common.PAPER_BUDGET)
    return {"budget": budget, "snn": snn, "results": results, "rows": rows}


def define_flags():
    """The benchmark's own absl flags (harness.main defines them when run as a script)."""
    from absl import flags

    flags.DEFINE_list("noise", None, "noise strengths s (default 0,0.1,0.3)")
    flags.DEFINE_bool("snn", True, "also train the Siamese baseline (siamese.baseline_rho)")
    flags.DEFINE_integer("snn_epochs", 20, "epochs of every SNN baseline run")
    flags.DEFINE_list("snn_widths", ["160"], "SNN hidden widths (the paper: 160,320)")
    flags.DEFINE_list("snn_learning_rates", ["5e-4"], "SNN Adam learning rates (the paper: 5e-3,5e-4,5e-5)")
    flags.DEFINE_float("validation", 0.0, "train the noisy cases with fit_conservnet(validation=) (0: the default, "
                       "none)", lower_bound=0.0, upper_bound=0.9)


def arguments(F) -> dict:
    """--noise and the SNN grid (--quick keeps the quick grid) as benchmark arguments."""
    snn = ({"widths": tuple(int(w) for w in F.snn_widths), "epochs": F.snn_epochs,
            "learning_rates": tuple(float(v) for v in F.snn_learning_rates)} if F.snn else False)
    return {"noise": F.noise, "snn": True if F.quick and F.snn else snn, "validation": F.validation or None}


if __name__ == "__main__":
    _common.main("conservnet_fig3", benchmark, define_flags, arguments)
