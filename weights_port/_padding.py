"""TensorFlow's window arithmetic, in plain Python (no framework): shared by the converter and the runtime."""

from __future__ import annotations

__all__ = ["same_padding", "window_output"]


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis as (before, after): any odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def window_output(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    """The output length of a window over ``size`` positions (None when the size is unknown)."""
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1
