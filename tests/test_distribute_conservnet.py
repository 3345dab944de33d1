"""ConservNet under tf.distribute, with faults: 1 vs 2 devices, two worker processes, a killed run, NaN."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from conserve_tf import ConservNet, as_dataset, make_system
from conserve_tf.callbacks import AtomicBackupAndRestore, NonFiniteLoss, StopOnNonFiniteLoss
from conserve_tf.distribute import get_strategy

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _one_step(strategy, data, init_weights):
    with strategy.scope():
        model = ConservNet(width=16, depth=2, scale=[1.0] * data.n_features, seed=3)
        model.set_weights(init_weights)
        # SGD: Adam's first step divides by |g|, which turns float32 rounding of tiny gradients into O(lr) jumps
        model.compile(optimizer=keras.optimizers.SGD(0.05))
    model.fit(as_dataset(data), epochs=1, verbose=0, shuffle=False)
    return model.get_weights(), int(model.optimizer.iterations.numpy())


def test_one_step_on_two_devices_equals_one_device():
    data = make_system("s1", 6, 10, seed=0)
    ref = ConservNet(width=16, depth=2, scale=[1.0] * 4, seed=3)
    init = ref.get_weights()
    one, it1 = _one_step(get_strategy("default"), data, init)
    two_strategy = get_strategy("mirrored")
    assert two_strategy.num_replicas_in_sync == 2
    two, it2 = _one_step(two_strategy, data, init)
    assert it1 == it2 == 1
    moved = max(np.abs(a - b).max() for a, b in zip(one, init))
    assert moved > 1e-4  # the step did something
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_local_workers_finish_with_equal_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        cmd = [sys.executable, "-m", "conserve_tf.train", "--strategy=multi_worker", "--groups=4", "--members=10",
               "--epochs=6", "--log_every=3", "--width=8", "--depth=1", "--degree=0", "--verbose=0", "--out_dir=",
               f"--save={tmp_path / f'worker{i}.keras'}"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=240))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "strategy: multi_worker (2 replica(s))" in out
        assert "trained 6 optimizer steps" in out
    w0 = keras.models.load_model(tmp_path / "worker0.keras").get_weights()
    w1 = keras.models.load_model(tmp_path / "worker1.keras").get_weights()
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_step_count(tmp_path):
    backup, model_path = tmp_path / "backup", tmp_path / "model.keras"
    cmd = [sys.executable, "-m", "conserve_tf.train", "--groups=4", "--members=10", "--epochs=400",
           "--log_every=20", "--width=32", "--depth=2", "--degree=0", "--verbose=0", "--out_dir=",
           f"--backup_dir={backup}", f"--save={model_path}"]
    victim = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and victim.poll() is None:
        if backup.exists() and any(backup.rglob("*")):  # a checkpoint was written: kill mid-run
            time.sleep(0.5)
            break
        time.sleep(0.2)
    assert victim.poll() is None, "training finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert not model_path.exists()
    out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trained 400 optimizer steps" in out.stdout, out.stdout  # the whole output if it fails (a CI flake, 2026-12-04)
    assert f"resuming the interrupted run checkpointed in {backup} after epoch" in out.stdout
    model = keras.models.load_model(model_path)
    assert isinstance(model, ConservNet)
    assert not backup.exists() or not any(backup.rglob("*.weights.h5"))  # removed once training completed


def test_a_backup_of_another_model_is_refused_naming_the_folder(tmp_path, capsys):
    data = make_system("s1", 4, 10, seed=0)
    first = ConservNet(width=8, depth=1, scale=[1.0] * 4)
    first.compile(optimizer=keras.optimizers.Adam(1e-3))
    keep = AtomicBackupAndRestore(str(tmp_path / "bk"), save_freq="epoch", delete_checkpoint=False)
    first.fit(as_dataset(data).repeat(), epochs=1, steps_per_epoch=2, verbose=0, callbacks=[keep])
    other = ConservNet(width=16, depth=2, scale=[1.0] * 4)  # other settings, the same leftover folder
    other.compile(optimizer=keras.optimizers.Adam(1e-3))
    again = AtomicBackupAndRestore(str(tmp_path / "bk"), save_freq="epoch")
    with pytest.raises(ValueError, match=r"the checkpoint in backup folder .*bk does not fit this model"):
        other.fit(as_dataset(data).repeat(), epochs=1, steps_per_epoch=2, verbose=0, callbacks=[again])
    assert "resuming the interrupted run checkpointed in" in capsys.readouterr().out


@pytest.mark.parametrize("lag", [1, -1])
def test_a_counter_out_of_step_with_its_weights_resumes_after_the_weights_epoch(tmp_path, lag):
    """A kill between the two renames pairs the weights of epoch 2 with the counter of epoch 1 (lag 1); before, the
    resumed run repeated an epoch (420 of 400 steps in CI). The step count in the counter file tells them apart."""
    data = make_system("s1", 4, 10, seed=0)
    model = ConservNet(width=8, depth=1, scale=[1.0] * 4)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    keep = AtomicBackupAndRestore(str(tmp_path / "bk"), save_freq="epoch", delete_checkpoint=False)
    model.fit(as_dataset(data).repeat(), epochs=2, steps_per_epoch=3, verbose=0, callbacks=[keep])
    counter = tmp_path / "bk" / "training_metadata.json"
    saved = json.loads(counter.read_text())
    assert (saved["epoch"], saved["iterations"]) == (2, 6)
    counter.write_text(json.dumps({**saved, "epoch": 2 - lag, "iterations": 6 - 3 * lag}))
    again = ConservNet(width=8, depth=1, scale=[1.0] * 4)
    again.compile(optimizer=keras.optimizers.SGD(1e-3))
    again.fit(as_dataset(data).repeat(), epochs=4, steps_per_epoch=3, verbose=0,
              callbacks=[AtomicBackupAndRestore(str(tmp_path / "bk"), save_freq="epoch")])
    assert int(again.optimizer.iterations.numpy()) == 12  # 4 epochs of 3 steps, none repeated or skipped


def test_nan_loss_stops_training_naming_epoch_and_step():
    data = make_system("s1", 4, 10, seed=0)
    model = ConservNet(width=8, depth=1, scale=[1.0] * 4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    kernel = model.head.kernel.numpy()
    kernel[0, 0] = np.nan
    model.head.kernel.assign(kernel)
    with pytest.raises(NonFiniteLoss, match=r"loss became nan at epoch 1, step 1 of that epoch"):
        model.fit(as_dataset(data).repeat(), epochs=2, steps_per_epoch=3, verbose=0,
                  callbacks=[StopOnNonFiniteLoss()])


def test_multi_worker_without_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not a valid cluster description"):
        get_strategy("multi_worker")
    with pytest.raises(ValueError, match="strategy must be one of"):
        get_strategy("tpu")
