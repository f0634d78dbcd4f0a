"""Conversion rules for the rest of Keras's layers with an inference meaning: Identity, the random augmentation
layers (identity at inference), UnitNormalization, RMSNormalization, Resizing and CenterCrop.

Each computes what Keras's own ``call`` computes at inference (read from Keras 3.15 and
tf_keras 2.21), in Keras's arithmetic order where rounding would otherwise differ.
"""

from __future__ import annotations

from dataclasses import replace

from ._emitter import Emitter, refuse
from ._graph import Layer, Op
from ._ir import F, Value, nn, torch
from ._settings import Settings, check_layer_config
from ._table import ConvertRule

__all__ = ["INFERENCE_IDENTITY", "MORE_RULES"]

INFERENCE_IDENTITY = (
    "Identity", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomHue", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomPerspective",
    "RandomPosterization", "RandomInvert", "RandomGrayscale", "RandomColorDegeneration", "RandomColorJitter",
    "RandomGaussianBlur", "RandomErasing", "RandomElasticTransform", "AugMix", "CutMix", "MixUp", "RandAugment",
    "RandomHeight", "RandomWidth",
)
"""Layers that return their input unchanged at inference (checked against Keras in the tests)."""


def _wrapped_at_inference(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """SpectralNormalization: at inference Keras calls the wrapped layer with the kernel it holds (the
    normalised kernel written back at the last training step); the power-iteration vector is unused."""
    layer = op.layer
    wrapped = layer.config.get("layer")
    if not isinstance(wrapped, dict) or not isinstance(wrapped.get("class_name"), str) or \
            not isinstance(wrapped.get("config", {}), dict):
        raise Settings(layer).error("layer", wrapped, "a layer config")
    inner = Layer(layer.name, wrapped["class_name"].rsplit(">", 1)[-1], wrapped.get("config") or {}, layer.module)
    check_layer_config(inner, em.keras_major)
    rule = em.rules.for_layer(inner)
    if rule is None:
        raise refuse(layer, f"wraps a {inner.class_name}, which has no conversion rule")
    return rule.emit(replace(op, layer=inner), inputs, em)


def _as_batch_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """tf.keras's SyncBatchNormalization: BatchNormalization at inference (the sync is of training statistics)."""
    inner = Layer(op.layer.name, "BatchNormalization", op.layer.config, op.layer.module)
    rule = em.rules.for_layer(inner)
    if rule is None:
        raise refuse(op.layer, "needs the BatchNormalization rule")
    return rule.emit(replace(op, layer=inner), inputs, em)


def _identity(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    em.layer_map.setdefault(op.layer.name, [])
    return [inputs[0]]


def _unit_normalization(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's ``normalize(x, order=2, epsilon=1e-12)``: x · min(rsqrt(Σx²), 1/ε)."""
    x = inputs[0]
    axes = Settings(op.layer).axes("axis", x.rank, -1)
    dims = tuple(x.torch_axis(a) for a in axes)
    squares = x.ref.m("square").m("sum", dim=dims if len(dims) > 1 else dims[0], keepdim=True)
    return [em.let(op.layer.name, x.ref * torch.clamp(torch.rsqrt(squares), max=1.0 / 1e-12), x)]


def _rms_normalization(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's RMSNormalization: x · rsqrt(mean(x²) + ε) · scale, over its last axis: ``nn.RMSNorm``."""
    layer, s = op.layer, Settings(op.layer)
    x = em.to_layout(inputs[0], "keras")
    if s.axes("axis", x.rank, -1) != [x.rank - 1]:
        raise refuse(layer, "normalises another axis than the last", "not converted yet")
    arrays = em.arrays(layer)
    width = x.shape[-1]
    if len(arrays) != 1 or arrays[0].shape != (width,):
        raise refuse(layer, f"holds arrays {[a.shape for a in arrays]} for {width} features")
    epsilon = s.number("epsilon", 1e-6, minimum=0.0)
    module = em.module(layer, nn.RMSNorm, width, eps=epsilon, state={"weight": arrays[0]})
    return [em.let(layer.name, module(x), x)]


def _resizing(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's Resizing without cropping or padding, as ``tf.image.resize`` computes it: TensorFlow's bilinear
    (``resize_bilinear``), bicubic (``resize_bicubic``, Keys' a = −0.5) and area (``resize_area``) kernels,
    antialiased bilinear and bicubic (``resize_antialiased``, its ``scale_and_translate``), and half-pixel nearest
    (torch's ``nearest-exact``)."""
    layer, s = op.layer, Settings(op.layer)
    height, width = s.integer("height", None, minimum=1), s.integer("width", None, minimum=1)
    method = s.choice("interpolation", ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area"), "bilinear")
    for flag in ("crop_to_aspect_ratio", "pad_to_aspect_ratio"):
        if s.flag(flag, False):
            raise refuse(layer, f"sets {flag}=True", "not converted yet")
    antialias = s.flag("antialias", False)
    if s.choice("data_format", ("channels_last", "channels_first"), "channels_last", nullable=True) != "channels_last":
        raise refuse(layer, "uses data_format='channels_first'", "not converted yet")
    if method.startswith("lanczos"):
        raise refuse(layer, f"resizes with {method!r}", "bilinear, bicubic, area and nearest are converted "
                     "(TensorFlow's Lanczos kernel, float32 sines, has no port checked bit for bit yet)")
    x = em.to_layout(inputs[0], "cf")
    size = (height, width)
    # TensorFlow's kernels, float32 coordinates and arithmetic whatever the dtype, bit for bit
    if antialias and method in ("bilinear", "bicubic"):
        expr = em.runtime("resize_antialiased")(x, size, "triangle" if method == "bilinear" else "keyscubic")
    elif method in ("bilinear", "bicubic", "area"):
        expr = em.runtime(f"resize_{method}")(x, size)
    else:  # nearest: tf.image.resize ignores antialias
        expr = F.interpolate(x, size=size, mode="nearest-exact")
    return [em.let(layer.name, expr, x, shape=(x.shape[0], height, width, x.shape[-1]))]


def _center_crop(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's CenterCrop of an image at least the target size (a smaller one is resized: refused)."""
    layer, s = op.layer, Settings(op.layer)
    height, width = s.integer("height", None, minimum=1), s.integer("width", None, minimum=1)
    if s.choice("data_format", ("channels_last", "channels_first"), "channels_last", nullable=True) != "channels_last":
        raise refuse(layer, "uses data_format='channels_first'", "not converted yet")
    x = em.to_layout(inputs[0], "cf")
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None or h < height or w < width:
        raise refuse(layer, f"crops {height}×{width} out of {h}×{w}", "an input at least the target size, known")
    top, left = (h - height) // 2, (w - width) // 2
    index = (slice(None), slice(None), slice(top, top + height), slice(left, left + width))
    return [em.let(layer.name, x.ref[index], x, shape=(x.shape[0], height, width, x.shape[-1]))]


MORE_RULES = [
    *(ConvertRule(name, _identity, "any", doc="identity at inference") for name in INFERENCE_IDENTITY),
    ConvertRule("UnitNormalization", _unit_normalization, "any"),
    ConvertRule("SpectralNormalization", _wrapped_at_inference, "any"),
    ConvertRule("SyncBatchNormalization", _as_batch_norm, "cf"),
    ConvertRule("RMSNormalization", _rms_normalization, "keras"),
    ConvertRule("Resizing", _resizing, "cf"),
    ConvertRule("CenterCrop", _center_crop, "cf"),
]
