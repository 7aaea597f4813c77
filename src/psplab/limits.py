"""Up-front resource checks: refuse a request before work starts, never run away silently.

Every size a user can set (grid, number of recipes, epochs, bootstrap resamples, budget,
workers, image pixels) is checked here against a stated bound or the machine's memory, and a
:class:`psplab.errors.ResourceError` names the option, the estimate and the bound.
"""

from __future__ import annotations

import os

from psplab.errors import InputError, ResourceError

__all__ = [
    "available_memory_bytes",
    "format_bytes",
    "require_at_most",
    "require_count",
    "require_memory",
]

# Share of the available memory one request may plan to use; the rest is head-room for the
# interpreter, JAX's buffers and the user's other programs.
MEMORY_SHARE = 0.8


def available_memory_bytes() -> int:
    """Memory this process may still use, in bytes (physical memory available, or 4 GiB if unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` as a short human-readable string (``"1.5 GiB"``)."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} PiB"


def require_memory(n_bytes: float, what: str, hint: str = "") -> None:
    """Raise :class:`ResourceError` if ``what`` would need more than the memory share available.

    Parameters
    ----------
    n_bytes : float
        Estimated peak memory of the request, in bytes.
    what : str
        The request in the user's words, e.g. ``"--grid 100000"``.
    hint : str
        What to do instead, appended to the message.
    """
    limit = MEMORY_SHARE * available_memory_bytes()
    if n_bytes > limit:
        message = (
            f"{what} needs about {format_bytes(n_bytes)} of memory, more than the "
            f"{format_bytes(limit)} this machine has available"
        )
        raise ResourceError(f"{message}; {hint}" if hint else message)


def require_at_most(option: str, value: float, limit: float, hint: str = "") -> None:
    """Raise :class:`ResourceError` if ``value`` of ``option`` exceeds ``limit``.

    Parameters
    ----------
    option : str
        The option's name as the user wrote it, e.g. ``"--bootstrap"``.
    value : float
        The value given.
    limit : float
        The largest value accepted.
    hint : str
        Why the bound exists or what to do instead.
    """
    if not value <= limit:
        message = f"{option} {value:g} is above the limit of {limit:g}"
        raise ResourceError(f"{message}: {hint}" if hint else message)


def require_count(option: str, value: object, limit: int, hint: str = "") -> int:
    """``value`` of ``option`` as an int, refused unless it is a count from 1 to ``limit``.

    Parameters
    ----------
    option, hint : str
        As in :func:`require_at_most`.
    value : object
        The value given: an int, or text that ``int()`` reads.
    limit : int
        The largest count accepted (the smallest is 1).

    Returns
    -------
    count : int
        The value as an int.

    Raises
    ------
    psplab.errors.InputError
        The value is not a positive integer.
    psplab.errors.ResourceError
        The value is above ``limit``.
    """
    try:
        count = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(f"{option} must be a positive integer, got {value!r}") from None
    if count < 1:
        raise InputError(f"{option} must be a positive integer, got {value!r}")
    require_at_most(option, count, limit, hint)
    return count
