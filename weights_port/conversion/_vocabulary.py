"""The generator's vocabulary: every torch name a generated module may use.

The renderer refuses a tree that uses anything else, so what a converted file can call
is this list plus the helpers copied from ``weights_port.torch_modules`` (or a plugin's
module) and the names the ``NameTable`` made.
"""

from __future__ import annotations

__all__ = ["ELEMENTWISE_ACTIVATIONS", "FUNCTIONAL_MODULES", "F_FUNCTIONS", "NN_CLASSES", "RUNTIME_HELPERS",
           "SHORT_NAMES", "TENSOR_METHODS", "TORCH_FUNCTIONS", "allowed_global"]

TORCH_FUNCTIONS = frozenset({
    "abs", "acos", "acosh", "amax", "amin", "argmax", "argmin", "asin", "asinh", "atan", "atan2", "atanh", "bmm",
    "cat", "ceil", "clamp", "cos", "cosh", "cumprod", "cumsum", "diagonal", "einsum", "eq", "erf", "exp", "expm1",
    "flip", "float32", "float64", "floor", "gather", "ge", "gt", "int64", "bool", "isfinite", "le", "log", "log1p",
    "logical_and", "logical_not", "logical_or", "logsumexp", "lt", "matmul", "maximum", "minimum", "ne", "ones",
    "ones_like", "reciprocal", "remainder", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "softmax", "sqrt",
    "square", "stack", "tan", "tanh", "tensor", "tile", "topk", "tril", "triu", "trunc", "where", "zeros",
    "zeros_like", "arange", "full", "linalg", "sort", "argsort", "cummax", "cummin", "floor_divide", "fmod",
    "logical_xor", "nan_to_num", "pow", "prod", "sum", "mean", "repeat_interleave", "take_along_dim",
    "bitwise_and", "bitwise_or", "bitwise_xor", "signbit", "lerp", "Tensor", "bucketize", "searchsorted",
    "stft", "log10",
})

F_FUNCTIONS = frozenset({
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "celu", "conv1d",
    "conv2d", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "interpolate",
    "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool1d", "max_pool2d", "max_pool3d",
    "mish", "normalize", "one_hot", "pad", "relu", "relu6", "rms_norm", "scaled_dot_product_attention", "selu",
    "silu", "softmax", "softplus", "softshrink", "softsign", "tanhshrink", "threshold", "embedding", "unfold",
})

NN_CLASSES = frozenset({
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "CELU",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Dropout", "ELU",
    "Embedding", "Flatten", "GELU", "GRU", "GroupNorm", "Hardsigmoid", "Hardswish", "Hardtanh", "Identity",
    "LSTM", "LayerNorm", "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax", "MaxPool1d", "MaxPool2d", "MaxPool3d",
    "Mish", "Module", "ModuleList", "Parameter", "RNN", "ReLU", "ReLU6", "SELU", "Sequential", "SiLU", "Sigmoid",
    "Softmax", "Softplus", "Softsign", "Tanh", "Tanhshrink", "Unflatten", "MultiheadAttention", "RMSNorm",
    "Hardshrink", "Softshrink", "GLU", "AlphaDropout", "Dropout1d", "Dropout2d", "Dropout3d", "ZeroPad1d",
    "ZeroPad2d", "ZeroPad3d",
})

TENSOR_METHODS = frozenset({
    "abs", "all", "amax", "amin", "any", "argmax", "argmin", "bool", "chunk", "clamp", "contiguous", "cumsum",
    "cumprod", "detach", "diagonal", "double", "exp", "expand", "flatten", "flip", "float", "gather", "long",
    "logsumexp", "masked_fill", "matmul", "max", "mean", "min", "movedim", "narrow", "ne", "new_zeros", "norm",
    "permute", "pow", "prod", "repeat", "repeat_interleave", "reshape", "softmax", "split", "sqrt", "square",
    "squeeze", "std", "sum", "tanh", "tile", "to", "transpose", "type_as", "unbind", "unflatten", "unsqueeze",
    "var", "view", "shape", "dtype", "sigmoid", "sort", "topk", "round", "eq", "int", "logical_not",
    "select", "index_select", "size", "tensor_split", "masked_select", "mT", "T", "clone", "neg", "rsqrt",
    "reciprocal", "log", "ceil",
    "floor", "sign", "sin", "cos", "trunc", "remainder", "fmod", "float_power", "nan_to_num", "tril", "triu",
})

