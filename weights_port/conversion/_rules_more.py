"""Conversion rules for the rest of Keras's layers with an inference meaning: Identity, the random augmentation
layers (identity at inference), UnitNormalization, RMSNormalization, Resizing (with its aspect-ratio crop or
pad), CenterCrop, RandomCrop, AutoContrast, ContrastLimitedAdaptiveHistogramEqualization, Solarization and
Pipeline.

Each computes what Keras's own ``call`` computes at inference (read from Keras 3.15 and
tf_keras 2.21), in Keras's arithmetic order where rounding would otherwise differ.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._emitter import Emitter, refuse
from ._graph import Layer, Op, TensorRef, quoted
from ._ir import Expr, F, Value, nn, torch
from ._rules_core import wrapped_layer
from ._settings import Settings, check_layer_config
from ._table import ConvertRule

__all__ = ["INFERENCE_IDENTITY", "MORE_RULES", "resized"]

INFERENCE_IDENTITY = (
    "Identity", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomHue", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomPerspective",
    "RandomPosterization", "RandomInvert", "RandomGrayscale", "RandomColorDegeneration", "RandomColorJitter",
    "RandomGaussianBlur", "RandomErasing", "RandomElasticTransform", "AugMix", "CutMix", "MixUp", "RandAugment",
    "RandomHeight", "RandomWidth", "Equalization", "MaxNumBoundingBoxes",
)
"""Layers that return their input unchanged at inference (checked against Keras in the tests): Keras 3.15's
Equalization equalises only when ``training``; MaxNumBoundingBoxes pads and truncates bounding boxes and returns
an image tensor as it is."""


def _wrapped_at_inference(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """SpectralNormalization: at inference Keras calls the wrapped layer with the kernel it holds (the
    normalised kernel written back at the last training step); the power-iteration vector is unused."""
    layer = op.layer
    inner = wrapped_layer(layer, em)
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
    """Keras's Resizing as ``tf.image.resize`` computes it: TensorFlow's bilinear (``resize_bilinear``), bicubic
    (``resize_bicubic``, Keys' a = −0.5) and area (``resize_area``) kernels, antialiased bilinear and bicubic and
    both Lanczos kernels (its ``scale_and_translate``), and half-pixel nearest (torch's ``nearest-exact``);
    with ``crop_to_aspect_ratio`` the centred box of the target's aspect ratio is cut out first, with
    ``pad_to_aspect_ratio`` ``fill_value`` rows or columns are added on both sides first (Keras 3's
    ``backend.tensorflow.image.resize``, its box computed in float32 as there)."""
    layer, s = op.layer, Settings(op.layer)
    height, width = s.integer("height", None, minimum=1), s.integer("width", None, minimum=1)
    method = s.choice("interpolation", ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area"), "bilinear")
    crop, pad = s.flag("crop_to_aspect_ratio", False), s.flag("pad_to_aspect_ratio", False)
    if crop and pad:
        raise s.error("pad_to_aspect_ratio", True, "false when crop_to_aspect_ratio is true")
    s.choice("fill_mode", ("constant",), "constant")
    fill_value = s.number("fill_value", 0.0)
    antialias = s.flag("antialias", False)
    if s.choice("data_format", ("channels_last", "channels_first"), "channels_last", nullable=True) != "channels_last":
        raise refuse(layer, "uses data_format='channels_first'", "not converted yet")
    x = em.to_layout(inputs[0], "cf")
    source: Expr = x.ref
    if crop:
        top, crop_height, left, crop_width = _aspect_crop(layer, x, height, width, minimum=1)
        source = x.ref[:, :, top:top + crop_height, left:left + crop_width]
    elif pad:
        rows, columns = _aspect_pad(layer, x, height, width)
        if rows or columns:
            source = F.pad(x.ref, (columns, columns, rows, rows), value=fill_value)
    expr = resized(em, source, (height, width), method, antialias)
    return [em.let(layer.name, expr, x, shape=(x.shape[0], height, width, x.shape[-1]))]


def resized(em: Emitter, x: Expr, size: tuple[int, int], method: str, antialias: bool = False) -> Expr:
    """``tf.image.resize`` of a channels-first image batch: TensorFlow's kernels, float32 coordinates and
    arithmetic whatever the dtype, bit for bit (the Lanczos kernels with glibc's float32 sines)."""
    if method.startswith("lanczos"):
        return em.runtime("scale_and_translate")(x, size, method, antialias)
    if antialias and method in ("bilinear", "bicubic"):
        return em.runtime("scale_and_translate")(x, size, "triangle" if method == "bilinear" else "keyscubic")
    if method in ("bilinear", "bicubic", "area"):
        return em.runtime(f"resize_{method}")(x, size)
    return F.interpolate(x, size=size, mode="nearest-exact")  # nearest: tf.image.resize ignores antialias


def _known_size(layer: Layer, x: Value, height: int, width: int) -> tuple[int, int]:
    h, w = x.shape[1], x.shape[2]
    if x.rank != 4 or h is None or w is None:
        raise refuse(layer, f"fits an input of shape {x.shape} to the aspect ratio of {height}×{width}",
                     "an image batch of known height and width (give the Keras Input a fixed shape)")
    if max(w * height, h * width) >= 2**31:
        raise refuse(layer, f"fits {h}×{w} to {height}×{width}", "TensorFlow's int32 box arithmetic overflows")
    return h, w


def _float32_quotient(numerator: int, denominator: int) -> int:
    """``tf.cast(tf.cast(numerator, float32) / denominator, int32)``: a float32 quotient, truncated."""
    return int(np.float32(numerator) / np.float32(denominator))


def _aspect_crop(layer: Layer, x: Value, height: int, width: int, minimum: int) -> tuple[int, int, int, int]:
    """(top, crop height, left, crop width): the centred box of the target's aspect ratio, as Keras 3's TensorFlow
    ``resize(crop_to_aspect_ratio=True)`` (``minimum`` 1) and tf.keras's ``smart_resize`` (``minimum`` 0) cut it."""
    h, w = _known_size(layer, x, height, width)
    crop_height = max(min(h, _float32_quotient(w * height, width)), minimum)
    crop_width = max(min(w, _float32_quotient(h * width, height)), minimum)
    if crop_height < 1 or crop_width < 1:
        raise refuse(layer, f"crops {h}×{w} to an empty box for {height}×{width}", "Keras cannot resize it either")
    return _float32_quotient(h - crop_height, 2), crop_height, _float32_quotient(w - crop_width, 2), crop_width


def _aspect_pad(layer: Layer, x: Value, height: int, width: int) -> tuple[int, int]:
    """(rows, columns) Keras 3's TensorFlow ``resize(pad_to_aspect_ratio=True)`` adds on each side: half the
    padding to the target's aspect ratio (truncated), the same count before and after."""
    h, w = _known_size(layer, x, height, width)
    pad_height = max(h, _float32_quotient(w * height, width))
    pad_width = max(w, _float32_quotient(h * width, height))
    rows, columns = _float32_quotient(pad_height - h, 2), _float32_quotient(pad_width - w, 2)
    if rows and columns:
        raise refuse(layer, f"pads {h}×{w} both ways for {height}×{width}", "Keras's own concatenation fails there")
    return rows, columns


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


def _random_crop(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """RandomCrop at inference (a functional model's ``training=False`` overrides the ``training=True`` its
    nodes record). Keras 3.15's ``transform_images(training=False)`` returns the images unchanged
    (whatever their size, though the layer declares (height, width); its docstring's resize-and-crop is not what
    its code does): identity. tf.keras's runs ``smart_resize``: the centred box of the target's aspect ratio,
    resized bilinearly (float32), cast back to the compute dtype."""
    layer, s = op.layer, Settings(op.layer)
    height, width = s.integer("height", None, minimum=1), s.integer("width", None, minimum=1)
    if em.keras_major >= 3:
        s.choice("data_format", ("channels_last", "channels_first"), "channels_last", nullable=True)
        return _identity(op, inputs, em)
    x = em.to_layout(inputs[0], "cf")
    top, crop_height, left, crop_width = _aspect_crop(layer, x, height, width, minimum=0)
    source = x.ref[:, :, top:top + crop_height, left:left + crop_width]
    if x.integer:
        source = source.m("to", em.float_type)
    expr = em.runtime("resize_bilinear")(source, (height, width))
    return [em.let(layer.name, expr, x, shape=(x.shape[0], height, width, x.shape[-1]), integer=False)]


def _as_float(em: Emitter, layer: Layer, x: Value) -> Value:
    """Keras's ``cast(images, compute_dtype)``: integer images become the model's float type."""
    if not x.integer:
        return x
    return em.let(layer.name + "_float", x.ref.m("to", em.float_type), x, integer=False)


def _solarization(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Solarization at inference: Keras 3.15's ``get_random_transformation(training=False)`` is None and
    ``transform_images(training=False)`` returns ``cast(images, compute_dtype)``: identity for float images."""
    em.layer_map.setdefault(op.layer.name, [])
    return [_as_float(em, op.layer, inputs[0])]


def _auto_contrast(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras 3's AutoContrast (the same at training and inference): each image's values, taken to 0–255, are
    stretched from their min and max over axes 1 and 2 (whatever ``data_format``) to 0–255, clipped and taken back
    to ``value_range``; a channel that gives NaN (constant: 255 / 0) keeps its input (the runtime's
    ``auto_contrast``, in Keras's order of operations)."""
    layer, s = op.layer, Settings(op.layer)
    value_range = s.numbers("value_range", [0, 255])
    if not isinstance(value_range, list) or len(value_range) != 2 or not all(isinstance(v, float) for v in value_range):
        raise s.error("value_range", s.raw("value_range"), "a list of two numbers")
    low, high = sorted(value_range)
    x = em.to_layout(inputs[0], "keras")
    if x.rank != 4:
        raise refuse(layer, f"takes a tensor of rank {x.rank}", "a batch of images (batch, height, width, channels)")
    x = _as_float(em, layer, x)
    return [em.let(layer.name, em.runtime("auto_contrast")(x, (low, high)), x)]


def _clahe(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras 3's ContrastLimitedAdaptiveHistogramEqualization (the same at training and inference): the runtime's
    ``clahe``, its per-tile clipped histograms and bilinear blend of tile mappings in Keras's float32 order."""
    layer, s = op.layer, Settings(op.layer)
    value_range = s.numbers("value_range", [0, 255])
    if not isinstance(value_range, list) or len(value_range) != 2 or not all(isinstance(v, float) for v in value_range):
        raise s.error("value_range", s.raw("value_range"), "a list of two numbers")
    clip_limit = s.number("clip_limit", 4.0)
    grid = s.ints("tile_grid_size", 2, (8, 8))
    if s.choice("data_format", ("channels_last", "channels_first"), "channels_last", nullable=True) != "channels_last":
        raise refuse(layer, "uses data_format='channels_first'", "not converted yet")
    x = em.to_layout(inputs[0], "keras")
    if x.rank != 4:
        raise refuse(layer, f"takes a tensor of rank {x.rank}", "a batch of images (batch, height, width, channels)")
    for size, tiles in zip(x.shape[1:3], grid, strict=True):
        if size is not None and -(-size // tiles) * tiles - size > size:
            raise refuse(layer, f"mirrors {size} pixels to {tiles} tiles of {-(-size // tiles)}",
                         "TensorFlow cannot pad so far either; use fewer tiles")
    expr = em.runtime("clahe")(x, (value_range[0], value_range[1]), clip_limit, grid)
    return [em.let(layer.name, expr, x, integer=False)]


def _pipeline(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's Pipeline: its layers one after the other, each converted by its own rule (looked up in the table in
    use), called as Keras calls them there (the one tensor, no other arguments). Layers that make a mask (which
    Pipeline would pass on to the next) are refused. Inner layers are named ``pipeline/inner`` as the file names
    their weights."""
    layer = op.layer
    entries = layer.config.get("layers")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("class_name"), str) and isinstance(e.get("config") or {}, dict)
            for e in entries):
        raise Settings(layer).error("layers", entries, "a list of layer configs")
    value = inputs[0]
    for index, entry in enumerate(entries):
        config = entry.get("config") or {}
        name = config.get("name")
        registered = entry.get("registered_name")
        inner = Layer(f"{layer.name}/{name if isinstance(name, str) and name else index}",
                      entry["class_name"].rsplit(">", 1)[-1], config,
                      entry.get("module") if isinstance(entry.get("module"), str) else "",
                      registered if isinstance(registered, str) else None)
        check_layer_config(inner, em.keras_major)
        shown = quoted(inner.class_name, 40)
        if inner.class_name == "Masking" or (inner.class_name == "Embedding" and config.get("mask_zero") is True):
            raise refuse(layer, f"holds a {shown} that makes a mask, which Pipeline would pass on", "not converted")
        rule = em.rules.for_layer(inner)
        if rule is None:
            raise refuse(layer, f"holds a layer of class {shown}, which has no conversion rule")
        em.masks, em.call_args, em.call_kwargs = [], [value], {}
        outputs = rule.emit(Op(inner, [TensorRef(-1)], {}), [value], em)
        if len(outputs) != 1:
            raise refuse(layer, f"holds a {shown} that returns {len(outputs)} tensors")
        value = outputs[0]
        modules = em.layer_map.pop(inner.name, [])
        em.layer_map.setdefault(layer.name, []).extend(modules)
    em.layer_map.setdefault(layer.name, [])
    return [value]


MORE_RULES = [
    *(ConvertRule(name, _identity, "any", doc="identity at inference") for name in INFERENCE_IDENTITY),
    ConvertRule("UnitNormalization", _unit_normalization, "any"),
    ConvertRule("SpectralNormalization", _wrapped_at_inference, "any"),
    ConvertRule("SyncBatchNormalization", _as_batch_norm, "cf"),
    ConvertRule("RMSNormalization", _rms_normalization, "keras"),
    ConvertRule("Resizing", _resizing, "cf"),
    ConvertRule("CenterCrop", _center_crop, "cf"),
    ConvertRule("RandomCrop", _random_crop, "any", doc="identity at inference (Keras 3); tf.keras: smart_resize"),
    ConvertRule("Solarization", _solarization, "any", doc="identity at inference"),
    ConvertRule("AutoContrast", _auto_contrast, "keras"),
    ConvertRule("ContrastLimitedAdaptiveHistogramEqualization", _clahe, "keras"),
    ConvertRule("Pipeline", _pipeline, "any", doc="its layers' own rules, one after the other"),
]
