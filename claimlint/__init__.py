"""claimlint: a declarative decision-table compliance checker for French medical billing."""

__version__ = "0.1.0"
