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
    """``n_steps`` batched steps (the optimized path: batched step, unrolled loop)."""
    return jax.lax.fori_loop(
        0, n_steps, lambda _, e: _gg_step_batched(e, dt, pin), eta, unroll=unroll
    )


@jax.jit
def gg_run_dynamic(eta: jax.Array, dt: jax.Array, pin: jax.Array, n_steps: jax.Array):
    """As :func:`gg_run` with a traced step count (one compilation for every chunk length)."""

    def body(i_e):
        i, e = i_e
        return i + 1, _gg_step_batched(e, dt, pin)

    return jax.lax.while_loop(lambda i_e: i_e[0] < n_steps, body, (jnp.int32(0), eta))[1]


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
    """Periodic 4-connected components of equal ``values`` (ints in [0, n_values)).

    Returns ``(labels 1..N, value of each label)`` (index 0 of the second array is unused).
    """
    from skimage.measure import label as sk_label

    lab, n = sk_label(values, background=-1, connectivity=1, return_num=True)
    lab = lab.astype(np.int64)
    # Union components that meet across the periodic edges with the same value.
    a = np.concatenate([lab[0, :], lab[:, 0]])
    b = np.concatenate([lab[-1, :], lab[:, -1]])
    same = np.concatenate([values[0, :] == values[-1, :], values[:, 0] == values[:, -1]])
    pairs = np.unique(np.stack([a[same], b[same]], 1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if pairs.size:
        parent = np.arange(n + 1)

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for x, y in pairs.tolist():
            rx, ry = find(x), find(y)
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)
        roots = np.array([find(i) for i in range(n + 1)])
        _, dense = np.unique(roots, return_inverse=True)
        lab = dense.reshape(-1)[lab]
    else:
        lab = lab  # already 1..n
    n_lab = int(lab.max())
    owner = np.zeros(n_lab + 1, dtype=np.int32)
    owner[lab.ravel()] = values.ravel()
    return lab.astype(np.int32), owner


def _near_pairs(labels: np.ndarray, buffer_px: int) -> np.ndarray:
    """Grain pairs closer than ``buffer_px`` (periodic): rows ``(a, b, d²)`` with a < b.

    ``d²`` is the smallest squared pixel offset at which the two grains were found.
    """
    n = int(labels.max()) + 1
    r = buffer_px
    offsets = [
        (dy, dx)
        for dy in range(0, r + 1)
        for dx in range(-r, r + 1)
        if not (dy == 0 and dx <= 0) and dx * dx + dy * dy <= r * r
    ]
    h, w = labels.shape
    # The closest pixels of two grains lie on their boundaries: only boundary pixels (with a
    # differently labelled 4-neighbour) need to be paired.
    edge = np.zeros(labels.shape, dtype=bool)
    for ax in (0, 1):
        for sh in (1, -1):
            edge |= labels != np.roll(labels, sh, axis=ax)
    ys, xs = np.nonzero(edge)
    lab64 = labels.astype(np.int64)
    flat = lab64[ys, xs]
    parts = []
    for dy, dx in offsets:
        shifted = lab64[(ys - dy) % h, (xs - dx) % w]
        keep = flat != shifted
        a, b = flat[keep], shifted[keep]
        # code = (pair) * 64 + d², so sorting puts each pair's nearest offset first
        parts.append((np.minimum(a, b) * n + np.maximum(a, b)) * 64 + (dx * dx + dy * dy))
    if not parts:
        return np.zeros((0, 3), dtype=np.int64)
    u = np.unique(np.concatenate(parts))
    pair, d2 = u // 64, u % 64
    first = np.ones(pair.size, dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    pair, d2 = pair[first], d2[first]
    out = np.stack([pair // n, pair % n, d2], 1)
    return out[out[:, 0] > 0]


def colour_graph(n_nodes: int, pairs: np.ndarray, n_colours: int, seed: int = 0) -> np.ndarray:
    """DSatur colouring of grains 1..n_nodes so that near grains get different colours.

    ``pairs`` rows are ``(a, b, d²)``. Node 0 is the background (colour 0, unused). When every
    colour is taken by a neighbour, the colour whose nearest such neighbour is farthest away is
    chosen, so any unavoidable conflict is between the most distant grains of the neighbourhood.
    """
    nbrs: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes + 1)]
    for a, b, d2 in np.asarray(pairs, dtype=np.int64).reshape(-1, 3).tolist():
        nbrs[a].append((b, d2))
        nbrs[b].append((a, d2))
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(n_nodes + 1).tolist()
    big = 1 << 30
    # closest[i][c]: smallest d² from node i to a neighbour coloured c (big = none)
    closest = [[big] * n_colours for _ in range(n_nodes + 1)]
    sat = [0] * (n_nodes + 1)
    key = [len(nbrs[i]) + tiebreak[i] for i in range(n_nodes + 1)]
    colour = [-1] * (n_nodes + 1)
    colour[0] = 0
    uncoloured = list(range(1, n_nodes + 1))
    rot = int(rng.integers(n_colours))
    while uncoloured:
        j = max(range(len(uncoloured)), key=lambda i: (sat[uncoloured[i]], key[uncoloured[i]]))
        node = uncoloured[j]
        uncoloured[j] = uncoloured[-1]
        uncoloured.pop()
        row = closest[node]
        c = -1
        for k in range(n_colours):  # first free colour, rotated so colours are used evenly
            cc = (k + rot + node) % n_colours
            if row[cc] == big:
                c = cc
                break
        if c < 0:
            c = max(range(n_colours), key=row.__getitem__)
        colour[node] = c
        for nb, d2 in nbrs[node]:
            r_nb = closest[nb]
            if r_nb[c] == big:
                sat[nb] += 1
            if d2 < r_nb[c]:
                r_nb[c] = d2
    _repair_conflicts(colour, nbrs, n_colours, rng)
    return np.asarray(colour, dtype=np.int32)


def _repair_conflicts(
    colour: list[int], nbrs: list[list[tuple[int, int]]], n_colours: int, rng, max_moves: int = 200
) -> None:
    """Min-conflicts local search (Minton et al. 1992) on what DSatur left in conflict.

    A conflicting node moves to a colour none of its neighbours has, or else to one whose holder
    among its neighbours can itself move to a free colour (a one-step Kempe-like swap).
    """

    def free_colours(node: int, skip: int = -1) -> list[int]:
        used = {colour[nb] for nb, _ in nbrs[node] if nb != skip}
        return [c for c in range(n_colours) if c not in used]

    moves = 0
    changed = True
    while changed and moves < max_moves:
        changed = False
        for node in range(1, len(colour)):
            if all(colour[nb] != colour[node] for nb, _ in nbrs[node]):
                continue
            free = free_colours(node)
            if free:
                colour[node] = int(rng.choice(free))
                moves += 1
                changed = True
                continue
            # move one neighbour out of the way: colour c held by exactly one neighbour which
            # can take another colour free for it
            for c in rng.permutation(n_colours).tolist():
                holders = [nb for nb, _ in nbrs[node] if colour[nb] == c]
                if len(holders) != 1:
                    continue
                h = holders[0]
                alt = [x for x in free_colours(h, skip=node) if x != c]
                if alt:
                    colour[h] = int(rng.choice(alt))
                    colour[node] = c
                    moves += 1
                    changed = True
                    break


def hard_core_seeds(
    grid: int, n: int, rng: np.random.Generator, min_frac: float = 0.5, max_tries: int = 50
) -> np.ndarray:
    """``n`` random points on the periodic square, kept ``min_frac`` × mean spacing apart.

    Random sequential adsorption: recrystallization nuclei do not form on top of each other,
    and the absence of near-coincident seeds avoids slivers of a pixel or two that would
    vanish in the first steps. A point that finds no room after ``max_tries`` candidates is
    placed anyway.
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
    """Periodic Voronoi tessellation of ``n_grains`` hard-core random seeds; ids 1..N."""
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
    placement jams (``ValueError``). Randomly placed particles are the set-up of Moelans, Blanpain &
    Wollants (Acta Mater. 54 (2006) 1175) for 2-D Zener pinning.

    Returns
    -------
    bool array (grid, grid), True inside particles.
    """
    if not 0.0 <= area_fraction <= 0.4:
        raise ValueError(f"particle area fraction must lie in [0, 0.4], got {area_fraction!r}")
    if radius_px < 1.0:
        raise ValueError(f"particle radius must be at least 1 px, got {radius_px!r}")
    out = np.zeros((grid, grid), dtype=bool)
    if area_fraction == 0.0:
        return out
    disc = _disc_real(radius_px)
    # a candidate keeps one pixel of matrix (4-connected) to every earlier particle
    guard = ndimage.binary_dilation(np.pad(disc, 1))
    half = disc.shape[0] // 2
    area, target, covered = int(disc.sum()), area_fraction * grid * grid, 0
    offs = np.arange(-half - 1, half + 2)
    for _ in range(200 * int(np.ceil(target / area)) + 200):
        if covered >= target - 0.5 * area:
            break
        iy, ix = rng.integers(0, grid, size=2)
        ys, xs = ((iy + offs) % grid)[:, None], ((ix + offs) % grid)[None, :]
        if out[ys, xs][guard].any():
            continue
        out[ys[1:-1], xs[:, 1:-1]] |= disc
        covered += area
    if covered < target - 0.5 * area:  # random sequential adsorption jams near f ≈ 0.4
        raise ValueError(
            f"could not place particles covering {area_fraction:g} of the grid "
            f"(reached {covered / grid**2:.3f}); use a smaller fraction"
        )
    return out


def _disc_real(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= radius * radius + 1e-9


def pinning_field(particles: np.ndarray, strength: float = PIN_STRENGTH) -> np.ndarray:
    """Zener pinning field ``ε_p φ_p`` for :func:`run_grain_growth` from a particle mask.

    ``φ_p`` = 1 inside particles. With ``ε_p > 1/2`` the state ``η_i = 0`` (no grain) is the
    stable one inside a particle, so every grain meets a particle with the same interface
    energy (an incoherent particle, 90° contact angle) and a boundary that runs through a
    particle saves the boundary energy it would have had there: boundaries are attracted to
    and held at particles (Fan & Chen 1997; Moelans et al. 2006).
    """
    if strength <= 0.5:
        raise ValueError(f"pinning strength must exceed 1/2 (η = 0 stable), got {strength!r}")
    return strength * np.asarray(particles, dtype=float)


def fields_from_labels(labels: np.ndarray, colour: np.ndarray, n_order: int) -> np.ndarray:
    """Sharp order-parameter fields: η_colour(grain) = 1 inside each grain."""
    eta = np.zeros((n_order, *labels.shape), dtype=np.float32)
    c = colour[labels]
    np.put_along_axis(eta, c[None], 1.0, axis=0)
    return eta


def _disc(radius: int) -> np.ndarray:
    r = max(int(radius), 1)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= r * r


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

    def __init__(
        self, n_order: int = 8, buffer_px: int = 5, seed: int = 0, small_factor: float = 1.0
    ):
        self.n_order = n_order
        self.buffer_px = buffer_px
        self.small_factor = small_factor
        self.seed = seed
        self.merge_events = 0
        self.recolourings = 0
        self._ident: np.ndarray | None = None  # per-pixel identity of the grain
        self._op: np.ndarray | None = None  # per-pixel order parameter after the last colouring
        self._next_id = 1
        self._ident_count = 0

    def conflict_pairs(self, labels: np.ndarray) -> np.ndarray:
        """Grain pairs that must not share an order parameter, rows ``(a, b, d²)``.

        Grains closer than ``buffer_px``, and the neighbours of every shrinking (smaller than
        ``small_factor`` × mean area) grain among themselves: when such a grain vanishes its
        neighbours meet, so they must already differ (d² = buffer² + 1 for these pairs).
        """
        near = _near_pairs(labels, self.buffer_px)
        n = int(labels.max())
        area = np.bincount(labels.ravel(), minlength=n + 1)
        small = area < self.small_factor * area[1:].mean()
        touch = near[near[:, 2] <= 2]
        nb: dict[int, list[int]] = {}
        for a, b in touch[:, :2].tolist():
            if small[a]:
                nb.setdefault(a, []).append(b)
            if small[b]:
                nb.setdefault(b, []).append(a)
        extra = [(x, y) for lst in nb.values() for i, x in enumerate(lst) for y in lst[i + 1 :]]
        if not extra:
            return near
        ex = np.sort(np.asarray(extra, dtype=np.int64), axis=1)
        ex = np.concatenate([ex, np.full((ex.shape[0], 1), self.buffer_px**2 + 1)], 1)
        return np.concatenate([near, ex])

    def initial_fields(self, labels: np.ndarray) -> np.ndarray:
        """Colour the initial labelled image and return sharp fields (P, H, W)."""
        n = int(labels.max())
        colour = colour_graph(n, self.conflict_pairs(labels), self.n_order, self.seed)
        self._ident = labels.astype(np.int64)
        self._next_id = n + 1
        self._ident_count = n
        self._op = colour[labels]
        return fields_from_labels(labels, colour, self.n_order)

    def grain_map(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels 1..N, order parameter of each label) from fields (P, H, W).

        Where every order parameter is small (inside pinning particles) the argmax is noise;
        such pixels take the order parameter of the nearest pixel that has a clear one.
        """
        op = np.argmax(eta, axis=0)
        clear = eta.max(axis=0) > 0.3
        if not clear.all() and clear.any():
            _, (iy, ix) = ndimage.distance_transform_edt(~clear, return_indices=True)
            op = op[iy, ix]
        return label_by_value(op, self.n_order)

    def _track(
        self, labels: np.ndarray, owner: np.ndarray, split: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Match current grains to previous identities; split any merged region.

        A connected region of one order parameter that holds pixels of two or more previous
        identities (with that same order parameter) is a merge of unlike grains: it is
        counted in ``merge_events`` and, when ``split``, cut back into one grain per identity
        (each pixel goes to the identity of the nearest pixel that still carries it), so the
        labelled output never merges two grains.

        Returns ``(labels, owner, ident_of)`` with the split grains appended as new labels.
        """
        n = int(labels.max())
        ident_of = np.zeros(n + 1, dtype=np.int64)
        same = (owner[labels] == self._op) & (labels > 0)
        big = np.int64(self._next_id + 1)
        codes = np.unique(labels[same].astype(np.int64) * big + self._ident[same])
        pairs = np.stack([codes // big, codes % big], 1)
        if pairs.size:
            lab_ids, start, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
            ident_of[lab_ids] = pairs[start, 1]
            merged = lab_ids[counts > 1]
            self.merge_events += int(np.sum(counts - 1))
            if split and merged.size:
                labels = labels.copy()
                new_owner, new_ident = list(owner), list(ident_of)
                for lab in merged.tolist():
                    ids = pairs[pairs[:, 0] == lab, 1]
                    labels, added = self._split(labels, same, lab, ids, len(new_owner))
                    for ident in added:
                        new_owner.append(owner[lab])
                        new_ident.append(ident)
                owner = np.asarray(new_owner, dtype=np.int32)
                ident_of = np.asarray(new_ident, dtype=np.int64)
        missing = np.flatnonzero(ident_of[1:] == 0) + 1
        ident_of[missing] = np.arange(self._next_id, self._next_id + missing.size)
        self._next_id += missing.size
        return labels, owner, ident_of

    def _split(self, labels, same, lab, ids, next_label):
        """Cut region ``lab`` into one part per identity in ``ids`` (nearest carrier pixel)."""
        h, w = labels.shape
        region = labels == lab
        ys, xs = np.nonzero(region)
        # centre the region so the (non-periodic) distance transform sees it whole
        sy, sx = h // 2 - int(ys[0]), w // 2 - int(xs[0])
        reg = np.roll(region, (sy, sx), (0, 1))
        idm = np.roll(np.where(same & region, self._ident, 0), (sy, sx), (0, 1))
        _, (iy, ix) = ndimage.distance_transform_edt(idm == 0, return_indices=True)
        nearest = idm[iy, ix]
        out = labels.copy()
        added = []
        keep = ids[0]  # ident_of[lab] is the first identity (see _track)
        for ident in ids.tolist():
            if ident == keep:
                continue
            part = np.roll(reg & (nearest == ident), (-sy, -sx), (0, 1))
            out[part] = next_label + len(added)
            added.append(ident)
        return out, added

    def update(self, eta: np.ndarray, split: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Check for merges without re-colouring; returns (labels, identity per label)."""
        labels, owner = self.grain_map(eta)
        labels, owner, ident_of = self._track(labels, owner, split)
        self._ident = ident_of[labels]
        self._op = owner[labels]
        self._ident_count = int(labels.max())
        return labels, ident_of

    def check(self, eta: np.ndarray, split: bool = True) -> np.ndarray:
        """As :meth:`update`, returning only the (split) labels."""
        return self.update(eta, split)[0]

    def recolour(self, eta: np.ndarray) -> np.ndarray:
        """Re-assign order parameters so near grains differ; returns the new fields."""
        labels, owner = self.grain_map(eta)
        labels, owner, ident_of = self._track(labels, owner)
        n = int(labels.max())
        colour = colour_graph(
            n, self.conflict_pairs(labels), self.n_order, self.seed + self.recolourings
        )
        new = np.zeros_like(eta)
        # Each grain's diffuse field reaches a few pixels past its argmax region; grains
        # sharing order parameter k are ≥ buffer_px apart, so a max-dilation by a disc of
        # radius < buffer_px / 2 attributes every pixel of η_k to at most one grain (a split
        # grain's parts are adjacent, so their shared seam just goes to one of them).
        footprint = _disc((self.buffer_px - 1) // 2)
        lab_op = owner[labels]
        for k in range(self.n_order):
            lab_k = np.where(lab_op == k, labels, 0)
            owner_k = ndimage.grey_dilation(lab_k, footprint=footprint, mode="wrap")
            has = owner_k > 0
            tgt = colour[owner_k[has]]
            iy, ix = np.nonzero(has)
            new[tgt, iy, ix] = np.maximum(new[tgt, iy, ix], eta[k, iy, ix])
        self.recolourings += 1
        self._ident_count = n
        self._ident = ident_of[labels]
        self._op = colour[labels]
        return new


def run_grain_growth(
    labels0: list[np.ndarray],
    dt: np.ndarray,
    n_steps: int,
    *,
    n_order: int = 10,
    pin: np.ndarray | None = None,
    dtype: str = "float32",
    chunk_steps: int = 16,
    recolour_coeff: float = 0.7,
    reassign: bool = True,
    seed: int = 0,
    buffer_px: int = 5,
    record: bool = False,
) -> tuple[np.ndarray, list[GrainTracker], list[dict], list[np.ndarray]]:
    """Batched Fan-Chen grain growth from labelled images, with order-parameter re-assignment.

    Parameters
    ----------
    labels0
        ``B`` initial grain maps (H, W), ids 1..N.
    dt
        Per-recipe time step ``(B,)`` (reduced units, ≤ :data:`DT_MAX`); recipes run the same
        number of steps, so a longer reduced time means a larger step.
    n_steps
        Steps per recipe.
    n_order
        Order parameters per simulation.
    pin
        Optional Zener pinning field ``(B, H, W)`` (ε_p φ_p).
    chunk_steps
        Steps between host checks. A recipe is re-coloured at a check once its reduced time
        since its last re-colouring exceeds ``recolour_coeff`` × sqrt(mean grain area / px²):
        boundary speeds scale as 1/d, so this bounds how far two boundaries can close in on
        each other between re-colourings (a few pixels, below ``buffer_px``).
    reassign
        ``False`` disables re-colouring (grains then merge; used by tests to show the check
        bites).
    record
        Also return, per recipe, the reduced times and grain counts at every check.

    Returns
    -------
    (eta, trackers, history, labels): fields ``(B, P, H, W)``, one :class:`GrainTracker` per
    recipe, per recipe ``{"t": [...], "n_grains": [...]}`` (empty lists unless ``record``),
    and the final grain maps (ids 1..N; merged regions split back, unless ``reassign=False``).
    """
    dt = np.asarray(dt, dtype=float)
    if np.any(dt > DT_MAX * (1 + 1e-6)) or np.any(dt < 0):
        raise ValueError(f"time steps must lie in [0, {DT_MAX}] for explicit stability")
    b = len(labels0)
    grid = labels0[0].shape
    trackers = [GrainTracker(n_order, buffer_px=buffer_px, seed=seed + i) for i in range(b)]
    eta = np.stack([tr.initial_fields(lab) for tr, lab in zip(trackers, labels0, strict=True)])
    pin_np = np.zeros((b, *grid)) if pin is None else np.asarray(pin)
    if pin is not None:
        # Particles displace the matrix: start with every η = 0 inside them (where η = 0 is
        # locally stable, ε_p ≥ 1/2) instead of letting the sharp start relax through them.
        eta *= (pin_np < 0.5)[:, None]
    eta = eta.astype(dtype)  # the host copy keeps the run's precision between chunks
    area = np.array([lab.size / lab.max() for lab in labels0], dtype=float)
    since = np.zeros(b)
    t_now = np.zeros(b)
    history: list[dict] = [{"t": [], "n_grains": []} for _ in range(b)]

    def host_check(i: int, done: int) -> None:
        due = since[i] >= recolour_coeff * np.sqrt(area[i])
        if not (record or (due and done < n_steps)):
            return
        if reassign and due and done < n_steps:
            eta[i] = trackers[i].recolour(eta[i])
            since[i] = 0.0
        else:
            trackers[i].check(eta[i], split=reassign)
        n_gr = int(trackers[i]._ident_count)
        area[i] = eta[i, 0].size / max(n_gr, 1)
        if record:
            history[i]["t"].append(float(t_now[i]))
            history[i]["n_grains"].append(n_gr)

    # Two halves of the batch alternate: while the device (asynchronously dispatched) runs
    # one half's chunk, the host re-colours the other half.
    halves = [np.arange(0, (b + 1) // 2), np.arange((b + 1) // 2, b)]
    halves = [h for h in halves if h.size]
    with jax.enable_x64(dtype == "float64"):
        pin_h = [jnp.asarray(pin_np[h], dtype=dtype) for h in halves]
        dt_h = [jnp.asarray(dt[h], dtype=dtype) for h in halves]
        chunks = [min(chunk_steps, n_steps - d) for d in range(0, n_steps, chunk_steps)]

        def dispatch(g: int, k: int):
            return gg_run_dynamic(
                jnp.asarray(eta[halves[g]], dtype=dtype), dt_h[g], pin_h[g], jnp.int32(k)
            )

        pending = [dispatch(g, chunks[0]) for g in range(len(halves))]
        done = 0
        for c, k in enumerate(chunks):
            done += k
            for g, h in enumerate(halves):
                eta[h] = np.asarray(pending[g])
                since[h] += k * dt[h]
                t_now[h] += k * dt[h]
                for i in h.tolist():
                    host_check(i, done)
                if c + 1 < len(chunks):
                    pending[g] = dispatch(g, chunks[c + 1])
    final = [trackers[i].check(eta[i], split=reassign) for i in range(b)]
    return eta, trackers, history, final
