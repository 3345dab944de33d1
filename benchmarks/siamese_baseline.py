"""The Siamese network as the ConservNet paper's baseline (Ha & Jeong 2021, Fig. 3b and appendix B).

    python -m benchmarks.siamese_baseline [--quick] [--out_dir results/siamese_baseline] [--epochs 100]
        [--trials 1] [--widths 160,320] [--learning_rates 0.005,0.0005,0.00005] [--depth 2]

Trains ``siamese.baseline_rho`` (Adam, batch 64, best test accuracy over the grid) on the package's
ConservNet systems at (N, M) = (20, 100) and prints |rho| between the bottleneck f and the true C.
The paper shows these numbers only as bars in Fig. 3b (SNN good on S2 and Kepler, poor on S2+ and
Kepler+); its grid is 5 trials x 3 learning rates x 2 widths for up to 50 000 epochs, ours is reduced.
Writes results.csv/.md/.json (best run per system), baseline.csv (every run) and baseline_rho.png.
"""

from __future__ import annotations

import os

from benchmarks import harness

SYSTEMS = ("S1", "S2", "S2+", "Kepler", "Kepler+")
PAPER = {"S1": "-", "S2": "high (Fig. 3b)", "S2+": "low (Fig. 3b)", "Kepler": "high (Fig. 3b)",
         "Kepler+": "low (Fig. 3b)"}


def benchmark(quick: bool, out_dir: str, epochs: int | None = None, trials: int = 1, widths=None,
              learning_rates=None, depth: int = 2, seed: int = 0) -> dict:
    """{system: {"rho": best-run rho, "runs": every grid run}} on ConservNet's systems."""
    from conserve_tf.systems import make_system
    from siamese import baseline_grid

    os.makedirs(out_dir, exist_ok=True)
    systems = SYSTEMS[:2] if quick else SYSTEMS
    groups, members = (20, 20) if quick else (20, 100)
    epochs = epochs or (2 if quick else 100)
    widths = tuple(widths or ((16,) if quick else (160, 320)))
    lrs = tuple(learning_rates or ((5e-3,) if quick else (5e-3, 5e-4, 5e-5)))
    out = {}
    for k, name in enumerate(systems):
        train = make_system(name, groups, members, seed=seed + 2 * k)
        test = make_system(name, groups, members, seed=seed + 2 * k + 1)
        runs = baseline_grid(train, test, widths, lrs, trials, depth, epochs, seed=seed)
        best = max(runs, key=lambda r: (r["test_accuracy"], r["rho"]))
        out[name] = {"rho": best["rho"], "best": best, "runs": runs}
    harness.write_csv(os.path.join(out_dir, "baseline.csv"),
                      ["system", "width", "learning_rate", "trial", "epochs", "train_acc", "test_acc", "rho"],
                      [[name, g["width"], g["learning_rate"], g["trial"], g["epochs"], f"{g['train_accuracy']:.4f}",
                        f"{g['test_accuracy']:.4f}", f"{g['rho']:.4f}"] for name, r in out.items() for g in r["runs"]])
    _plot(out, out_dir)
    harness.write_results(out_dir, "siamese_baseline", [
        {"quantity": f"SNN rho {name} (best test accuracy)", "paper": PAPER[name], "ours": r["rho"],
         "note": f"test acc {r['best']['test_accuracy']:.4f}, width {r['best']['width']}, "
                 f"lr {r['best']['learning_rate']:g}"} for name, r in out.items()],
        title="Siamese baseline of Ha & Jeong 2021 (Fig. 3b): |rho(f, C)| at the best test accuracy",
        notes="baseline.csv holds every run of the grid.")
    return out


def _plot(out, out_dir):
    fig, ax = harness.pyplot().subplots(figsize=(5, 3.2))
    ax.bar(list(out), [r["rho"] for r in out.values()], color="tab:orange")
    ax.set_ylabel("|rho(f, C)|, SNN baseline")
    ax.set_ylim(0, 1)
    harness.save_figure(fig, out_dir, "baseline_rho.png", dpi=110)


def define_flags():
    """The baseline's own absl flags."""
    from absl import flags

    flags.DEFINE_integer("epochs", None, "epoch budget per run (default 100; paper 50 000 with early stopping)")
    flags.DEFINE_integer("trials", 1, "trials per grid point (paper: 5)")
    flags.DEFINE_list("widths", None, "hidden widths to try (default 160,320)")
    flags.DEFINE_list("learning_rates", None, "Adam learning rates to try (default 5e-3,5e-4,5e-5)")
    flags.DEFINE_integer("depth", 2, "hidden layers (original SNN: 2; the ConservNet paper's SNN: 5 + output)")


if __name__ == "__main__":
    harness.main("siamese_baseline", benchmark, define_flags, lambda F: {
        "epochs": F.epochs, "trials": F.trials, "depth": F.depth,
        "widths": [int(w) for w in F.widths] if F.widths else None,
        "learning_rates": [float(v) for v in F.learning_rates] if F.learning_rates else None})
