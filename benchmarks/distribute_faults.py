"""Distribution and bad-input benchmark (issue "Scale out with tf.distribute and survive faults").

Prints, for each model, training steps per second on one device and on two logical CPU devices
(``MirroredStrategy``; on a 2-core CPU the two devices share the cores, so this shows the overhead
of the distributed step rather than a speed-up), and the number of malformed inputs fed to the
grouped-data loaders with the outcome of each kind (clear error / correct load / crash).

    python -m benchmarks.distribute_faults [--quick] [--out_dir=results/distribute_faults]

Writes results.csv/.md/.json.
"""

from __future__ import annotations

import os
import tempfile
import time

from benchmarks import harness


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
    harness.write_results(out_dir, "distribute_faults", _rows(rows, tally), title=(
        "Training steps per second, one device against two logical CPU devices (MirroredStrategy); "
        "malformed inputs to the loaders"), notes="\n".join(f"crash: {e}" for e in tally["examples_of_crashes"]))
    return {"steps_per_second": rows, "bad_inputs": tally}


def _rows(speeds: dict, tally: dict) -> list:
    rows = []
    for name, row in speeds.items():
        if "error" in row:
            rows.append({"quantity": f"{name}: steps/s", "ours": row["error"]})
            continue
        rows.append({"quantity": f"{name}: steps/s, 1 device", "ours": row["one_device"]})
        rows.append({"quantity": f"{name}: steps/s, 2 logical CPU devices", "ours": row["two_devices"]})
    rows.append({"quantity": "malformed inputs tried", "ours": tally["tried"]})
    rows += [{"quantity": f"malformed inputs: {kind}", "ours": tally[kind]}
             for kind in ("clear error", "loaded", "crash")]
    return rows


if __name__ == "__main__":
    harness.main("distribute_faults", benchmark, seed=False)
