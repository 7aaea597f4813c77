"""Typed exceptions raised by psplab's public functions.

Every error a user can cause (a bad table, spec, option, model directory or database) is a
:class:`PsplabError`. The command line prints its lines (one per problem) and exits with status 2;
Python callers catch the class they care about. Errors that are also ``ValueError``/``OSError``
subclass those too, so code written against the built-in exceptions keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CampaignError",
    "ConfigError",
    "InputError",
    "ModelFileError",
    "PsplabError",
    "ResourceError",
    "SpecError",
]


class PsplabError(Exception):
    """Base of every error psplab raises on purpose.

    Parameters
    ----------
    problems : str or iterable
        One message, or one item per problem (e.g. one per bad cell of a table); items are
        kept as given in ``problems`` (a :class:`psplab.data.spec.Problem` keeps its column and
        row) and printed with ``str``.
    """

    def __init__(self, problems: str | Iterable[object] = ""):
        items = [problems] if isinstance(problems, str) else list(problems)
        self.problems: list = [p for p in items if str(p)]
        super().__init__("\n".join(self.lines))

    @property
    def lines(self) -> list[str]:
        """One printable line per problem (never empty)."""
        return [str(p) for p in self.problems] or [type(self).__name__]


class InputError(PsplabError, ValueError):
    """A value the user gave (a table cell, a file, an option) cannot be used as it is."""


class SpecError(InputError):
    """A dataset spec (TOML) or the table it describes is invalid."""


class ConfigError(InputError):
    """A configuration file (e.g. a phase-map config) is invalid."""


class ModelFileError(InputError):
    """A saved model or run directory is missing, damaged, tampered with or of another version."""


class CampaignError(InputError):
    """A campaign database cannot be used, or an observation cannot be stored."""


class ResourceError(InputError):
    """A request would need more memory, disk or time than the stated bounds allow."""