RUNTIME_HELPERS = frozenset({
    # weights_port.torch_modules.__all__ (a test keeps the two equal); reserved in every generated file
    "ChannelLayerNorm", "Constant", "ConvLSTM", "DotAttention", "EinsumDense", "GateActivationLSTM", "LayerScale",
    "LocallyConnected", "MultiHeadAttention",
    "Normalize", "Denormalize", "PReLU", "RecurrentLoop", "Rescale", "SeparableConv1d", "SeparableConv2d",
    "TFSamePad2d", "activation_function", "avg_pool_same", "keras2_hard_sigmoid", "pad_same", "same_padding",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "resize_bilinear", "resize_bicubic", "resize_area",
    "scale_and_translate", "VarianceScaledNorm", "auto_contrast", "clahe", "sliding_window_mask",
    "UnconvertedLayer",
})

FUNCTIONAL_MODULES: dict[tuple[str, ...], str] = {
    # f(x, *rest, **kwargs) computes what nn.Cls(*rest, **kwargs)(x) computes (a chain of them can be nn.Sequential)
    ("F", "relu"): "ReLU", ("F", "relu6"): "ReLU6", ("torch", "sigmoid"): "Sigmoid", ("torch", "tanh"): "Tanh",
    ("F", "silu"): "SiLU", ("F", "gelu"): "GELU", ("F", "softmax"): "Softmax", ("F", "log_softmax"): "LogSoftmax",
    ("F", "elu"): "ELU", ("F", "selu"): "SELU", ("F", "softplus"): "Softplus", ("F", "softsign"): "Softsign",
    ("F", "hardsigmoid"): "Hardsigmoid", ("F", "hardswish"): "Hardswish", ("F", "mish"): "Mish",
    ("F", "leaky_relu"): "LeakyReLU", ("F", "celu"): "CELU", ("F", "logsigmoid"): "LogSigmoid",
    ("F", "tanhshrink"): "Tanhshrink", ("F", "hardtanh"): "Hardtanh",
}

ELEMENTWISE_ACTIVATIONS: frozenset[tuple[str, ...]] = frozenset({
    ("F", "relu"), ("F", "relu6"), ("F", "silu"), ("F", "gelu"), ("F", "hardswish"), ("F", "hardsigmoid"),
    ("F", "elu"), ("F", "selu"), ("F", "mish"), ("torch", "sigmoid"), ("torch", "tanh"),
})
"""Of those, the activations of one value each element alone decides (not a softmax), with no argument but the
tensor in the generated code: a block may hold them as modules, a classifier on pooled features may keep them."""


def allowed_global(path: tuple[str, ...], helpers: frozenset[str] | set[str]) -> bool:
    """Whether a dotted name is in the vocabulary (or is one of this file's helpers)."""
    root, rest = path[0], path[1:]
    if root in helpers:
        return not rest
    if root == "torch":
        return rest == () or (len(rest) == 1 and rest[0] in TORCH_FUNCTIONS) or rest in (("linalg", "norm"),
                                                                                       ("linalg", "vector_norm"))
    if root == "F":
        return len(rest) == 1 and rest[0] in F_FUNCTIONS
    if root == "nn":
        return len(rest) == 1 and rest[0] in NN_CLASSES
    if root == "math":
        return rest in (("inf",), ("pi",))
    return root in ("float", "int", "tuple", "len", "range") and not rest


SHORT_NAMES = {"Conv1d": "conv", "Conv2d": "conv", "Conv3d": "conv", "BatchNorm1d": "bn", "BatchNorm2d": "bn",
               "BatchNorm3d": "bn", "Linear": "fc", "Dropout": "drop", "LayerNorm": "norm", "GroupNorm": "norm",
               "SeparableConv1d": "sepconv", "SeparableConv2d": "sepconv", "MaxPool2d": "pool", "AvgPool2d": "pool",
               "MultiHeadAttention": "attn", "ConvTranspose1d": "upconv", "ConvTranspose2d": "upconv",
               "ConvTranspose3d": "upconv", "ChannelLayerNorm": "norm", "LayerScale": "layer_scale"}
"""The attribute word for a module kind, as torchvision names them (``conv1``, ``bn1``, ``fc``); other kinds
are their snake-case name."""
