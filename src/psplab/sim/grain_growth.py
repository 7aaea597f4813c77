"""Multi-order-parameter Allen-Cahn grain growth (Fan & Chen, Acta Mater. 45 (1997) 611).

Free energy density (dimensionless, pixel units)::

    f = Σ_i (-η_i²/2 + η_i⁴/4) + γ Σ_i Σ_{j>i} η_i² η_j² + (κ/2) Σ_i |∇η_i|² + ε_p φ_p Σ_i η_i²

with γ = 1.5 (symmetric boundaries), and the last term an optional Zener pinning field: where
second-phase particles sit (``φ_p`` = 1) every grain order parameter is penalized, so a boundary
that passes through a particle saves that energy and is held there (Moelans, Blanpain & Wollants,
Acta Mater. 54 (2006) 1175). Evolution ``∂η_i/∂t = -L δF/δη_i``, explicit Euler with a 5-point
Laplacian on a periodic grid; explicit stability needs ``dt L (8 κ + 2) < 2`` so ``dt ≤ 0.18``
with ``L = κ = 1`` (see :data:`DT_MAX`).

Only ``n_order`` (default 8) order parameters are kept. Many grains share one; before two grains
with the same order parameter could touch, the grains are re-coloured on the host: the labelled
image gives a "near" graph (grains closer than ``buffer_px``), a greedy graph colouring picks
new order parameters so near grains differ, and each grain's diffuse field is moved to its new
order parameter. Grain identities are tracked across re-colourings, and a merge (two previously
distinct grains in one connected region of one order parameter) is counted in ``merge_events``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

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
    s2 = jnp.sum(eta2, axis=1, keepdims=True)
    dfdeta = eta * (
        -1.0 + eta2 + 2.0 * GAMMA * (s2 - eta2) + 2.0 * pin[:, None]
    ) - KAPPA * _laplacian(eta)
    return eta - (MOBILITY_L * dt)[:, None, None, None] * dfdeta


def _gg_step_single(eta: jax.Array, dt: jax.Array, pin: jax.Array) -> jax.Array:
    """The same step for one recipe: eta (P, H, W); vmapped for the plain baseline."""
    return _gg_step_batched(eta[None], dt[None], pin[None])[0]


@partial(jax.jit, static_argnames=("n_steps", "unroll"))
def gg_run(eta: jax.Array, dt: jax.Array, pin: jax.Array, n_steps: int, unroll: int = 4):
    """``n_steps`` batched steps (the optimized path: batched step, unrolled loop)."""
    return jax.lax.fori_loop(
        0, n_steps, lambda _, e: _gg_step_batched(e, dt, pin), eta, unroll=unroll
    )


@partial(jax.jit, static_argnames=("n_steps",))
def gg_run_plain(eta: jax.Array, dt: jax.Array, pin: jax.Array, n_steps: int):
    """Plain baseline: ``fori_loop`` over ``vmap`` of the single-recipe step."""
    step = jax.vmap(_gg_step_single)
    return jax.lax.fori_loop(0, n_steps, lambda _, e: step(e, dt, pin), eta)


# --- host-side labelling and colouring -----------------------------------------------------
def periodic_label(mask: np.ndarray, connectivity: int = 1) -> tuple[np.ndarray, int]:
    """Connected components of ``mask`` on a periodic (torus) grid; ids 1..n, 0 outside."""
    structure = ndimage.generate_binary_structure(2, connectivity)
    lab, n = ndimage.label(mask, structure=structure)
    if n == 0:
        return lab.astype(np.int32), 0
    parent = np.arange(n + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    pairs = [np.stack([lab[0, :], lab[-1, :]], 1), np.stack([lab[:, 0], lab[:, -1]], 1)]
    if connectivity == 2:  # diagonal wraps
        pairs.append(np.stack([lab[0, 1:], lab[-1, :-1]], 1))
        pairs.append(np.stack([lab[0, :-1], lab[-1, 1:]], 1))
        pairs.append(np.stack([lab[1:, 0], lab[:-1, -1]], 1))
        pairs.append(np.stack([lab[:-1, 0], lab[1:, -1]], 1))
    allp = np.concatenate(pairs)
    allp = allp[(allp[:, 0] > 0) & (allp[:, 1] > 0) & (allp[:, 0] != allp[:, 1])]
    for a, b in np.unique(allp, axis=0):
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n + 1)])
    _, dense = np.unique(roots, return_inverse=True)  # root 0 stays 0 (background)
    out = dense.reshape(roots.shape)[lab]
    return out.astype(np.int32), int(dense.max())


def label_by_value(values: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Periodic components of equal ``values``; returns (labels 1..N, value of each label)."""
    labels = np.zeros(values.shape, dtype=np.int32)
    owner = [0]
    offset = 0
    for k in range(n_values):
        lab, n = periodic_label(values == k)
        if n:
            labels[lab > 0] = lab[lab > 0] + offset
            owner.extend([k] * n)
            offset += n
    return labels, np.asarray(owner, dtype=np.int32)


