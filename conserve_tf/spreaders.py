"""Spreading noise ε for the noise-variance loss: uniform samples inside a ball of radius R.

The ConservNet paper draws ε uniformly with ||ε||₂ <= R (appendix H.2 also tries the L1 and L∞
balls). Noise is drawn from *stateless* seeds keyed to (seed, step, group id): the noise a group gets
at a given optimizer step does not depend on how groups are batched or split across devices, and it
is fresh at every step.

Uniform sampling in a d-ball of radius R:

* L2: direction n/||n|| with n ~ N(0, I), radius R u^(1/d), u ~ U(0, 1) (``radial="volume"``: uniform in the
  ball's volume), or radius R u (``radial="uniform"``: uniform in the radius, what the published code
  draws; in d dimensions it puts a fraction 1 - (1/2)^(d-1) more of the noise within R/2 of the point);
* L1: (e_1..e_d) / (e_1 + .. + e_{d+1}) with e_i ~ Exp(1), times random signs and R;
* L∞: each coordinate ~ U(-R, R).

Shapes: ``group_ids`` (G,) int; result (G, M, d).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["BALLS", "RADIAL_LAWS", "ball_noise"]

BALLS = ("l2", "l1", "linf")
RADIAL_LAWS = ("volume", "uniform")


def _normal_cdf(z):
    return 0.5 * (1.0 + tf.math.erf(z / tf.sqrt(tf.constant(2.0, z.dtype))))


def _group_normals(seed, step, group_ids, members: int, width: int, dtype):
    """Standard normals (G, members, width), one stateless stream per (seed, step, group)."""
    group_ids = tf.cast(group_ids, tf.int64)
    step = tf.cast(step, tf.int64)
    seeds = tf.stack([group_ids + tf.cast(seed, tf.int64) * 1_000_003, tf.fill(tf.shape(group_ids), step)], axis=1)
    static_members = members if isinstance(members, int) else None
    return tf.map_fn(
        lambda s: tf.random.stateless_normal((members, width), seed=s, dtype=dtype, alg="philox"),
        seeds, fn_output_signature=tf.TensorSpec((static_members, width), dtype))


def ball_noise(shape, radius, ball: str = "l2", seed: int = 0, step=0, group_ids=None, dtype=tf.float32,
               radial: str = "volume"):
    """ε uniform in the ``ball`` of ``radius``, shape (G, M, d) from ``shape``.

    ``radial`` (L2 ball only): "volume" draws the radius R u^(1/d) (uniform in the ball), "uniform" draws
    R u (uniform in the radius, the published code's spreader).

    ``shape`` is (G, M, d) with d a Python int (G may be None when ``group_ids`` is given);
    ``group_ids`` (G,) default to 0..G-1; ``step`` is usually the optimizer's iteration counter.
    """
    if ball not in BALLS:
        raise ValueError(f"ball must be one of {BALLS}, got {ball!r}")
    if radial not in RADIAL_LAWS:
        raise ValueError(f"radial must be one of {RADIAL_LAWS}, got {radial!r}")
    if radial == "uniform" and ball != "l2":
        raise ValueError(f"radial='uniform' is defined for the l2 ball only, got ball={ball!r}")
    g, m, d = shape
    if group_ids is None:
        if g is None:
            raise ValueError("ball_noise needs group_ids when the number of groups is not given")
        group_ids = tf.range(g)
    if ball == "l2":
        z = _group_normals(seed, step, group_ids, m, d + 1, dtype)
        direction = tf.math.l2_normalize(z[..., :d], axis=-1)
        u = tf.clip_by_value(_normal_cdf(z[..., d:]), 1e-12, 1.0)
        return radius * direction * (u if radial == "uniform" else u ** (1.0 / d))
    if ball == "linf":
        z = _group_normals(seed, step, group_ids, m, d, dtype)
        return radius * (2.0 * _normal_cdf(z) - 1.0)
    z = _group_normals(seed, step, group_ids, m, 2 * d + 1, dtype)
    e = -tf.math.log(tf.clip_by_value(_normal_cdf(z[..., : d + 1]), 1e-12, 1.0))
    signs = tf.sign(z[..., d + 1:])
    return radius * signs * e[..., :d] / tf.reduce_sum(e, axis=-1, keepdims=True)
