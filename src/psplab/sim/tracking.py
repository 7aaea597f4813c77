"""Grain identity and order-parameter bookkeeping for the Fan-Chen model.

Only ``n_order`` order parameters are kept; many grains share one. Before two grains with the
same order parameter could touch, :class:`GrainTracker` re-colours them: the labelled image
gives a "near" graph (grains closer than ``buffer_px``, plus the neighbours of shrinking grains),
a DSatur graph colouring with a min-conflicts repair picks new order parameters so near grains
differ, and each grain's diffuse field moves to its new order parameter. Grain identities are
tracked across re-colourings; a merge (two previously distinct grains in one connected region
of one order parameter) is counted in ``merge_events`` and cut back.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy import ndimage

from psplab.measure import label_components


def label_by_value(values: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Periodic 4-connected components of equal ``values`` (ints in [0, n_values)).

    Parameters
    ----------
    values : numpy.ndarray
        2-D integer image.
    n_values : int
        Number of distinct values (kept for the callers' bookkeeping).

    Returns
    -------
    labels : numpy.ndarray
        int32 labels 1..N.
    owner : numpy.ndarray
        The value of each label (index 0 unused).
    """
    lab, n = label_components(values, periodic=True, connectivity=1)
    owner = np.zeros(n + 1, dtype=np.int32)
    owner[lab.ravel()] = values.ravel()
    return lab.astype(np.int32), owner


def mean_ecd_px(labels: np.ndarray) -> float:
    """Mean equivalent-circle diameter (px) of the labelled grains 1..N.

    Parameters
    ----------
    labels : numpy.ndarray
        Grain labels (H, W).

    Returns
    -------
    float
    """
    area = np.bincount(labels.ravel())[1:]
    area = area[area > 0]
    return float(np.mean(np.sqrt(4.0 * area / np.pi)))


def near_pairs(labels: np.ndarray, buffer_px: int) -> np.ndarray:
    """Grain pairs closer than ``buffer_px`` (periodic): rows ``(a, b, d²)`` with a < b.

    ``d²`` is the smallest squared pixel offset at which the two grains were found.

    Parameters
    ----------
    labels : numpy.ndarray
        Grain labels 1..N (H, W).
    buffer_px : int
        Search radius in pixels.

    Returns
    -------
    numpy.ndarray
        int64 rows ``(a, b, d²)``.
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

    Parameters
    ----------
    n_nodes : int
        Number of grains.
    pairs : numpy.ndarray
        Rows ``(a, b, d²)`` of grains that should differ.
    n_colours : int
        Number of colours (order parameters).
    seed : int
        Seed of the tie-breaks.

    Returns
    -------
    numpy.ndarray
        int32 colour of each node 0..n_nodes.
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
    rot = int(rng.integers(n_colours))
    # Max-heap on (saturation, degree + tie-break) with lazy deletion: a node is pushed again
    # whenever its saturation grows, and stale entries are skipped when popped.
    heap = [(0, -key[i], i) for i in range(1, n_nodes + 1)]
    heapq.heapify(heap)
    while heap:
        neg_sat, _, node = heapq.heappop(heap)
        if colour[node] >= 0 or -neg_sat != sat[node]:
            continue
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
                if colour[nb] < 0:
                    heapq.heappush(heap, (-sat[nb], -key[nb], nb))
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


def fields_from_labels(labels: np.ndarray, colour: np.ndarray, n_order: int) -> np.ndarray:
    """Sharp order-parameter fields: η_colour(grain) = 1 inside each grain.

    Parameters
    ----------
    labels : numpy.ndarray
        Grain labels (H, W).
    colour : numpy.ndarray
        Order parameter of each label.
    n_order : int
        Number of order parameters.

    Returns
    -------
    numpy.ndarray
        float32 (n_order, H, W).
    """
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

    @property
    def grain_count(self) -> int:
        """Number of grains at the last check or re-colouring."""
        return int(self._ident_count)

    def conflict_pairs(self, labels: np.ndarray) -> np.ndarray:
        """Grain pairs that must not share an order parameter, rows ``(a, b, d²)``.

        Grains closer than ``buffer_px``, and the neighbours of every shrinking (smaller than
        ``small_factor`` × mean area) grain among themselves: when such a grain vanishes its
        neighbours meet, so they must already differ (d² = buffer² + 1 for these pairs).

        Parameters
        ----------
        labels : numpy.ndarray
            Grain labels 1..N (H, W).

        Returns
        -------
        numpy.ndarray
            int64 rows ``(a, b, d²)``.
        """
        near = near_pairs(labels, self.buffer_px)
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
        """Colour the initial labelled image and return sharp fields (P, H, W).

        Parameters
        ----------
        labels : numpy.ndarray
            The starting grains; their ids become the tracked identities.

        Returns
        -------
        numpy.ndarray
            float32 fields, ``η = 1`` inside each grain on its order parameter.
        """
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

        Parameters
        ----------
        eta : numpy.ndarray
            Fields (P, H, W).

        Returns
        -------
        labels, owner : numpy.ndarray
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
        """Check for merges without re-colouring; returns (labels, identity per label).

        Parameters
        ----------
        eta : numpy.ndarray
            Fields (P, H, W).
        split : bool
            Cut merged regions back into one grain per identity.

        Returns
        -------
        labels, identity : numpy.ndarray
        """
        labels, owner = self.grain_map(eta)
        labels, owner, ident_of = self._track(labels, owner, split)
        self._ident = ident_of[labels]
        self._op = owner[labels]
        self._ident_count = int(labels.max())
        return labels, ident_of

    def check(self, eta: np.ndarray, split: bool = True) -> np.ndarray:
        """As :meth:`update`, returning only the (split) labels.

        Parameters
        ----------
        eta : numpy.ndarray
            The structure's order parameters.
        split : bool
            Whether merged regions are cut apart.

        Returns
        -------
        numpy.ndarray
            Grain labels 1..N.
        """
        return self.update(eta, split)[0]

    def recolour(self, eta: np.ndarray) -> np.ndarray:
        """Re-assign order parameters so near grains differ; returns the new fields.

        Parameters
        ----------
        eta : numpy.ndarray
            Diffuse fields (P, H, W) before the re-colouring.

        Returns
        -------
        numpy.ndarray
            The same grains' fields moved to their new order parameters.
        """
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
