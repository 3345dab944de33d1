"""The library path with plain Keras: compile, fit with callbacks, evaluate, save, load_model.

ConservNet (Ha & Jeong, PRR 3, L042035, 2021) is an ordinary ``keras.Model`` whose ``train_step`` holds the
noise-variance loss (Eq. 1), so the usual Keras workflow applies unchanged:

* data: :func:`conserve_tf.make_system` gives S1 as GroupedData, x (groups, members, features), c (groups,);
  :func:`conserve_tf.as_dataset` turns it into a ``tf.data`` pipeline of whole groups;
* model: :func:`conserve_tf.build_conservnet` (input scaling computed from the training data);
* callbacks: :class:`conserve_tf.InvariantMetrics` (held-out ``val_rho`` etc. in the logs), then Keras's own
  ``EarlyStopping`` on ``val_rho``, ``TensorBoard`` (if installed) and ``CSVLogger``;
* ``evaluate`` gives the loss terms on held-out groups; ``save`` / ``keras.models.load_model`` round-trip.

    python examples/plain_keras.py                 # 1000 steps on S1 (20, 100), 3 x 128 network
    python examples/plain_keras.py --steps=20      # a quick look
"""

from __future__ import annotations

import argparse
import os

import keras
import numpy as np

from conserve_tf import InvariantMetrics, as_dataset, build_conservnet, evaluate_invariant, make_system


def main(steps: int = 1000, out_dir: str = "runs/plain_keras", seed: int = 0) -> dict:
    """Train, evaluate, save and reload; returns the metrics before and after reloading."""
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    train = make_system("s1", groups=20, members=100, seed=seed)
    test = make_system("s1", groups=20, members=100, seed=seed + 1)  # same kind of groups, fresh points

    model = build_conservnet(train, width=128, depth=3, activation="mish")
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.01)))
    per_epoch = max(1, steps // 10)
    callbacks = [InvariantMetrics(test, every=1),  # first: it adds val_rho ... to the logs the others read
                 keras.callbacks.EarlyStopping(monitor="val_rho", mode="max", patience=5, restore_best_weights=True),
                 keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"))]
    try:
        import tensorboard  # noqa: F401  (optional: Keras's TensorBoard callback needs it)

        callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"), write_graph=False))
    except ImportError:
        pass
    history = model.fit(as_dataset(train, seed=seed).repeat(), epochs=max(1, steps // per_epoch),
                        steps_per_epoch=per_epoch, callbacks=callbacks, verbose=2)
    losses = model.evaluate(test.x.astype("float32"), batch_size=test.n_groups, return_dict=True, verbose=0)
    report = evaluate_invariant(model, test)
    print(f"{len(history.history['loss'])} epochs of {per_epoch} steps; held-out loss terms "
          + ", ".join(f"{k} = {v:.4f}" for k, v in losses.items()))
    print(f"held-out: rho = {report['rho']:.4f}, R² = {report['r2']:.4f}")

    path = os.path.join(out_dir, "s1.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    x = test.flat().astype("float32")
    same = bool(np.allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6))
    print(f"reloaded {path}: identical outputs {same}")
    return {"history": history.history, "losses": losses, "report": report, "reloaded_identical": same,
            "out_dir": out_dir}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    parser.add_argument("--out_dir", default="runs/plain_keras", help="folder for the model and logs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.steps, args.out_dir, args.seed)
