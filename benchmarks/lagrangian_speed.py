"""Speed of the Lagrangian network on this machine (issue 5), graph (tf.function) against XLA.

    python -m benchmarks.lagrangian_speed [--quick] [--out_dir=results/lagrangian_speed]

Measures, for Kepler with the R layer (2 x 128 softplus):

* per-step time of ``fit`` at batch 128, the tf.data pipeline included (target <= 10 ms; the
  published code: about 60 ms per step through its pipeline on this machine);
* 1000 RK4 steps of one trajectory (target <= 0.2 s; published code 6.5 to 9.4 s);
* 1000 RK4 steps of 1000 trajectories at once (target <= 20 s);

each after compilation, with the compile (first-call) time printed apart, and the machine's dense
float32 matmul rate for scale. The faster path of each pair is the package default (fit: graph,
RK4: XLA).
"""

from __future__ import annotations

import time

from benchmarks import harness

TARGETS = {"fit_step_ms": 10.0, "rk4_1traj_1000_s": 0.2, "rk4_1000traj_1000_s": 20.0}
PUBLISHED = {"fit_step_ms": "60 ms (6.5 ms step alone)", "rk4_1traj_1000_s": "6.5 to 9.4 s", "rk4_1000traj_1000_s": "-"}


def _matmul_gflops():
    import tensorflow as tf

    a = tf.random.normal((512, 512))
    f = tf.function(lambda a: tf.matmul(a, a))
    f(a).numpy()
    t = time.perf_counter()
    for _ in range(20):
        r = f(a)
    r.numpy()
    return 20 * 2 * 512**3 / (time.perf_counter() - t) / 1e9


def _fit_step_ms(jit: bool, steps: int):
    import keras

    from conserve_tf import runs
    from lagrangian.systems import get_system
    from lagrangian.training import build_model, make_dataset

    runs.set_seed(0)
    system = get_system("kepler")
    x, y = system.training_data(2**15, sigma=0.0, seed=0)
    model = build_model(system, "R")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    ds = make_dataset(x, y, 128, sigma=1e-3)  # the training pipeline: shuffle, batch, fresh noise, prefetch
    t = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return 1000 * (time.perf_counter() - t) / steps, compile_s


def _rk4_seconds(jit: bool, n_traj: int, n_steps: int):
    import numpy as np

    from conserve_tf import runs
    from lagrangian.integrators import RK4Integrator
    from lagrangian.systems import get_system
    from lagrangian.training import build_model

    runs.set_seed(0)
    system = get_system("kepler")
    model = build_model(system, "R")
    integ = RK4Integrator(model, jit_compile=jit)
    rng = np.random.default_rng(0)
    x0 = system.initial_state()[None] + 1e-3 * rng.standard_normal((n_traj, 6))
    t = time.perf_counter()
    integ.advance(x0, 0.01, 1).numpy()
    compile_s = time.perf_counter() - t
    x = integ._state(x0)
    t = time.perf_counter()
    integ.advance(x, 0.01, n_steps).numpy()
    return time.perf_counter() - t, compile_s


def benchmark(quick: bool = False, out_dir: str = "results/lagrangian_speed") -> dict:
    """Returns ``{"timings": [(quantity, path, value, compile s, steps measured)], "rows": [...], "gflops"}``."""
    timings = []
    fit_steps = 30 if quick else 300
    for jit in ([False] if quick else [False, True]):
        ms, comp = _fit_step_ms(jit, fit_steps if not jit else 5)
        timings.append(("fit_step_ms", "XLA" if jit else "graph", ms, comp, 1 if jit else 0))
    single_steps = 200 if quick else 1000
    for jit in ([True] if quick else [True, False]):
        sec, comp = _rk4_seconds(jit, 1, single_steps)
        timings.append(("rk4_1traj_1000_s", "XLA" if jit else "graph", sec * 1000 / single_steps, comp,
                        single_steps))
    many, many_steps = 1000, 1000
    for jit in ([] if quick else [True, False]):  # quick mode skips the 1000-trajectory run
        steps = many_steps if jit else 100
        sec, comp = _rk4_seconds(jit, many, steps)
        timings.append(("rk4_1000traj_1000_s", "XLA" if jit else "graph", sec * (1000 / steps) * (1000 / many),
                        comp, steps))
    gflops = _matmul_gflops()
    rows = []
    for key, path, value, comp, steps in timings:
        scaled = key != "fit_step_ms" and steps != 1000
        rows.append({"quantity": f"{key}, {path}", "paper": PUBLISHED[key], "ours": value,
                     "note": f"target {TARGETS[key]:g}; compile {comp:.2f} s" + (
                         f"; scaled from {steps} steps" if scaled else "")})
    rows.append({"quantity": "dense float32 matmul (GFLOP/s)", "paper": None, "ours": gflops})
    harness.write_results(out_dir, "lagrangian_speed", rows, title=(
        f"Lagrangian network speed ({'quick' if quick else 'full'}); paper column: the published code"))
    _plot(timings, out_dir)
    return {"timings": timings, "rows": rows, "gflops": gflops}


def _plot(timings, out_dir):
    fig, ax = harness.pyplot().subplots(figsize=(6, 3.2))
    labels = [f"{k}\n{p}" for k, p, *_ in timings]
    ratios = [v / TARGETS[k] for k, _, v, *_ in timings]
    ax.barh(labels, ratios)
    ax.axvline(1.0, color="r", ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("measured / target")
    harness.save_figure(fig, out_dir, "speed.png", dpi=110)


if __name__ == "__main__":
    harness.main("lagrangian_speed", benchmark, seed=False)