def _near_pairs(labels: np.ndarray, buffer_px: int) -> np.ndarray:
    """Pairs (a, b), a < b, of grains with pixels closer than ``buffer_px`` (periodic)."""
    n = int(labels.max()) + 1
    codes = []
    r = buffer_px
    for dy in range(0, r + 1):
        for dx in range(-r, r + 1):
            if (dy == 0 and dx <= 0) or dx * dx + dy * dy > r * r:
                continue
            shifted = np.roll(labels, (dy, dx), axis=(0, 1))
            a, b = labels.ravel(), shifted.ravel()
            keep = (a != b) & (a > 0) & (b > 0)
            lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
            codes.append(lo.astype(np.int64) * n + hi)
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    u = np.unique(np.concatenate(codes))
    return np.stack([u // n, u % n], 1)


def colour_graph(n_nodes: int, pairs: np.ndarray, n_colours: int, seed: int = 0) -> np.ndarray:
    """Greedy (largest-degree-first) colouring of nodes 1..n_nodes with ``n_colours`` colours.

    Node 0 is the background and gets colour 0 (unused). When every colour is taken by a
    neighbour, the colour used least among the neighbours is chosen (a conflict the next
    re-colouring resolves, since grains are then still ``buffer_px`` apart at worst).
    """
    adj: list[list[int]] = [[] for _ in range(n_nodes + 1)]
    for a, b in pairs:
        adj[int(a)].append(int(b))
        adj[int(b)].append(int(a))
    rng = np.random.default_rng(seed)
    order = sorted(range(1, n_nodes + 1), key=lambda i: (-len(adj[i]), rng.random()))
    colour = np.full(n_nodes + 1, -1, dtype=np.int32)
    colour[0] = 0
    for node in order:
        counts = np.zeros(n_colours, dtype=np.int64)
        for nb in adj[node]:
            c = colour[nb]
            if c >= 0:
                counts[c] += 1
        free = np.flatnonzero(counts == 0)
        colour[node] = int(rng.choice(free)) if free.size else int(np.argmin(counts))
    return colour


def voronoi_labels(grid: int, n_grains: int, rng: np.random.Generator) -> np.ndarray:
    """Periodic Voronoi tessellation of ``n_grains`` uniform random seeds; ids 1..n_grains."""
    seeds = rng.uniform(0, grid, size=(n_grains, 2))
    yy, xx = np.meshgrid(np.arange(grid) + 0.5, np.arange(grid) + 0.5, indexing="ij")
    best = np.full((grid, grid), np.inf)
    lab = np.zeros((grid, grid), dtype=np.int32)
    for i, (sy, sx) in enumerate(seeds):
        dy = np.abs(yy - sy)
        dx = np.abs(xx - sx)
        dy = np.minimum(dy, grid - dy)
        dx = np.minimum(dx, grid - dx)
        d = dy * dy + dx * dx
        closer = d < best
        best[closer] = d[closer]
        lab[closer] = i + 1
    # A seed whose cell is empty (impossible in practice) would leave a gap in the ids.
    _, dense = np.unique(lab, return_inverse=True)
    return (dense.reshape(lab.shape) + 1).astype(np.int32)


def fields_from_labels(labels: np.ndarray, colour: np.ndarray, n_order: int) -> np.ndarray:
    """Sharp order-parameter fields: η_colour(grain) = 1 inside each grain."""
    eta = np.zeros((n_order, *labels.shape), dtype=np.float32)
    c = colour[labels]
    np.put_along_axis(eta, c[None], 1.0, axis=0)
    return eta


class GrainTracker:
    """Host-side re-colouring and identity tracking for one simulation (one recipe).

    Parameters
    ----------
    n_order
        Number of order parameters.
    buffer_px
        Grains closer than this get different order parameters.
    seed
        Seed of the colouring tie-breaks.
    """

    def __init__(self, n_order: int = 8, buffer_px: int = 5, seed: int = 0):
        self.n_order = n_order
        self.buffer_px = buffer_px
        self.seed = seed
        self.merge_events = 0
        self.recolourings = 0
        self._ident: np.ndarray | None = None  # per-pixel identity of the grain
        self._op: np.ndarray | None = None  # per-pixel order parameter after the last colouring
        self._next_id = 1

    def initial_fields(self, labels: np.ndarray) -> np.ndarray:
        """Colour the initial labelled image and return sharp fields (P, H, W)."""
        n = int(labels.max())
        colour = colour_graph(n, _near_pairs(labels, self.buffer_px), self.n_order, self.seed)
        self._ident = labels.astype(np.int64)
        self._next_id = n + 1
        self._op = colour[labels]
        return fields_from_labels(labels, colour, self.n_order)

    def grain_map(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels 1..N, order parameter of each label) from fields (P, H, W)."""
        return label_by_value(np.argmax(eta, axis=0), self.n_order)

    def _track(self, labels: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Identity of each current grain; counts merges of distinct previous identities."""
        n = int(labels.max())
        ident_of = np.zeros(n + 1, dtype=np.int64)
        op_now = owner[labels]
        same = (op_now == self._op) & (labels > 0)
        lab_s, id_s = labels[same], self._ident[same]
        pairs = np.unique(np.stack([lab_s, id_s], 1), axis=0)
        if pairs.size:
            lab_ids, counts = np.unique(pairs[:, 0], return_counts=True)
            self.merge_events += int(np.sum(counts - 1))
            # keep the identity seen first per label (deterministic)
            first = np.searchsorted(pairs[:, 0], lab_ids)
            ident_of[lab_ids] = pairs[first, 1]
        missing = np.flatnonzero(ident_of[1:] == 0) + 1
        ident_of[missing] = np.arange(self._next_id, self._next_id + missing.size)
        self._next_id += missing.size
        return ident_of

    def check(self, eta: np.ndarray) -> None:
        """Count merges since the last check without re-colouring (for the no-reassign case)."""
        labels, owner = self.grain_map(eta)
        ident_of = self._track(labels, owner)
        self._ident = ident_of[labels]
        self._op = owner[labels]

    def recolour(self, eta: np.ndarray) -> np.ndarray:
        """Re-assign order parameters so near grains differ; returns the new fields."""
        labels, owner = self.grain_map(eta)
        ident_of = self._track(labels, owner)
        n = int(labels.max())
        colour = colour_graph(
            n, _near_pairs(labels, self.buffer_px), self.n_order, self.seed + self.recolourings
        )
        new = np.zeros_like(eta)
        halo = max(1, self.buffer_px // 2)
        for k in range(self.n_order):
            lab_k = np.where(owner[labels] == k, labels, 0)
            # Each grain's diffuse field reaches a few pixels past its argmax region; grains
            # sharing order parameter k are ≥ buffer_px apart, so a max-dilation by half the
            # buffer attributes every pixel of η_k to at most one grain.
            owner_k = ndimage.grey_dilation(lab_k, size=(2 * halo + 1, 2 * halo + 1), mode="wrap")
            has = owner_k > 0
            tgt = colour[owner_k[has]]
            iy, ix = np.nonzero(has)
            new[tgt, iy, ix] = np.maximum(new[tgt, iy, ix], eta[k, iy, ix])
        self.recolourings += 1
        self._ident = ident_of[labels]
        self._op = colour[labels]
        return new
