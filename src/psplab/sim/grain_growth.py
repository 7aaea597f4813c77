"""Multi-order-parameter Allen-Cahn grain growth (Fan & Chen, Acta Mater. 45 (1997) 611).

Free energy density (dimensionless, pixel units)::

    f = Σ_i (-η_i²/2 + η_i⁴/4) + γ Σ_i Σ_{j>i} η_i² η_j² + (κ/2) Σ_i |∇η_i|² + ε_p φ_p Σ_i η_i²

with γ = 1.5 (symmetric boundaries), and the last term an optional Zener pinning field: where
second-phase particles sit (``φ_p`` = 1) every grain order parameter is penalized, so a boundary
that passes through a particle saves that energy and is held there (Moelans, Blanpain & Wollants,
Acta Mater. 54 (2006) 1175). Evolution ``∂η_i/∂t = -L δF/δη_i``, explicit Euler with a 5-point
Laplacian on a periodic grid; explicit stability needs ``dt L (8 κ + 2) < 2`` so ``dt ≤ 0.18``
with ``L = κ = 1`` (see :data:`DT_MAX`).

Only ``n_order`` (default 10) order parameters are kept; :mod:`psplab.sim.tracking` re-colours
grains on the host so that grains sharing one never touch. :class:`GrainGrowthBatch` advances a
batch of microstructures phase by phase (each recipe with its own time step), pipelining the
device steps of one half of the batch with the host re-colouring of the other.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from psplab.measure import label_components
from psplab.sim.tracking import GrainTracker, mean_ecd_px

GAMMA = 1.5
KAPPA = 1.0
MOBILITY_L = 1.0
DT_MAX = 0.18
PIN_STRENGTH = 2.0


# --- device kernels ------------------------------------------------------------------------
def _laplacian(x: jax.Array) -> jax.Array:
    """5-point periodic Laplacian over the last two axes."""
    return (
        jnp.roll(x, 1, -1) + jnp.roll(x, -1, -1) + jnp.roll(x, 1, -2) + jnp.roll(x, -1, -2) - 4 * x
    )


def _gg_step_batched(eta: jax.Array, dt: jax.Array, pin: jax.Array) -> jax.Array:
    """One explicit step for a batch: eta (B, P, H, W), dt (B,), pin (B, H, W)."""
    eta2 = eta * eta
    # An explicit sum of the P slices fuses with the elementwise update; a reduction over
    # axis 1 does not on XLA:CPU (measured 2× slower).
    s2 = sum(eta2[:, i] for i in range(eta.shape[1]))[:, None]
    dfdeta = eta * (
        -1.0 + eta2 + 2.0 * GAMMA * (s2 - eta2) + 2.0 * pin[:, None]
    ) - KAPPA * _laplacian(eta)
    return eta - (MOBILITY_L * dt)[:, None, None, None] * dfdeta


def _gg_step_single(eta: jax.Array, dt: jax.Array, pin: jax.Array) -> jax.Array:
    """The same step for one recipe: eta (P, H, W); vmapped for the plain baseline."""
    return _gg_step_batched(eta[None], dt[None], pin[None])[0]


@partial(jax.jit, static_argnames=("n_steps", "unroll"))
def gg_run(eta: jax.Array, dt: jax.Array, pin: jax.Array, n_steps: int, unroll: int = 1):
    """``n_steps`` batched steps (the optimized path: batched step, unrolled loop).

    Parameters
    ----------
    eta : jax.Array
        Order parameters ``(B, P, H, W)``.
    dt : jax.Array
        Time step of each structure ``(B,)``.
    pin : jax.Array
        Pinning field ``(B, H, W)``, zeros without particles.
    n_steps : int
        Steps (static).
    unroll : int
        Loop unrolling (fuses steps on a GPU).

    Returns
    -------
    jax.Array
        The evolved order parameters.
    """
    return jax.lax.fori_loop(
        0, n_steps, lambda _, e: _gg_step_batched(e, dt, pin), eta, unroll=unroll
    )


@jax.jit
def gg_run_dynamic(eta: jax.Array, dt: jax.Array, pin: jax.Array, n_steps: jax.Array):
    """As :func:`gg_run` with a traced step count (one compilation for every chunk length).

    Parameters
    ----------
    eta : jax.Array
        Fields of one chunk ``(B, P, H, W)``.
    dt : jax.Array
        Per-structure steps, 0 to hold a structure still.
    pin : jax.Array
        ``ε_p φ_p`` per structure.
    n_steps : jax.Array
        Traced int32 step count of this chunk.

    Returns
    -------
    jax.Array
        Fields at the end of the chunk.
    """

    def body(i_e):
        i, e = i_e
        return i + 1, _gg_step_batched(e, dt, pin)

    return jax.lax.while_loop(lambda i_e: i_e[0] < n_steps, body, (jnp.int32(0), eta))[1]


@partial(jax.jit, static_argnames=("n_steps",))
def gg_run_plain(eta: jax.Array, dt: jax.Array, pin: jax.Array, n_steps: int):
    """Plain baseline: ``fori_loop`` over ``vmap`` of the single-recipe step.

    Parameters
    ----------
    eta : jax.Array
        Baseline input ``(B, P, H, W)``.
    dt, pin : jax.Array
        Steps ``(B,)`` and pinning fields ``(B, H, W)``, as for :func:`gg_run`.
    n_steps : int
        Loop length.

    Returns
    -------
    jax.Array
        What :func:`gg_run` returns, computed the plain way.
    """
    step = jax.vmap(_gg_step_single)
    return jax.lax.fori_loop(0, n_steps, lambda _, e: step(e, dt, pin), eta)


# --- host-side structures ---------------------------------------------------------------------
def periodic_label(mask: np.ndarray, connectivity: int = 1) -> tuple[np.ndarray, int]:
    """Connected components of ``mask`` on a periodic (torus) grid; ids 1..n, 0 outside.

    Parameters
    ----------
    mask : numpy.ndarray
        2-D boolean image.
    connectivity : int
        1 (4-connected) or 2 (8-connected).

    Returns
    -------
    labels : numpy.ndarray
        int32 component ids.
    n : int
        Number of components.
    """
    m = np.asarray(mask, dtype=bool)
    lab, n = label_components(
        m.astype(np.int64), periodic=True, connectivity=connectivity, exclude=~m
    )
    return lab.astype(np.int32), int(n)


def hard_core_seeds(
    grid: int, n: int, rng: np.random.Generator, min_frac: float = 0.5, max_tries: int = 50
) -> np.ndarray:
    """``n`` random points on the periodic square, kept ``min_frac`` × mean spacing apart.

    Random sequential adsorption: recrystallization nuclei do not form on top of each other,
    and the absence of near-coincident seeds avoids slivers of a pixel or two that would
    vanish in the first steps. A point that finds no room after ``max_tries`` candidates is
    placed anyway.

    Parameters
    ----------
    grid : int
        Side of the periodic square.
    n : int
        Number of points.
    rng : numpy.random.Generator
        Source of the candidates.
    min_frac : float
        Minimum distance as a share of the mean spacing ``grid / sqrt(n)``.
    max_tries : int
        Candidates per point.

    Returns
    -------
    numpy.ndarray
        (n, 2) positions.
    """
    dmin2 = (min_frac * grid / np.sqrt(n)) ** 2
    cand = rng.uniform(0, grid, size=(n * max_tries, 2))
    pts = np.empty((n, 2))
    j = 0
    for i in range(n):
        start = j
        while True:
            p = cand[j]
            j += 1
            d = np.abs(pts[:i] - p)
            d = np.minimum(d, grid - d)
            if i == 0 or j - start >= max_tries or np.min(np.sum(d * d, 1)) >= dmin2:
                break
        pts[i] = p
    return pts


def voronoi_labels(grid: int, n_grains: int, rng: np.random.Generator) -> np.ndarray:
    """Periodic Voronoi tessellation of ``n_grains`` hard-core random seeds; ids 1..N.

    Parameters
    ----------
    grid : int
        Pixels per side.
    n_grains : int
        Number of seeds.
    rng : numpy.random.Generator
        Source of the seeds.

    Returns
    -------
    numpy.ndarray
        int32 (grid, grid) labels.
    """
    from scipy.spatial import cKDTree

    seeds = hard_core_seeds(grid, n_grains, rng) % grid
    yy, xx = np.meshgrid(np.arange(grid) + 0.5, np.arange(grid) + 0.5, indexing="ij")
    tree = cKDTree(seeds, boxsize=grid)
    _, idx = tree.query(np.stack([yy.ravel(), xx.ravel()], 1))
    # A seed whose cell holds no pixel centre would leave a gap in the ids.
    _, dense = np.unique(idx, return_inverse=True)
    return (dense.reshape(grid, grid) + 1).astype(np.int32)


def random_particles(
    grid: int, area_fraction: float, radius_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Immobile second-phase particles: non-overlapping discs placed at random (periodic).

    Discs of radius ``radius_px`` are added by random sequential adsorption (a candidate that
    would overlap an earlier disc is rejected) until they cover ``area_fraction`` of the grid
    (to within half a disc), one pixel of matrix apart along the axes; near 40 % the
    placement jams (``ValueError``). Randomly placed particles are the set-up of Moelans,
    Blanpain & Wollants (Acta Mater. 54 (2006) 1175) for 2-D Zener pinning.

    Parameters
    ----------
    grid : int
        Pixels per side.
    area_fraction : float
        Fraction of the grid to cover, in [0, 0.4].
    radius_px : float
        Disc radius in pixels (≥ 1).
    rng : numpy.random.Generator
        Source of the positions.

    Returns
    -------
    numpy.ndarray
        bool (grid, grid), True inside particles.
    """
    from psplab.sim.precipitates import place_discs

    if not 0.0 <= area_fraction <= 0.4:
        raise ValueError(f"particle area fraction must lie in [0, 0.4], got {area_fraction!r}")
    if radius_px < 1.0:
        raise ValueError(f"particle radius must be at least 1 px, got {radius_px!r}")
    return place_discs(grid, area_fraction, lambda n: np.full(n, float(radius_px)), rng)


