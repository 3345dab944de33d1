"""The objectives of ConservNet as serializable loss objects, in the manner of ``keras.losses``.

An objective sees the network's outputs on a batch of whole groups, f of shape (G groups, M members,
k outputs), and returns named scalar terms whose sum is the loss. An objective that needs the network
at other points (the noise-variance loss needs F(x + ε)) says so through :meth:`GroupLoss.perturbed_inputs`,
which receives the scaled inputs (G, M, F); the model evaluates both in one pass.

* :class:`NVLoss` -- Eq. (1) of Ha & Jeong (2021): mean over groups of S_j F(x_ij) + |Q - S_j F(x_ij + ε_ij)|,
  S the spread (std or variance) over a group's members, ε drawn in a ball of radius R
  (:mod:`conserve_tf.spreaders`).
* :class:`VarianceLoss` -- the ablation of the paper's Fig. 5 / Eq. (C1): mean over groups of Var_j F(x_ij),
  with nothing against the constant solution.
* :class:`WithinGroupRatio` -- trace(C⁻¹ W) of the k outputs (this package's addition for several
  invariants at once), W the within-group and C the total covariance: the sum of the generalized
  eigenvalues of (W, C), each the within-group fraction of an output direction's variance. It is
  unchanged by any invertible linear map of the outputs, so it needs no noise, Q or R.
  :func:`decorrelating_map` gives the matching eigenvectors.

Strings resolve through :func:`get` (``"nv"``, ``"variance"``, ``"ratio"``), as ``keras.losses.get`` does.
The functional forms (:func:`nv_loss_terms`, :func:`within_group_ratio`) are public too.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .spreaders import BALLS, RADIAL_LAWS, ball_noise

__all__ = ["GroupLoss", "NVLoss", "VarianceLoss", "WithinGroupRatio", "get", "OBJECTIVES", "NOISE_TERMS",
           "nv_loss_terms", "within_group_ratio", "decorrelating_map", "level_set_noise"]

NOISE_TERMS = ("total", "increment")
SPREADS = ("std", "var")
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
    also counts F's variation along the data, so a group can meet Q with an F that is not invariant.
    """
    clean = tf.reduce_mean(_spread(f_clean, spread))
    noised = f_noised - f_clean if noise_term == "increment" else f_noised
    noise = tf.reduce_mean(tf.abs(q - _spread(noised, spread)))
    return clean, noise


def within_group_ratio(f, jitter: float = 1e-6):
    """trace(C⁻¹ W) of grouped outputs f (G, M, k) -> scalar; G >= 2 groups are needed.

    W = (1/GM) Σ_g Σ_m (f_gm − f̄_g)(f_gm − f̄_g)ᵀ, C = (1/GM) Σ_g Σ_m (f_gm − f̄)(f_gm − f̄)ᵀ, both k x k;
    C = W + B with B the between-group covariance, so every generalized eigenvalue of W v = λ C v lies in
    [0, 1]. ``jitter`` times the mean variance is added to C's diagonal so that a (nearly) constant or
    duplicated output does not make the Cholesky factorisation fail.
    """
    k = f.shape[-1]
    within = f - tf.reduce_mean(f, axis=1, keepdims=True)
    n = tf.cast(tf.shape(f)[0] * tf.shape(f)[1], f.dtype)
    w = tf.einsum("gmi,gmj->ij", within, within) / n
    flat = tf.reshape(f, [-1, k])
    flat = flat - tf.reduce_mean(flat, axis=0, keepdims=True)
    c = tf.matmul(flat, flat, transpose_a=True) / n
    c = c + (jitter * tf.linalg.trace(c) / k + 1e-30) * tf.eye(k, dtype=f.dtype)
    chol = tf.linalg.cholesky(c)
    a = tf.linalg.triangular_solve(chol, w, lower=True)             # L⁻¹ W
    a = tf.linalg.triangular_solve(chol, tf.transpose(a), lower=True)  # L⁻¹ W L⁻ᵀ (W symmetric)
    return tf.linalg.trace(a)


