"""Test session set-up: split the CPU into two logical devices before TensorFlow starts, so that the
distribution tests can compare one device with two (docs/design.md, Keras fact 9). Everything else runs on the
default strategy, which uses the first device only."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from conserve_tf.distribute import split_cpu  # noqa: E402

split_cpu(2)
