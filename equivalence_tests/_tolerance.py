"""The tolerance rule lives in ``weights_port.tolerance`` (zoo's port verification uses it too); this is its
home in the suite's namespace."""

from __future__ import annotations

from weights_port.tolerance import (
    FLOAT64_KERNEL_ALLOWANCES,
    TOLERANCES,
    Agreement,
    KernelAllowance,
    Tolerance,
    compare_arrays,
)

__all__ = ["FLOAT64_KERNEL_ALLOWANCES", "TOLERANCES", "Agreement", "KernelAllowance", "Tolerance", "compare_arrays"]
