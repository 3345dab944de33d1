"""The losses of ConservNet: the noise-variance loss (Eq. 1 of Ha & Jeong 2021), the within-group
variance ratio for several invariants at once, and the independence penalties of several outputs.

Shapes: grouped outputs are ``(G groups, M members, k outputs)``; input Jacobians ``(N, k, F)``.

* :func:`nv_loss_terms` -- Eq. (1): per group the spread S of F over its members plus |Q - S(F(x + ε))|.
* :func:`within_group_ratio` -- trace(C⁻¹ W), W the within-group and C the total covariance of the k
  outputs: the sum of the k generalized eigenvalues of (W, C), each the fraction of an output
  direction's variance that lies within groups (0 for an exact invariant, 1 for a direction that
  ignores the groups). It is unchanged by any invertible linear map of the outputs, so it needs no
  spreading noise, no Q and no R to keep F from collapsing to a constant, and it does not ask every
  group for the same noise spread (which biases the NV loss towards particular functions of the
  invariants; see docs/invariants.md).
* :func:`gradient_cosine_penalty`, :func:`gradient_logdet_penalty` -- keep k outputs functionally
  independent (a function of another output is invariant too, so neither loss forbids it).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["NOISE_TERMS", "PENALTIES", "nv_loss_terms", "within_group_ratio", "gradient_cosine_penalty",
           "gradient_logdet_penalty", "PENALTY_FNS"]

NOISE_TERMS = ("total", "increment")
PENALTIES = ("cos2", "logdet")

_EPS = 1e-12  # keeps d sqrt(var)/d var finite where a group's spread is exactly zero


def _spread(f, spread: str):
    """Spread over members: f (G, M, k) -> (G, k)."""
    var = tf.math.reduce_variance(f, axis=1)
    return tf.sqrt(var + _EPS) if spread == "std" else var


def nv_loss_terms(f_clean, f_noised, q: float, spread: str = "std", noise_term: str = "total"):
    """The two terms of Eq. (1), each averaged over groups and outputs.

    f_clean, f_noised: (G, M, k). Returns (spread term, noise term); the loss is their sum.
    ``noise_term="total"`` (Eq. 1): |Q - S(F(x + ε))|. ``"increment"``: |Q - S(F(x + ε) - F(x))|, the
    spread the noise itself causes. They agree on an exact invariant; they differ away from one: S(F(x + ε))
    also counts F's variation along the data, so a group can meet Q with an F that is not invariant, and
    when that variation dominates, the loss barely depends on F's gradient across the data (the "total"
    term grows with it only as n / sqrt(n² + δ²), n the noise part, δ the variation along the data).
    """
    clean = tf.reduce_mean(_spread(f_clean, spread))
    noised = f_noised - f_clean if noise_term == "increment" else f_noised
    noise = tf.reduce_mean(tf.abs(q - _spread(noised, spread)))
    return clean, noise


def gradient_cosine_penalty(jacobian):
    """Mean over samples and output pairs i < j of cos²(∇F_i, ∇F_j); jacobian (N, k, F) -> scalar.

    0 when the outputs' input gradients are orthogonal everywhere; 1 when one output is a function of
    another (parallel gradients). Keeps k jointly trained outputs functionally independent.
    """
    k = jacobian.shape[1]
    if k is None or k < 2:
        return tf.zeros((), jacobian.dtype)
    unit = tf.math.l2_normalize(jacobian, axis=-1, epsilon=1e-12)
    gram = tf.einsum("nif,njf->nij", unit, unit) ** 2
    upper = tf.linalg.band_part(tf.ones((k, k), jacobian.dtype), 0, -1) - tf.eye(k, dtype=jacobian.dtype)
    return tf.reduce_sum(tf.reduce_mean(gram, axis=0) * upper) / (k * (k - 1) / 2)


def gradient_logdet_penalty(jacobian, floor: float = 1e-3):
    """Mean over samples of -log(det(G + δI) / (1 + δ)^k), G (k, k) the Gram matrix of the k unit input
    gradients, δ = ``floor``; jacobian (N, k, F) -> scalar (log det through a Cholesky factor).

    A barrier against *dependence*: 0 for orthogonal gradients, about cos² for a nearly orthogonal pair
    (k = 2: -log(((1 + δ)² - cos²) / (1 + δ)²)), about -log(2δ) ≈ 6.2 when an output is locally a function
    of another. Unlike the mean cos² (ceiling 1), a small weight charges little for the moderate angles
    independent invariants have between them (L and E of Kepler in standardized coordinates: mean cos²
    0.54), yet the barrier still keeps two outputs from merging.
    """
    k = jacobian.shape[1]
    if k is None or k < 2:
        return tf.zeros((), jacobian.dtype)
    unit = tf.math.l2_normalize(jacobian, axis=-1, epsilon=1e-12)
    gram = tf.einsum("nif,njf->nij", unit, unit) / (1.0 + floor) + floor / (1.0 + floor) * tf.eye(k, dtype=unit.dtype)
    chol = tf.linalg.cholesky(gram)
    return tf.reduce_mean(-2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)), axis=-1))




def within_group_ratio(f, jitter: float = 1e-6):
    """trace(C⁻¹ W) of grouped outputs f (G, M, k) -> scalar; G >= 2 groups are needed.

    W = (1/GM) Σ_g Σ_m (f_gm − f̄_g)(f_gm − f̄_g)ᵀ (within groups), C = (1/GM) Σ_g Σ_m (f_gm − f̄)(f_gm − f̄)ᵀ
    (all points), both k x k; C = W + B with B the between-group covariance, so each generalized
    eigenvalue λ of W v = λ C v lies in [0, 1]. For one output the ratio is within-group variance over
    total variance, the square of the relative spread up to how the groups are averaged. ``jitter``
    times the mean variance is added to C's diagonal so that a (nearly) constant or duplicated output
    does not make the Cholesky factorisation fail.
    """
    k = f.shape[-1]
    within = f - tf.reduce_mean(f, axis=1, keepdims=True)
    n = tf.cast(tf.shape(f)[0] * tf.shape(f)[1], f.dtype)
    w = tf.einsum("gmi,gmj->ij", within, within) / n
    flat = tf.reshape(f, [-1, k])
    flat = flat - tf.reduce_mean(flat, axis=0, keepdims=True)
    c = tf.matmul(flat, flat, transpose_a=True) / n
    eye = tf.eye(k, dtype=f.dtype)
    c = c + (jitter * tf.linalg.trace(c) / k + 1e-30) * eye
    chol = tf.linalg.cholesky(c)
    a = tf.linalg.triangular_solve(chol, w, lower=True)             # L⁻¹ W
    a = tf.linalg.triangular_solve(chol, tf.transpose(a), lower=True)  # L⁻¹ W L⁻ᵀ (W symmetric)
    return tf.linalg.trace(a)


PENALTY_FNS = {"cos2": gradient_cosine_penalty, "logdet": gradient_logdet_penalty}
