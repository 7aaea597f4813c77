"""Bayesian hypernetwork regressor (Krueger et al. 2017, arXiv:1710.04759).

The base network is a ReLU MLP with weight normalization (Salimans & Kingma 2016): each unit's
weight vector is ``w = g * v / ||v||``. The directions ``v`` and the biases are point estimates;
the per-unit scales ``g`` (one per hidden and output unit, ``G`` in all) are random with an
approximate posterior ``q(g)`` given by a normalizing flow, the *hypernetwork*::

    z ~ N(0, I_G)  ->  K affine couplings (RealNVP, Dinh et al. 2017)  ->  g = mu + sigma * f(z)

Because every step is invertible with a triangular Jacobian, ``log q(g)`` is exact:
``log N(z) - sum log|det df/dz| - sum log sigma``. Training maximizes the ELBO

    E_q[ log p(y | x, g) ] - beta * KL(q(g) || p(g)),   p(g) = N(0, prior_std^2 I),

estimated with ``n_train_samples`` reparameterized draws per step, with ``beta`` annealed
linearly from 0 to ``kl_weight`` over the first ``anneal_fraction`` of the steps (KL annealing,
so the network first learns to fit and only then pays for its certainty). Inputs and outputs are
standardized; all targets share one network. The observation noise is a learned per-target
constant (``noise="homoscedastic"``) or a second network head (``"heteroscedastic"``).

Predictions draw ``n_predict_samples`` scale vectors ``g`` from the flow (fixed by ``seed``) and
form the posterior predictive as the mixture of the per-draw Gaussians: its mean, its standard
deviation (spread between draws + noise) and its quantiles.

With ``n_members = M > 1`` the approximate posterior is an equal-weight mixture of ``M`` such
hypernetwork posteriors, each trained from its own initialization (``q = 1/M sum_m q_m``, as
MultiSWAG mixes SWAG posteriors, Wilson & Izmailov 2020): the point-estimated directions ``v``
put each member in one mode of the weight posterior, and the mixture covers several. The draws
of a prediction are shared out among the members in turn.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from psplab.models._nn import (
    Scaler,
    check_X,
    check_Xy,
    mixture_quantiles,
    shape_out,
    to_jax_params,
    to_numpy_params,
)
from psplab.models.base import ProbabilisticRegressor, register_model

_MIN_NOISE_STD = 1e-3  # in standardized units: stops the likelihood from collapsing onto points


@register_model("bhn")
class BayesianHypernetwork(ProbabilisticRegressor):
    """Bayesian hypernetwork: a weight-normalized MLP whose unit scales come from a flow.

    Parameters
    ----------
    hidden
        Widths of the base network's hidden layers.
    n_couplings
        Number of affine coupling layers in the hypernetwork flow (2: every scale is
        transformed once, conditioned on the other half; 4 couplings of width 64, the earlier
        default, cost 1.5x the fit time on NIMS fatigue, and their MAE differed by less than
        the seed-to-seed spread).
    coupling_hidden
        Width of the small MLP inside each coupling.
    noise
        ``"homoscedastic"`` (one learned noise level per target) or ``"heteroscedastic"``.
    prior_std
        Standard deviation of the Gaussian prior on the unit scales ``g``.
    kl_weight
        Final weight of the KL term: 1 is the plain ELBO; the default 0.2 is a tempered ("cold")
        posterior (Wenzel et al. 2020), because with ~100 rows the entropy cost of ~100
        stochastic scales otherwise dominates and gives too wide intervals (held-out 90%
        coverage 0.98 on the 1-D test problem at 1.0, 0.91 at 0.2).
    anneal_fraction
        Share of the training steps over which the KL weight rises linearly from 0.
    epochs
        Passes over the data (steps, with full batches).
    learning_rate
        Adam's initial learning rate (cosine-decayed to 10%).
    batch_size
        Minibatch size; ``None`` means full batch up to 1024 rows, else 256.
    n_train_samples
        Draws of ``g`` per training step for the ELBO estimate.
    n_predict_samples
        Draws of ``g`` behind each prediction.
    calibration
        How the noise level is set. ``"holdout"`` (default), in one training run: for the first
        ``holdout_until`` of the steps a random ``holdout_fraction`` of the rows is left out of
        the likelihood; at that step the predictive on the left-out rows fixes a per-target
        factor on the noise std that maximizes their Gaussian likelihood (a flexible network
        drives its training residuals, and so its learned noise, below the true noise); the
        remaining steps train on all rows. ``"train"``: only remove from the learned noise
        variance the spread between draws that the ELBO folded into it. ``"none"``: use the
        learned noise as is. Below 30 rows ``"holdout"`` falls back to ``"train"``.
    holdout_fraction
        Share of the rows held out for the ``"holdout"`` calibration.
    holdout_until
        Share of the training steps run without the held-out rows.
    clip_norm
        Global gradient-norm clip of every Adam step (``None``: no clipping).
    target_transform
        ``"auto"`` (default): model ``log y`` for every target whose training values are all
        positive and span at least a factor 2 (strengths, hardness, grain sizes: their errors
        grow with the value, and a log keeps predictions positive); otherwise ``y`` itself.
        ``"log"`` forces the log (all training values must be positive); ``"none"`` never logs.
        The predictive is then a mixture of log-normals: its mean and std are the exact
        moments, its quantiles the exponentiated log-space quantiles.
    input_squash
        After standardizing, inputs pass through ``c * asinh(x / c)`` with this ``c`` (``None``:
        no squashing). Near-identity within ``c`` standard deviations, logarithmic beyond, so
        that heavy-tailed inputs (rare alloying additions far from the mean) do not throw the
        ReLU network into wild extrapolation.
    input_transform
        ``"none"`` (default) or ``"log"``: before standardizing, every input column whose
        training values are all non-negative and heavily right-skewed (sample skewness above 2:
        times, cooling rates, minor alloying additions) becomes ``log1p(x / s)``, ``s`` the
        median of its positive training values (new values below 0 are clipped to 0). The rule
        sees the training rows only.
    tune
        Hyperparameters chosen inside the training data (nested cross-validation when this
        model is itself cross-validated): ``None`` (default) fits the parameters as given;
        ``"auto"`` tries the small grid :data:`psplab.models.selection.BHN_GRID` (input
        transform x target transform x 300, 800 or 2000 epochs; 12 candidates); a list of dicts tries those parameter overrides. Each
        candidate is scored by ``tune_cv``-fold cross-validation on the training rows
        (``tune_metric``: ``"nll"``, ``"mae"`` or ``"rmse"``), then the model is refitted on
        all of them with the best one (``best_params_``, the table in ``tuning_``). Costs
        ``len(grid) * tune_cv + 1`` fits; the inner fits reuse the outer fit's compiled
        training program of their epoch count (rows padded to the same size).
    tune_cv
        Inner folds for ``tune``.
    tune_metric
        ``"nll"`` (Gaussian predictive NLL, summed over targets), ``"mae"`` (MAE divided by
        each target's standard deviation, averaged over targets) or ``"rmse"`` (the same with
        the RMSE, which is what R^2 scores).
    n_members
        Hypernetwork posteriors in the mixture (see the module notes), trained one after the
        other from their own initializations and training draws: ``M`` times the training time
        (the compiled program is shared). All members leave out the same rows for the
        ``"holdout"`` calibration, and the noise factor is fitted to the *mixture's* probe
        predictive, whose between-member spread is part of its width. With ``tune``, the inner
        fits use one member (the grid picks a member's settings; the refit mixes ``M``).
        NIMS fatigue, untuned (log inputs, 800 epochs), outer 10-fold MAE over three seeds:
        one member 16.0 / 17.2 / 17.5 MPa, five members 15.5 / 15.8 / 15.5.
    seed
        The only source of randomness (initialization, training draws, prediction draws).
    """

    def __init__(
        self,
        hidden: tuple[int, ...] | list[int] = (50, 50),
        n_couplings: int = 2,
        coupling_hidden: int = 32,
        noise: str = "homoscedastic",
        prior_std: float = 1.0,
        kl_weight: float = 0.2,
        anneal_fraction: float = 0.3,
        epochs: int = 2000,
        learning_rate: float = 1e-2,
        batch_size: int | None = None,
        n_train_samples: int = 1,
        n_predict_samples: int = 200,
        calibration: str = "holdout",
        holdout_fraction: float = 0.2,
        holdout_until: float = 0.7,
        input_squash: float | None = None,
        clip_norm: float | None = 1.0,
        target_transform: str = "auto",
        input_transform: str = "none",
        tune: str | list[dict[str, Any]] | None = None,
        tune_cv: int = 3,
        tune_metric: str = "nll",
        n_members: int = 1,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.n_couplings = n_couplings
        self.coupling_hidden = coupling_hidden
        self.noise = noise
        self.prior_std = prior_std
        self.kl_weight = kl_weight
        self.anneal_fraction = anneal_fraction
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_train_samples = n_train_samples
        self.n_predict_samples = n_predict_samples
        self.calibration = calibration
        self.holdout_fraction = holdout_fraction
        self.holdout_until = holdout_until
        self.input_squash = input_squash
        self.clip_norm = clip_norm
        self.target_transform = target_transform
        self.input_transform = input_transform
        self.tune = tune
        self.tune_cv = tune_cv
        self.tune_metric = tune_metric
        self.n_members = n_members
        self.seed = seed

    # ------------------------------------------------------------------ configuration
    def _config(self, n_in: int, n_targets: int) -> _Config:
        noise = self._p("noise")
        if noise not in ("homoscedastic", "heteroscedastic"):
            raise ValueError(f"noise must be 'homoscedastic' or 'heteroscedastic', got {noise!r}")
        hidden = tuple(int(h) for h in self._p("hidden"))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list positive layer widths, got {self._p('hidden')!r}")
        n_out = n_targets * (2 if noise == "heteroscedastic" else 1)
        return _Config(
            sizes=(n_in, *hidden, n_out),
            n_targets=n_targets,
            n_couplings=int(self._p("n_couplings")),
            coupling_hidden=int(self._p("coupling_hidden")),
            heteroscedastic=noise == "heteroscedastic",
            prior_std=float(self._p("prior_std")),
        )

    # ------------------------------------------------------------------ fitting
    def _p(self, name: str) -> Any:
        """A constructor parameter, or the value that ``tune`` selected for it."""
        best = getattr(self, "best_params_", None) or {}
        return best[name] if name in best else getattr(self, name)

    def _log_inputs(self, X: np.ndarray) -> np.ndarray:
        """``log1p(x / s)`` on the columns chosen by ``input_transform``; others unchanged."""
        logs = getattr(self, "log_inputs_", None)
        if logs is None or not logs.any():
            return X
        return np.where(logs, np.log1p(np.maximum(X, 0.0) / self.input_log_scale_), X)

    def _transform_X(self, X: np.ndarray) -> np.ndarray:
        Xs = self.x_scaler_.transform(self._log_inputs(X))
        c = self._p("input_squash")
        return Xs if c is None else float(c) * np.arcsinh(Xs / float(c))

    def _choose_log_inputs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mode = self._p("input_transform")
        if mode not in ("none", "log"):
            raise ValueError(f"input_transform must be 'none' or 'log', got {mode!r}")
        d = X.shape[1]
        if mode == "none":
            return np.zeros(d, dtype=bool), np.ones(d)
        from scipy import stats

        nonneg = np.all(X >= 0, axis=0) & np.any(X > 0, axis=0)
        with np.errstate(all="ignore"):
            skew = np.nan_to_num(stats.skew(X, axis=0), nan=0.0)
        logs = nonneg & (skew > 2.0)
        scale = np.ones(d)
        for j in np.flatnonzero(logs):
            scale[j] = float(np.median(X[X[:, j] > 0, j]))
        return logs, scale

    def fit(self, X: np.ndarray, y: np.ndarray) -> BayesianHypernetwork:
        """Fit on ``X (n, d)`` and ``y (n,)`` or ``(n, t)``; returns ``self``."""
        X, Y, is_1d = check_Xy(X, y)
        # Checked before any tuning fit runs (the inner fits use one member).
        if int(self.n_members) < 1:
            raise ValueError(f"n_members must be a positive integer, got {self.n_members!r}")
        self.best_params_ = {}
        self.tuning_ = None
        if self.tune is not None:
            from psplab.models.selection import BHN_GRID, select_params

            grid = BHN_GRID if self.tune == "auto" else self.tune
            if isinstance(grid, str) or not all(isinstance(g, dict) for g in grid):
                raise ValueError(f"tune must be None, 'auto' or a list of dicts, got {self.tune!r}")
            base = {**self.get_params(), "tune": None, "n_members": 1}
            min_rows = _padded_rows(X.shape[0])

            def build(overrides: dict[str, Any]) -> BayesianHypernetwork:
                model = BayesianHypernetwork(**{**base, **overrides})
                # Inner fits pad to the outer fit's row count: one compiled training program.
                model._min_rows = min_rows
                return model

            best, table = select_params(
                build,
                X,
                Y,
                grid,
                cv=int(self.tune_cv),
                seed=int(self.seed),
                metric=self.tune_metric,
            )
            self.best_params_ = dict(best)
            self.tuning_ = table
        return self._fit(X, Y, is_1d)

    def _fit(self, X: np.ndarray, Y: np.ndarray, is_1d: bool) -> BayesianHypernetwork:
        import jax.numpy as jnp

        P = self._p
        mode = P("calibration")
        if mode not in ("holdout", "train", "none"):
            raise ValueError(f"calibration must be 'holdout', 'train' or 'none', got {mode!r}")
        squash = P("input_squash")
        if squash is not None and not float(squash) > 0:
            raise ValueError(f"input_squash must be positive or None, got {squash!r}")
        self.n_features_in_ = X.shape[1]
        self.y_1d_ = is_1d
        self.log_targets_ = self._choose_log_targets(Y)
        self.log_inputs_, self.input_log_scale_ = self._choose_log_inputs(X)
        Y = self._forward_y(Y)
        self.x_scaler_ = Scaler.fit(self._log_inputs(X))
        self.y_scaler_ = Scaler.fit(Y)
        Xs = self._transform_X(X)
        Ys = self.y_scaler_.transform(Y)
        cfg = self._config(X.shape[1], Y.shape[1])
        n = X.shape[0]
        batch_size = P("batch_size")
        full = batch_size is None and n <= 1024
        bs = n if full else int(batch_size or 256)
        if full:
            # Pad with zero-weight rows to a bucket (multiples of 32, or the outer fit's size for
            # inner tuning fits): folds of slightly different sizes, repeated fits and the
            # tuning fits then share one compiled training program.
            size = max(_padded_rows(n), int(getattr(self, "_min_rows", 0)))
            Xs, Ys = _pad_rows_to(Xs, size), _pad_rows_to(Ys, size)
            bs = size
        n_pad = Xs.shape[0]
        weights = np.zeros(n_pad, dtype=np.float32)
        weights[:n] = 1.0
        holdout = mode == "holdout" and n >= 30
        hold = np.zeros(0, dtype=int)
        seed = int(P("seed"))
        if holdout:
            rng = np.random.default_rng(seed + 101)
            n_hold = max(5, int(round(float(P("holdout_fraction")) * n)))
            hold = np.sort(rng.permutation(n)[:n_hold])
        probe_weights = weights.copy()
        probe_weights[hold] = 0.0
        steps_per_epoch = 1 if bs >= n_pad else math.ceil(n / bs)
        n_steps = max(1, int(P("epochs")) * steps_per_epoch)
        switch = int(round(float(P("holdout_until")) * n_steps)) if holdout else 0
        clip = P("clip_norm")
        n_samples = int(P("n_train_samples"))
        n_members = int(P("n_members"))
        start, segment, unravel = _trainer(
            cfg, n_pad, bs, n_steps, n_samples, None if clip is None else float(clip)
        )
        hyper = np.array(
            [float(P("learning_rate")), float(P("kl_weight")), float(P("anneal_fraction"))],
            dtype=np.float32,
        )
        Xj, Yj = jnp.asarray(Xs, jnp.float32), jnp.asarray(Ys, jnp.float32)
        hj = jnp.asarray(hyper)
        states = []
        for m in range(n_members):
            # Initial parameters and every random number of the training run come from NumPy,
            # seeded by `seed` (and the member): eager JAX random calls each compile a small
            # program (~0.5 s apiece on this CPU), which used to cost more than the training.
            rng = np.random.default_rng([seed, 1] if m == 0 else [seed, 1, m])
            eps = rng.standard_normal((n_steps, n_samples, _n_units(cfg)), dtype=np.float32)
            batch_seed = int(rng.integers(2**31 - 1))
            states.append(start(_flatten(_init_params(rng, cfg)), eps, batch_seed))
        self.config_ = cfg
        self.noise_factor_ = np.ones((n_members, Y.shape[1]))
        # One compiled segment of Adam steps, called once per phase: steps [0, switch) without
        # the held-out rows, then the rest on all rows. The probe predictive in between runs on
        # the compiled predictor, so the training loop carries no branch for it.
        if holdout:
            pw = jnp.asarray(probe_weights)
            states = [segment(st, Xj, Yj, pw, hj, 0, switch) for st in states]
            self.params_ = [unravel(st[0]) for st in states]
            means, stds = self._draws_t(X[hold], _PROBE_DRAWS * n_members, _predict_seed(seed) + 1)
            scale = self.y_scaler_.scale
            mu = (means.mean(axis=0) - self.y_scaler_.mean) / scale
            spread = means.var(axis=0) / scale**2
            noise_var = (stds**2).mean(axis=0) / scale**2
            # One factor for the mixture: the spread between draws is part of its width.
            factor = _best_noise_factor(Ys[hold], mu, spread, noise_var)
            probe_total = (spread + factor**2 * noise_var).mean(axis=0)
        w = jnp.asarray(weights)
        states = [segment(st, Xj, Yj, w, hj, switch, n_steps) for st in states]
        losses = np.stack([np.asarray(st[2]) for st in states])
        if not np.all(np.isfinite(losses[:, -10:])):
            raise FloatingPointError("BHN training diverged (non-finite loss); lower learning_rate")
        self.params_ = [unravel(st[0]) for st in states]
        self.loss_curve_ = losses
        if holdout:
            # Carry the calibrated *total* variance over to the final networks: the last steps
            # on all rows shrink the learned noise and also the spread between draws, so the
            # noise makes up for the spread the final networks no longer give. Their spread on
            # new rows is not measurable here; it lies between the probe's spread on the
            # held-out rows (no shrinkage) and the final spread on those rows, which the final
            # networks have now trained on (full shrinkage): take the midpoint. NIMS fatigue,
            # five members, five folds: new-row spread 0.43-0.88 of the probe's, final spread
            # on the held-out rows 0.15-0.2 of it. (Assuming no shrinkage, i.e. carrying only
            # the noise level over, left a five-member mixture covering 0.85-0.87.)
            spread_final, noise_final = self._spread_and_noise(X[hold], _predict_seed(seed))
            spread_new = 0.5 * (spread.mean(axis=0) + spread_final)
            target = np.maximum(probe_total - spread_new, 0.1 * probe_total)
            self.noise_factor_ = np.sqrt(target / noise_final)
        elif mode == "train":
            # The ELBO's optimal noise variance is E_q[(y - f_g(x))^2] = resid^2 + Var_q f, so
            # adding Var_q f again at prediction double-counts it. Scale the noise variance down
            # by the share that is draw-to-draw spread, measured on the training inputs.
            means, stds = self._draws_t(
                X, int(P("n_predict_samples")) * n_members, _predict_seed(seed)
            )
            for m in range(n_members):  # draw i belongs to member i % M
                spread = means[m::n_members].var(axis=0).mean(axis=0)
                noise_var = (stds[m::n_members] ** 2).mean(axis=(0, 1))
                self.noise_factor_[m] = np.sqrt(np.clip(1.0 - spread / noise_var, 0.05, 1.0))
        return self

    def _spread_and_noise(self, X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """On ``X``, standardized: the draws' spread ``(t,)`` and each member's noise ``(M, t)``.

        Both are means over the rows of variances; the noise is taken before the noise factor.
        """
        M = len(self.params_)
        means, stds = self._draws_t(X, _PROBE_DRAWS * M, seed)
        scale = self.y_scaler_.scale
        spread = (means.var(axis=0) / scale**2).mean(axis=0)
        stds = stds / self.noise_factor_[np.arange(stds.shape[0]) % M][:, None, :]
        per_draw = (stds / scale) ** 2
        return spread, np.stack([per_draw[m::M].mean(axis=(0, 1)) for m in range(M)])

    def _choose_log_targets(self, Y: np.ndarray) -> np.ndarray:
        mode = self._p("target_transform")
        if mode not in ("auto", "log", "none"):
            raise ValueError(f"target_transform must be 'auto', 'log' or 'none', got {mode!r}")
        positive = np.all(Y > 0, axis=0)
        if mode == "log":
            if not np.all(positive):
                raise ValueError("target_transform='log' needs positive target values")
            return np.ones(Y.shape[1], dtype=bool)
        if mode == "none":
            return np.zeros(Y.shape[1], dtype=bool)
        ratio = np.where(positive, Y.max(axis=0) / np.where(positive, Y.min(axis=0), 1.0), 0.0)
        return positive & (ratio >= 2.0)

    def _forward_y(self, Y: np.ndarray) -> np.ndarray:
        logs = self.log_targets_
        return np.where(logs, np.log(np.where(logs, Y, 1.0)), Y)

    # ------------------------------------------------------------------ prediction
    def _draws(self, X: np.ndarray, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-draw Gaussian means and stds, ``(m, n, t)`` each, in the modelled units.

        Those are the targets' units, or their logs for the targets in ``log_targets_``.
        """
        return self._draws_t(X, n_draws, seed)

    def _draws_t(self, X: np.ndarray, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        import jax.numpy as jnp

        self._check_fitted()
        X = check_X(X, self.n_features_in_)
        # Fixed blocks of rows and draws: one compiled predictor serves every call, whatever
        # the number of rows or draws (tests, cross-validation folds, optimizers).
        Xp, n = _pad_to(self._transform_X(X), _ROW_BLOCK)
        G = _n_units(self.config_)
        # NumPy draws: a JAX random call would compile a program per number of draws.
        z = np.random.default_rng([int(seed), 2]).standard_normal((int(n_draws), G))
        predict = _predict_factory(self.config_)
        Xj = jnp.asarray(Xp, dtype=jnp.float32)
        M = len(self.params_)
        T = self.config_.n_targets
        mean_s = np.empty((int(n_draws), n, T))
        std_s = np.empty((int(n_draws), n, T))
        for m, params in enumerate(self.params_):
            # Draw i comes from member i % M: any number of draws shares the members out evenly.
            mine = np.arange(m, int(n_draws), M)
            if mine.size == 0:
                continue
            zp, _ = _pad_to(z[mine], _DRAW_BLOCK)
            zj = jnp.asarray(zp, dtype=jnp.float32)
            blocks_m, blocks_s = [], []
            for r in range(0, Xp.shape[0], _ROW_BLOCK):
                row_m, row_s = [], []
                for d in range(0, zp.shape[0], _DRAW_BLOCK):
                    m_b, s_b = predict(params, Xj[r : r + _ROW_BLOCK], zj[d : d + _DRAW_BLOCK])
                    row_m.append(np.asarray(m_b))
                    row_s.append(np.asarray(s_b))
                blocks_m.append(np.concatenate(row_m, axis=0))
                blocks_s.append(np.concatenate(row_s, axis=0))
            mean_s[mine] = np.concatenate(blocks_m, axis=1)[: mine.size, :n]
            std_s[mine] = np.concatenate(blocks_s, axis=1)[: mine.size, :n] * self.noise_factor_[m]
        scale = self.y_scaler_.scale
        means = mean_s * scale + self.y_scaler_.mean
        stds = std_s * scale
        return means, np.broadcast_to(stds, means.shape)

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior-predictive mean and std (spread of the draws plus the noise)."""
        means, stds = self._draws(
            X, int(self._p("n_predict_samples")), _predict_seed(self._p("seed"))
        )
        mean = means.mean(axis=0)
        var = means.var(axis=0) + (stds**2).mean(axis=0)
        logs = np.asarray(getattr(self, "log_targets_", np.zeros(means.shape[-1], bool)))
        if logs.any():
            # Mixture of log-normals: exact first two moments.
            # Exponentiate only the log-modelled columns (the others hold values in target
            # units, e.g. hundreds of MPa, which would overflow).
            lm = np.where(logs, means, 0.0)
            ls = np.where(logs, stds, 0.0)
            m1 = np.exp(lm + 0.5 * ls**2).mean(axis=0)
            m2 = np.exp(2.0 * lm + 2.0 * ls**2).mean(axis=0)
            mean = np.where(logs, m1, mean)
            var = np.where(logs, np.maximum(m2 - m1**2, 0.0), var)
        return shape_out(mean, self.y_1d_), shape_out(np.sqrt(var), self.y_1d_)

    def predict_quantiles(self, X: np.ndarray, q: np.ndarray | list[float]) -> np.ndarray:
        """Quantiles of the mixture of the per-draw Gaussians, ``(len(q), n[, t])``."""
        means, stds = self._draws(
            X, int(self._p("n_predict_samples")), _predict_seed(self._p("seed"))
        )
        return shape_out(self._inverse_y(mixture_quantiles(means, stds, q)), self.y_1d_)

    def _inverse_y(self, A: np.ndarray) -> np.ndarray:
        logs = np.asarray(getattr(self, "log_targets_", np.zeros(A.shape[-1], bool)))
        return np.where(logs, np.exp(np.where(logs, A, 0.0)), A) if logs.any() else A

    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Joint posterior-predictive draws ``(n_samples, n[, t])``: one ``g`` per draw for all rows."""
        means, stds = self._draws(X, n_samples, seed)
        if include_noise:
            rng = np.random.default_rng(seed)
            means = means + stds * rng.standard_normal(means.shape)
        return shape_out(self._inverse_y(means), self.y_1d_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise RuntimeError("BayesianHypernetwork is not fitted; call fit(X, y) first")

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check_fitted()
        # Member 0 under "p_" (the layout of single-member models), member m under "m{m}_".
        arrays = {}
        for m, params in enumerate(self.params_):
            prefix = "p_" if m == 0 else f"m{m}_"
            arrays.update({f"{prefix}{k}": v for k, v in to_numpy_params(params).items()})
        arrays.update(
            x_mean=self.x_scaler_.mean,
            x_scale=self.x_scaler_.scale,
            y_mean=self.y_scaler_.mean,
            y_scale=self.y_scaler_.scale,
            loss_curve=np.asarray(self.loss_curve_),
            noise_factor=np.asarray(self.noise_factor_),
            log_targets=np.asarray(self.log_targets_, dtype=bool),
            log_inputs=np.asarray(self.log_inputs_, dtype=bool),
            input_log_scale=np.asarray(self.input_log_scale_, dtype=float),
        )
        meta = {
            "n_features_in": int(self.n_features_in_),
            "y_1d": bool(self.y_1d_),
            "n_targets": int(self.config_.n_targets),
            "n_members": len(self.params_),
            "best_params": getattr(self, "best_params_", {}) or {},
        }
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        # The tuned values first: the architecture (config_) may depend on them.
        self.best_params_ = dict(meta.get("best_params", {}))
        self.n_features_in_ = int(meta["n_features_in"])
        self.y_1d_ = bool(meta["y_1d"])
        self.x_scaler_ = Scaler(arrays["x_mean"], arrays["x_scale"])
        self.y_scaler_ = Scaler(arrays["y_mean"], arrays["y_scale"])
        self.config_ = self._config(self.n_features_in_, int(meta["n_targets"]))
        n_members = int(meta.get("n_members", 1))
        self.params_ = [to_jax_params(arrays, "p_")] + [
            to_jax_params(arrays, f"m{m}_") for m in range(1, n_members)
        ]
        self.loss_curve_ = np.atleast_2d(arrays["loss_curve"])
        self.noise_factor_ = np.atleast_2d(arrays["noise_factor"])
        # Models saved before target transforms existed modelled every target as is.
        self.log_targets_ = np.asarray(
            arrays.get("log_targets", np.zeros(int(meta["n_targets"]), dtype=bool)), dtype=bool
        )
        d = self.n_features_in_
        self.log_inputs_ = np.asarray(arrays.get("log_inputs", np.zeros(d, bool)), dtype=bool)
        self.input_log_scale_ = np.asarray(arrays.get("input_log_scale", np.ones(d)), dtype=float)


def _predict_seed(seed: int) -> int:
    # Prediction draws use their own stream so they do not repeat the training draws.
    return int(seed) * 7919 + 17


# ====================================================================== the model's maths


@dataclass(frozen=True)
class _Config:
    """Hashable architecture description (so jitted functions can be cached per shape)."""

    sizes: tuple[int, ...]
    n_targets: int
    n_couplings: int
    coupling_hidden: int
    heteroscedastic: bool
    prior_std: float


def _n_units(cfg: _Config) -> int:
    """Number of stochastic scales: one per hidden and output unit."""
    return int(sum(cfg.sizes[1:]))


def _masks(cfg: _Config):
    import jax.numpy as jnp

    G = _n_units(cfg)
    idx = np.arange(G)
    # Alternate even/odd halves so each coordinate is transformed by every other coupling.
    return [jnp.asarray((idx % 2 == (k % 2)).astype(np.float32)) for k in range(cfg.n_couplings)]


def _init_params(rng: np.random.Generator, cfg: _Config) -> dict[str, np.ndarray]:
    """Initial parameters (float32 NumPy arrays) drawn from ``rng``."""
    sizes = cfg.sizes
    G = _n_units(cfg)
    f32 = np.float32
    p: dict[str, np.ndarray] = {}
    mu = []
    for i in range(len(sizes) - 1):
        # Directions with unit column norm: Adam's step is then a sizeable *relative* change of
        # each direction (with N(0, 1) entries the angles barely move and the net underfits).
        p[f"V{i}"] = (rng.standard_normal((sizes[i], sizes[i + 1])) / math.sqrt(sizes[i])).astype(
            f32
        )
        p[f"b{i}"] = np.zeros((sizes[i + 1],), f32)
        last = i == len(sizes) - 2
        # Scales that keep unit variance through ReLU layers (sqrt 2) and a small output layer.
        mu.append(np.full(sizes[i + 1], 1.0 if last else math.sqrt(2.0), dtype=f32))
    p["mu"] = np.concatenate(mu)
    p["log_sigma"] = np.full((G,), math.log(0.05), f32)
    H = cfg.coupling_hidden
    for k in range(cfg.n_couplings):
        p[f"c{k}_W0"] = (rng.standard_normal((G, H)) * math.sqrt(2.0 / G)).astype(f32)
        p[f"c{k}_b0"] = np.zeros((H,), f32)
        # Zero output layer: every coupling starts as the identity.
        p[f"c{k}_W1"] = np.zeros((H, 2 * G), f32)
        p[f"c{k}_b1"] = np.zeros((2 * G,), f32)
    p["log_noise"] = np.full((cfg.n_targets,), math.log(0.3), f32)
    return p


def _flatten(params: dict[str, np.ndarray]) -> np.ndarray:
    """One flat float32 vector, leaves in sorted-name order (the order of :func:`_unraveler`)."""
    return np.concatenate([np.ravel(params[k]) for k in sorted(params)]).astype(np.float32)


def _unraveler(cfg: _Config):
    """Inverse of :func:`_flatten` for ``cfg``'s parameters, traceable by JAX."""
    shapes = {k: v.shape for k, v in _init_params(np.random.default_rng(0), cfg).items()}
    layout = []
    offset = 0
    for k in sorted(shapes):
        size = int(np.prod(shapes[k], dtype=int))
        layout.append((k, offset, size, shapes[k]))
        offset += size

    def unravel(flat):
        return {k: flat[o : o + n].reshape(shape) for k, o, n, shape in layout}

    return unravel


def _flow(p: dict[str, Any], z, cfg: _Config):
    """Map ``z (S, G)`` to scales ``g (S, G)`` and ``log|det dg/dz|`` per draw."""
    import jax.numpy as jnp

    G = _n_units(cfg)
    x = z
    logdet = jnp.zeros(z.shape[:-1])
    for k, m in enumerate(_masks(cfg)):
        xm = x * m
        h = jnp.maximum(xm @ p[f"c{k}_W0"] + p[f"c{k}_b0"], 0.0)
        st = h @ p[f"c{k}_W1"] + p[f"c{k}_b1"]
        s = jnp.tanh(st[..., :G]) * (1.0 - m)  # bounded log-scales keep the flow well conditioned
        t = st[..., G:] * (1.0 - m)
        x = xm + (1.0 - m) * (x * jnp.exp(s) + t)
        logdet = logdet + s.sum(-1)
    g = p["mu"] + jnp.exp(p["log_sigma"]) * x
    logdet = logdet + p["log_sigma"].sum()
    return g, logdet


def _base_apply(p: dict[str, Any], g, x, cfg: _Config):
    """Weight-normalized MLP with unit scales ``g (G,)`` on ``x (n, d)`` -> ``(n, n_out)``."""
    import jax.numpy as jnp

    sizes = cfg.sizes
    h = x
    off = 0
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        V = p[f"V{i}"]
        width = sizes[i + 1]
        gi = g[off : off + width]
        off += width
        W = V * (gi / jnp.sqrt(jnp.sum(V * V, axis=0) + 1e-12))
        h = h @ W + p[f"b{i}"]
        if i < n_layers - 1:
            h = jnp.maximum(h, 0.0)
    return h


def _heads(p: dict[str, Any], out, cfg: _Config):
    """Split the output into mean and log-variance (standardized units)."""
    import jax
    import jax.numpy as jnp

    t = cfg.n_targets
    mean = out[..., :t]
    if cfg.heteroscedastic:
        std = jax.nn.softplus(out[..., t:] + math.log(math.e**0.3 - 1.0)) + _MIN_NOISE_STD
    else:
        std = jnp.exp(p["log_noise"]) + _MIN_NOISE_STD
        std = jnp.broadcast_to(std, mean.shape)
    return mean, std


def _pad_to(A: np.ndarray, multiple: int) -> tuple[np.ndarray, int]:
    n = A.shape[0]
    return _pad_rows_to(A, -(-n // multiple) * multiple), n


def _padded_rows(n: int) -> int:
    """Training rows after padding: the next multiple of 32."""
    return -(-n // 32) * 32


def _pad_rows_to(A: np.ndarray, size: int) -> np.ndarray:
    n = A.shape[0]
    if size <= n:
        return A
    return np.concatenate([A, np.repeat(A[:1], size - n, axis=0)])


def _best_noise_factor(
    y: np.ndarray, mu: np.ndarray, spread: np.ndarray, noise_var: np.ndarray
) -> np.ndarray:
    """Per-target noise-std factor maximizing the Gaussian likelihood of held-out rows.

    ``y, mu, spread, noise_var`` are ``(n_hold, t)`` in standardized units: truths, predictive
    means, draw-to-draw variances and mean noise variances of the probe network.
    """
    factors = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))
    best = np.empty(y.shape[1])
    for j in range(y.shape[1]):
        var = spread[None, :, j] + factors[:, None] ** 2 * noise_var[None, :, j]
        ll = -0.5 * np.sum(np.log(var) + (y[None, :, j] - mu[None, :, j]) ** 2 / var, axis=1)
        best[j] = factors[int(np.argmax(ll))]
    return best


_ROW_BLOCK = 128  # rows per call of the compiled predictor
_DRAW_BLOCK = 64  # draws of g per call of the compiled predictor
_PROBE_DRAWS = 64  # draws of g behind the held-out predictive used for calibration


def _compiler_options() -> dict:
    """XLA options for the BHN's compiled programs.

    On a CPU, compiling is a large share of a first fit (NIMS fatigue, one fold: about 8 s of
    compilation against 2 s of training). XLA's newer CPU fusion emitters cost about a third
    more compile time on these loops of tiny ops than the classic ones, so they are off.
    Full LLVM optimization stays on: at level 0 the training loop ran 3-4x slower and the
    predictor 2.5x slower (5000 rows x 200 draws: 0.95 -> 2.4 s).
    """
    return {"xla_cpu_use_fusion_emitters": False}


@functools.lru_cache(maxsize=32)
def _trainer(cfg: _Config, n: int, bs: int, n_steps: int, n_samples: int, clip_norm: float | None):
    """Compiled training pieces ``(start, segment, unravel)`` for one architecture and size.

    ``start(flat, eps, batch_seed)`` initializes Adam on the flat parameter vector and holds
    the run's standard-normal draws ``eps (n_steps, n_samples, G)``;
    ``segment(state, X, Y, w, hyper, first, stop)`` runs Adam steps ``first..stop-1`` in one
    jitted ``fori_loop`` (dynamic bounds, so every phase and every fit of the same shapes reuses
    one compilation). ``hyper = [learning_rate, kl_weight, anneal_fraction]`` is an argument,
    not a constant, so fits that differ only in those (the tuning grid) share the program too.
    Rows with weight 0 (padding, held-out rows) do not enter the likelihood. ``unravel`` turns
    the flat parameter vector back into the dict.
    """
    import jax
    import jax.numpy as jnp
    import optax

    log2pi = math.log(2.0 * math.pi)
    full = bs >= n
    # Adam and the clip work on one flat vector: per-leaf updates of ~25 small arrays cost a
    # kernel launch each per step, which on a CPU dominates the cost of these tiny matrices.
    unravel = _unraveler(cfg)
    opt = optax.scale_by_adam()
    if clip_norm is not None:
        # A one-draw ELBO gradient is occasionally huge; unclipped, such a step can throw the
        # network into a poor optimum it never leaves (NIMS: one fold's MAE 78 instead of ~20).
        opt = optax.chain(optax.clip_by_global_norm(clip_norm), opt)

    def loss(p, xb, yb, wb, n_eff, z, step, kl_weight, anneal_fraction):
        g, logdet = _flow(p, z, cfg)
        log_q = -0.5 * jnp.sum(z**2 + log2pi, axis=-1) - logdet
        log_prior = -0.5 * jnp.sum(
            (g / cfg.prior_std) ** 2 + log2pi + 2 * math.log(cfg.prior_std), axis=-1
        )
        out = jax.vmap(lambda gi: _base_apply(p, gi, xb, cfg))(g)
        mean, std = _heads(p, out, cfg)
        nll = 0.5 * (log2pi + 2.0 * jnp.log(std) + ((yb - mean) / std) ** 2)
        nll_row = nll.sum(-1).mean(0)  # sum over targets, mean over draws
        data = jnp.sum(wb * nll_row) / jnp.maximum(jnp.sum(wb), 1.0)
        ramp = jnp.clip(step / jnp.maximum(anneal_fraction * n_steps, 1.0), 0.0, 1.0)
        kl = jnp.mean(log_q - log_prior)
        return data + kl_weight * ramp * kl / n_eff

    @functools.partial(jax.jit, compiler_options=_compiler_options())
    def start(flat, eps, batch_seed):
        # All random numbers come in from outside: a PRNG inside the loop body would be
        # compiled into it, and that compilation costs more than the few kB these arrays take.
        if full:
            batch_keys = jnp.zeros((n_steps,))
        else:
            batch_keys = jax.random.split(jax.random.PRNGKey(batch_seed), n_steps)
        losses = jnp.full((n_steps,), jnp.nan, jnp.float32)
        return flat, opt.init(flat), losses, eps, batch_keys

    @functools.partial(jax.jit, compiler_options=_compiler_options())
    def segment(state, Xj, Yj, w, hyper, first, stop):
        flat, opt_state, losses, eps, batch_keys = state
        n_eff = jnp.sum(w)
        lr, kl_weight, anneal_fraction = hyper[0], hyper[1], hyper[2]

        def body(i, carry):
            p, s, L = carry
            if full:
                xb, yb, wb = Xj, Yj, w
            else:
                idx = jax.random.choice(batch_keys[i], n, (bs,), replace=False)
                xb, yb, wb = Xj[idx], Yj[idx], w[idx]
            value, grads = jax.value_and_grad(
                lambda f: loss(unravel(f), xb, yb, wb, n_eff, eps[i], i, kl_weight, anneal_fraction)
            )(p)
            updates, s = opt.update(grads, s, p)
            # Adam with a cosine decay of the learning rate to 10% (optax.cosine_decay_schedule
            # with alpha=0.1), written out so that the rate is an argument.
            frac = jnp.minimum(i, n_steps) / n_steps
            rate = lr * (0.9 * 0.5 * (1.0 + jnp.cos(jnp.pi * frac)) + 0.1)
            return p - rate * updates, s, L.at[i].set(value)

        # Dynamic loop bounds: both phases run the same compiled loop.
        flat, opt_state, losses = jax.lax.fori_loop(first, stop, body, (flat, opt_state, losses))
        return flat, opt_state, losses, eps, batch_keys

    def unravel_numpy(flat):
        # For the callers, in NumPy: eager JAX slices would each compile a small program.
        return unravel(np.asarray(flat))

    return start, segment, unravel_numpy


@functools.lru_cache(maxsize=32)
def _predict_factory(cfg: _Config):
    import jax

    @functools.partial(jax.jit, compiler_options=_compiler_options())
    def predict(p, x, z):
        g, _ = _flow(p, z, cfg)
        out = jax.vmap(lambda gi: _base_apply(p, gi, x, cfg))(g)
        return _heads(p, out, cfg)

    return predict
