"""Distribution and bad-input benchmark (issue "Scale out with tf.distribute and survive faults").

Prints, for each model, training steps per second on one device and on two logical CPU devices
(``MirroredStrategy``; on a 2-core CPU the two devices share the cores, so this shows the overhead
of the distributed step rather than a speed-up), and the number of malformed inputs fed to the
grouped-data loaders with the outcome of each kind (clear error / correct load / crash).

    python -m benchmarks.distribute_faults [--quick]
"""

from __future__ import annotations

import csv
import os
import tempfile
import time

from absl import app, flags


def _conservnet_case(quick):
    import keras

    from conserve_tf import ConservNet, as_dataset, make_system

    data = make_system("s1", 20, 100 if not quick else 20, seed=0)
    width = 320 if not quick else 32

    def build():
        model = ConservNet(width=width, depth=4 if not quick else 2, scale=[1.0] * 4)
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        return model

    return build, as_dataset(data).repeat()


def _siamese_case(quick):
    import keras
    import tensorflow as tf

    from siamese import SiameseNetwork, make_pairs
    from siamese.systems import special_relativity

    pairs = make_pairs(special_relativity(2048 if not quick else 256, seed=0), seed=0)

    def build():
        model = SiameseNetwork(n_features=4, hidden=(160, 160) if not quick else (16,))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy())
        return model

    ds = tf.data.Dataset.from_tensor_slices((pairs.x.astype("float32"), pairs.y.astype("float32")))
    return build, ds.repeat().batch(256, drop_remainder=True)


def _lagrangian_case(quick):
    import keras
    import tensorflow as tf

    from lagrangian.systems import get_system
    from lagrangian.training import build_model

    system = get_system("kepler")
    x, y = system.training_data(4096 if not quick else 512, sigma=1e-3, seed=0)

    def build():
        model = build_model(system, "R", hidden_units=128 if not quick else 16)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    ds = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("float32")))
    return build, ds.repeat().batch(128, drop_remainder=True)


CASES = {"conservnet": _conservnet_case, "siamese": _siamese_case, "lagrangian": _lagrangian_case}


def steps_per_second(build, dataset, strategy, steps):
    with strategy.scope():
        model = build()
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)  # trace
    best = 0.0
    for _ in range(2):
        t = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        best = max(best, steps / (time.perf_counter() - t))
    return best


def bad_input_tally(n: int, seed: int = 0) -> dict:
    """Feed ``n`` malformed inputs to the loaders; count clear errors, correct loads and crashes."""
    import numpy as np

    from conserve_tf import GroupedData, GroupedDataError

    rng = np.random.default_rng(seed)
    tally = {"clear error": 0, "loaded": 0, "crash": 0}
    crashes = []
    words = ["group", "C", "x1", "x2", "", "abc", "nan", "inf", "1e400", "3", "-1.5", '"']
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            kind = i % 3
            try:
                if kind == 0:  # random CSV text
                    lines = [",".join(rng.choice(words, size=rng.integers(0, 5))) for _ in range(rng.integers(0, 7))]
                    path = os.path.join(tmp, f"{i}.csv")
                    with open(path, "w") as fh:
                        fh.write("\n".join(lines))
                    GroupedData.load(path)
                elif kind == 1:  # random arrays of random rank, sometimes poisoned
                    shape = tuple(rng.integers(0, 4, size=rng.integers(0, 5)))
                    x = rng.normal(size=shape)
                    if x.size and rng.random() < 0.3:
                        x.flat[rng.integers(x.size)] = rng.choice([np.nan, np.inf])
                    GroupedData(x, c=None if rng.random() < 0.5 else rng.normal(size=rng.integers(0, 4)))
                else:  # random bytes as .npz
                    path = os.path.join(tmp, f"{i}.npz")
                    with open(path, "wb") as fh:
                        fh.write(rng.bytes(int(rng.integers(0, 300))))
                    GroupedData.load(path)
                tally["loaded"] += 1
            except (GroupedDataError, FileNotFoundError):
                tally["clear error"] += 1
            except Exception as err:  # noqa: BLE001 - counting crashes is the point
                tally["crash"] += 1
                crashes.append(f"{type(err).__name__}: {err}")
    tally["tried"] = n
    tally["examples_of_crashes"] = crashes[:3]
    return tally


def benchmark(quick: bool, out_dir: str, models=None) -> dict:
    from conserve_tf.distribute import get_strategy, split_cpu

    split_cpu(2)
    os.makedirs(out_dir, exist_ok=True)
    steps = 5 if quick else 30
    rows = {}
    for name in models or CASES:
        try:
            build, dataset = CASES[name](quick)
        except ImportError as err:
            rows[name] = {"error": f"not available: {err}"}
            continue
        one = steps_per_second(build, dataset, get_strategy("default"), steps)
        two = steps_per_second(build, dataset, get_strategy("mirrored"), steps)
        rows[name] = {"one_device": one, "two_devices": two}
    tally = bad_input_tally(60 if quick else 600)
    with open(os.path.join(out_dir, "distribute.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "steps/s one device", "steps/s two logical devices"])
        for name, row in rows.items():
            w.writerow([name, row.get("one_device"), row.get("two_devices")])
    return {"steps_per_second": rows, "bad_inputs": tally}


def main(argv):
    del argv
    r = benchmark(FLAGS.quick, FLAGS.out_dir)
    print(f"\n{'model':12s} {'steps/s, 1 device':>18s} {'steps/s, 2 logical CPU devices':>32s}")
    for name, row in r["steps_per_second"].items():
        if "error" in row:
            print(f"{name:12s} {row['error']}")
        else:
            print(f"{name:12s} {row['one_device']:18.2f} {row['two_devices']:32.2f}")
    t = r["bad_inputs"]
    print(f"\nmalformed inputs tried: {t['tried']}: clear error {t['clear error']}, correct load {t['loaded']}, "
          f"crash {t['crash']}")
    for example in t["examples_of_crashes"]:
        print("  crash:", example)


if __name__ == "__main__":
    FLAGS = flags.FLAGS
    flags.DEFINE_bool("quick", False, "Small models, few steps.")
    flags.DEFINE_string("out_dir", "results/distribute_faults", "Where to write the CSV.")
    app.run(main)