def decorrelating_map(f):
    """Generalized eigenvectors of (W, C) of grouped outputs f (G, M, k): returns (V (k, k), ratios (k,)).

    W and C as in :func:`within_group_ratio`; W v = λ C v. The columns of f @ V are uncorrelated with unit
    variance on f's data, ordered by ascending λ = within-group fraction of their variance (the most
    invariant direction first); each column's largest entry is made positive so the map is reproducible.
    Raises ValueError when C is singular (a constant output, or one output a combination of the others).
    """
    import scipy.linalg  # scipy's start-up is paid only by callers of this function

    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 3 or f.shape[0] < 2 or f.shape[1] < 2:
        raise ValueError(f"outputs must have shape (groups >= 2, members >= 2, k), got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("outputs contain NaN or Inf")
    g, m, k = f.shape
    within = f - f.mean(axis=1, keepdims=True)
    w = np.einsum("gmi,gmj->ij", within, within) / (g * m)
    flat = f.reshape(-1, k) - f.reshape(-1, k).mean(axis=0)
    c = flat.T @ flat / (g * m)
    try:
        ratios, vecs = scipy.linalg.eigh(w, c)
    except np.linalg.LinAlgError:
        raise ValueError("the outputs' covariance is singular (a constant output, or one output a linear "
                         "combination of the others): cannot decorrelate them") from None
    pick = np.argmax(np.abs(vecs), axis=0)
    vecs = vecs * np.sign(vecs[pick, np.arange(k)])
    return vecs, np.clip(ratios, 0.0, 1.0)


def level_set_noise(network, xs, eps):
    """ε (G, M, F) minus its components along the input gradients of ``network`` (N, F) -> (N, j) at xs (G, M, F).

    To first order the projected noise leaves the j outputs of ``network`` unchanged: the analogue of
    holding a known invariant fixed (appendix G of the paper holds L fixed to find E).
    """
    n_features = xs.shape[-1]
    flat = tf.reshape(xs, [-1, n_features])
    with tf.GradientTape() as tape:
        tape.watch(flat)
        frozen = network(flat)
    jac = tf.stop_gradient(tape.batch_jacobian(frozen, flat))  # (N, j, F)
    basis, _ = tf.linalg.qr(tf.transpose(jac, [0, 2, 1]))  # (N, F, j), orthonormal columns
    e = tf.reshape(eps, [-1, n_features])
    e = e - tf.einsum("nfj,nj->nf", basis, tf.einsum("nfj,nf->nj", basis, e))
    return tf.reshape(e, tf.shape(eps))


class GroupLoss:
    """Base of the objectives: named terms of grouped outputs f (G, M, k), summed into the loss.

    Class attributes: ``name`` (as in :data:`OBJECTIVES`), ``term_names`` (logged by ``fit``),
    ``min_groups`` (fewest groups one batch may hold), ``keeps_frozen_outputs`` (in the one-output-at-a-time
    scheme: True when the frozen outputs stay in the objective, False when only the trained output is
    scored), ``mixing_invariant`` (the loss is unchanged by an invertible linear map of the outputs, so
    training may end with :meth:`~conserve_tf.model.ConservNet.decorrelate_outputs`).
    """

    name: str = ""
    term_names: tuple = ()
    min_groups: int = 1
    keeps_frozen_outputs: bool = False
    mixing_invariant: bool = False

    def perturbed_inputs(self, model, xs, group_ids, step):
        """Extra inputs (G, M, F) at which the objective needs F, or None. ``model`` is the ConservNet."""
        return None

    def terms(self, f, f_perturbed=None) -> tuple:
        """The loss terms (scalars, in the order of ``term_names``) of f (G, M, k)."""
        raise NotImplementedError

    def __call__(self, f, f_perturbed=None):
        return tf.add_n(list(self.terms(f, f_perturbed)))

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="conserve_tf")
class NVLoss(GroupLoss):
    """Eq. (1): mean over groups of S_j F(x_ij) + |Q - S_j F(x_ij + ε_ij)|; terms (spread, noise).

    ``spread``: "std" (the paper's practice) or "var" (the loss as printed). ``spreader``: the ball ε is
    uniform in ("l2", or appendix H.2's "l1", "linf") of radius ``r``; ``radial="uniform"`` draws the L2
    radius uniform in [0, R] as the published code does ("volume": uniform in the ball); ε is fresh at every optimizer step,
    keyed to (``seed``, step, group id). ``noise_term``: see :func:`nv_loss_terms`. ``project_noise``: in
    stage j of the one-output-at-a-time scheme, ε is projected off the input gradients of the frozen
    outputs 0..j-1 (:func:`level_set_noise`), so a function of them pays the full |Q - S| term.
    """

    name, term_names = "nv", ("spread", "noise")

    def __init__(self, q: float = 1.0, r: float = 1.0, spread: str = "std", spreader: str = "l2",
                 noise_term: str = "total", seed: int = 0, project_noise: bool = False, radial: str = "volume"):
        if not (q > 0 and r > 0):
            raise ValueError(f"Q and R must be positive, got Q={q}, R={r}")
        if spread not in SPREADS:
            raise ValueError(f"spread must be one of {SPREADS}, got {spread!r}")
        if spreader not in BALLS:
            raise ValueError(f"spreader (the noise ball) must be one of {BALLS}, got {spreader!r}")
        if noise_term not in NOISE_TERMS:
            raise ValueError(f"noise_term must be one of {NOISE_TERMS}, got {noise_term!r}")
        if radial not in RADIAL_LAWS or (radial == "uniform" and spreader != "l2"):
            raise ValueError(f"radial must be one of {RADIAL_LAWS} ('uniform' with the l2 spreader only), got {radial!r}")
        self.radial = radial
        self.q, self.r, self.spread, self.spreader = float(q), float(r), spread, spreader
        self.noise_term, self.seed, self.project_noise = noise_term, int(seed), bool(project_noise)

    def perturbed_inputs(self, model, xs, group_ids, step):
        eps = ball_noise((None, xs.shape[1] if xs.shape[1] is not None else tf.shape(xs)[1], xs.shape[-1]),
                         self.r, self.spreader, self.seed, step, group_ids, dtype=xs.dtype, radial=self.radial)
        if self.project_noise and model.stage:
            eps = level_set_noise(lambda flat: model.network(flat, model.stage), xs, eps)
        return xs + eps

    def terms(self, f, f_perturbed=None):
        return nv_loss_terms(f, f_perturbed, self.q, self.spread, self.noise_term)

    def get_config(self):
        return dict(q=self.q, r=self.r, spread=self.spread, spreader=self.spreader, noise_term=self.noise_term,
                    seed=self.seed, project_noise=self.project_noise, radial=self.radial)