def pinning_field(particles: np.ndarray, strength: float = PIN_STRENGTH) -> np.ndarray:
    """Zener pinning field ``ε_p φ_p`` for :func:`run_grain_growth` from a particle mask.

    ``φ_p`` = 1 inside particles. With ``ε_p > 1/2`` the state ``η_i = 0`` (no grain) is the
    stable one inside a particle, so every grain meets a particle with the same interface
    energy (an incoherent particle, 90° contact angle) and a boundary that runs through a
    particle saves the boundary energy it would have had there: boundaries are attracted to
    and held at particles (Fan & Chen 1997; Moelans et al. 2006).

    Parameters
    ----------
    particles : numpy.ndarray
        Boolean particle mask.
    strength : float
        ``ε_p`` (> 1/2).

    Returns
    -------
    numpy.ndarray
        The field ``ε_p φ_p``.
    """
    if strength <= 0.5:
        raise ValueError(f"pinning strength must exceed 1/2 (η = 0 stable), got {strength!r}")
    return strength * np.asarray(particles, dtype=float)


class GrainGrowthBatch:
    """A batch of Fan-Chen grain structures advanced together, phase by phase.

    Parameters
    ----------
    labels0 : list of numpy.ndarray
        ``B`` initial grain maps (H, W) of one shape, ids 1..N.
    n_order : int
        Order parameters per structure.
    pin : numpy.ndarray, optional
        Zener pinning field ``(B, H, W)`` (ε_p φ_p, see :func:`pinning_field`).
    dtype : str
        ``"float32"`` or ``"float64"``.
    chunk_steps : int
        Steps between host checks. A structure is re-coloured at a check once its reduced time
        since its last re-colouring exceeds ``recolour_coeff`` × sqrt(mean grain area / px²):
        boundary speeds scale as 1/d, so this bounds how far two boundaries can close in on
        each other between re-colourings (a few pixels, below ``buffer_px``).
    recolour_coeff : float
        See ``chunk_steps``.
    reassign : bool
        ``False`` disables re-colouring (grains then merge; tests use it to show the check
        bites).
    seed : int
        Seed of the colouring tie-breaks (structure ``i`` uses ``seed + i``).
    buffer_px : int
        Grains closer than this get different order parameters.

    Attributes
    ----------
    eta : numpy.ndarray
        Fields ``(B, P, H, W)``.
    trackers : list of GrainTracker
        Identity bookkeeping per structure.
    time : numpy.ndarray
        Reduced time advanced so far, per structure.
    history : list of dict
        Per structure, at every check of a recording phase: ``t`` (reduced time),
        ``n_grains`` and ``mean_ecd_px``.
    """

    def __init__(
        self,
        labels0: list[np.ndarray],
        *,
        n_order: int = 10,
        pin: np.ndarray | None = None,
        dtype: str = "float32",
        chunk_steps: int = 16,
        recolour_coeff: float = 0.7,
        reassign: bool = True,
        seed: int = 0,
        buffer_px: int = 5,
    ):
        b = len(labels0)
        shape = labels0[0].shape
        self.dtype, self.chunk_steps, self.reassign = dtype, int(chunk_steps), reassign
        self.recolour_coeff = recolour_coeff
        self.trackers = [
            GrainTracker(n_order, buffer_px=buffer_px, seed=seed + i) for i in range(b)
        ]
        eta = np.stack(
            [tr.initial_fields(lab) for tr, lab in zip(self.trackers, labels0, strict=True)]
        )
        self.pin = np.zeros((b, *shape)) if pin is None else np.asarray(pin, dtype=float)
        if pin is not None:
            # Particles displace the matrix: start with every η = 0 inside them (where η = 0 is
            # locally stable, ε_p ≥ 1/2) instead of letting the sharp start relax through them.
            eta *= (self.pin < 0.5)[:, None]
        self.eta = eta.astype(dtype)  # the host copy keeps the run's precision between chunks
        self._area = np.array([lab.size / lab.max() for lab in labels0], dtype=float)
        self._since = np.zeros(b)
        self.time = np.zeros(b)
        self.history: list[dict] = [{"t": [], "n_grains": [], "mean_ecd_px": []} for _ in range(b)]

    def _host_check(self, i: int, last: bool, record: bool) -> None:
        due = self._since[i] >= self.recolour_coeff * np.sqrt(self._area[i])
        if not (record or (due and not last)):
            return
        tracker = self.trackers[i]
        if self.reassign and due and not last:
            self.eta[i] = tracker.recolour(self.eta[i])
            self._since[i] = 0.0
            labels = None
        else:
            labels = tracker.check(self.eta[i], split=self.reassign)
        self._area[i] = self.eta[i, 0].size / max(tracker.grain_count, 1)
        if record:
            labels = tracker.check(self.eta[i], split=self.reassign) if labels is None else labels
            self.history[i]["t"].append(float(self.time[i]))
            self.history[i]["n_grains"].append(tracker.grain_count)
            self.history[i]["mean_ecd_px"].append(mean_ecd_px(labels))

    def advance(self, dt: np.ndarray, n_steps: int, *, record: bool = False) -> None:
        """Run ``n_steps`` explicit steps, structure ``i`` with time step ``dt[i]``.

        Parameters
        ----------
        dt : numpy.ndarray
            ``(B,)`` reduced time steps in [0, :data:`DT_MAX`] (0 holds a structure still).
        n_steps : int
            Steps for every structure.
        record : bool
            Append reduced time, grain count and mean diameter to :attr:`history` at every
            check.
        """
        dt = np.asarray(dt, dtype=float)
        if np.any(dt > DT_MAX * (1 + 1e-6)) or np.any(dt < 0):
            raise ValueError(f"time steps must lie in [0, {DT_MAX}] for explicit stability")
        if n_steps <= 0:
            return
        b = len(self.trackers)
        # Two halves of the batch alternate: while the device (asynchronously dispatched) runs
        # one half's chunk, the host re-colours the other half.
        halves = [h for h in (np.arange(0, (b + 1) // 2), np.arange((b + 1) // 2, b)) if h.size]
        chunks = [min(self.chunk_steps, n_steps - d) for d in range(0, n_steps, self.chunk_steps)]
        with jax.enable_x64(self.dtype == "float64"):
            pin_h = [jnp.asarray(self.pin[h], dtype=self.dtype) for h in halves]
            dt_h = [jnp.asarray(dt[h], dtype=self.dtype) for h in halves]

            def dispatch(g: int, k: int):
                eta = jnp.asarray(self.eta[halves[g]], dtype=self.dtype)
                return gg_run_dynamic(eta, dt_h[g], pin_h[g], jnp.int32(k))

            pending = [dispatch(g, chunks[0]) for g in range(len(halves))]
            for c, k in enumerate(chunks):
                last = c + 1 == len(chunks)
                for g, h in enumerate(halves):
                    self.eta[h] = np.asarray(pending[g])
                    self._since[h] += k * dt[h]
                    self.time[h] += k * dt[h]
                    for i in h.tolist():
                        self._host_check(i, last, record)
                    if not last:
                        pending[g] = dispatch(g, chunks[c + 1])

    def start_clock(self) -> list[np.ndarray]:
        """Restart :attr:`time` at zero and :attr:`history` at the current structures.

        Returns
        -------
        list of numpy.ndarray
            The current grain maps (as :meth:`labels`).
        """
        labels = self.labels()
        self.time = np.zeros(len(self.trackers))
        self.history = [
            {"t": [0.0], "n_grains": [tr.grain_count], "mean_ecd_px": [mean_ecd_px(lab)]}
            for tr, lab in zip(self.trackers, labels, strict=True)
        ]
        return labels

    def labels(self) -> list[np.ndarray]:
        """The current grain maps (ids 1..N; merged regions split back unless ``reassign=False``)."""
        return [tr.check(self.eta[i], split=self.reassign) for i, tr in enumerate(self.trackers)]


def run_grain_growth(
    labels0: list[np.ndarray],
    dt: np.ndarray,
    n_steps: int,
    *,
    record: bool = False,
    **options,
) -> tuple[np.ndarray, list[GrainTracker], list[dict], list[np.ndarray]]:
    """Batched Fan-Chen grain growth from labelled images: one :class:`GrainGrowthBatch` phase.

    Parameters
    ----------
    labels0 : list of numpy.ndarray
        ``B`` initial grain maps (H, W), ids 1..N.
    dt : numpy.ndarray
        Per-structure time step ``(B,)`` (reduced units, ≤ :data:`DT_MAX`).
    n_steps : int
        Steps per structure.
    record : bool
        Record reduced times, grain counts and mean diameters at every check.
    **options
        Passed to :class:`GrainGrowthBatch` (``n_order``, ``pin``, ``dtype``, ``chunk_steps``,
        ``recolour_coeff``, ``reassign``, ``seed``, ``buffer_px``).

    Returns
    -------
    eta : numpy.ndarray
        Fields ``(B, P, H, W)``.
    trackers : list of GrainTracker
        One per structure.
    history : list of dict
        Per structure ``{"t", "n_grains", "mean_ecd_px"}`` (empty lists unless ``record``).
    labels : list of numpy.ndarray
        The final grain maps.
    """
    batch = GrainGrowthBatch(labels0, **options)
    batch.advance(dt, n_steps, record=record)
    return batch.eta, batch.trackers, batch.history, batch.labels()