@keras.saving.register_keras_serializable(package="conserve_tf")
class VarianceLoss(GroupLoss):
    """Eq. (C1), the ablation of Fig. 5: mean over groups and outputs of Var_j F(x_ij); term (spread,).

    Nothing keeps F from collapsing to a constant, its trivial global minimum: the paper's point.
    """

    name, term_names = "variance", ("spread",)

    def terms(self, f, f_perturbed=None):
        return (tf.reduce_mean(tf.math.reduce_variance(f, axis=1)),)


@keras.saving.register_keras_serializable(package="conserve_tf")
class WithinGroupRatio(GroupLoss):
    """trace(C⁻¹ W) of the outputs over the batch (:func:`within_group_ratio`); term (ratio,).

    A batch needs at least two groups (better many: C and W are estimated from it). In stage j of the
    one-output-at-a-time scheme the frozen outputs stay in, so output j must add a direction that is
    invariant and uncorrelated with theirs (the deflation of W v = λ C v).
    """

    name, term_names = "ratio", ("ratio",)
    min_groups = 2
    keeps_frozen_outputs = mixing_invariant = True

    def __init__(self, jitter: float = 1e-6):
        if not jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {jitter}")
        self.jitter = float(jitter)

    def terms(self, f, f_perturbed=None):
        return (within_group_ratio(f, self.jitter),)

    def get_config(self):
        return {"jitter": self.jitter}


OBJECTIVES = {"nv": NVLoss, "variance": VarianceLoss, "ratio": WithinGroupRatio}


def resolve(identifier, registry: dict, base: type, what: str):
    """An instance of ``base`` from an instance, a name in ``registry`` or a serialized config dict.

    The getter of objectives here and of penalties in :mod:`conserve_tf.penalties` (as ``keras.losses.get``).
    """
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        if identifier not in registry:
            raise ValueError(f"{what} must be one of {sorted(registry)} or a {base.__name__}, got {identifier!r}")
        return registry[identifier]()
    if isinstance(identifier, dict):
        obj = keras.saving.deserialize_keras_object(identifier)
        if isinstance(obj, base):
            return obj
    raise ValueError(f"cannot make a ConservNet {what} from {identifier!r}")


def get(identifier) -> GroupLoss:
    """An objective from a :class:`GroupLoss`, a name in :data:`OBJECTIVES` or a serialized config dict."""
    return resolve(identifier, OBJECTIVES, GroupLoss, "objective")
