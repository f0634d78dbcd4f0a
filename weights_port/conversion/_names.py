"""Python names for a generated module: every name drawn from a file goes through here.

A Keras file can name a layer anything (quotes, newlines, ``forward``, ``__class__``,
look-alike Unicode). The generated source uses such text only as string constants; the
names it binds (module attributes, locals, the class) come from a ``NameTable`` that maps
any text to plain ASCII ``[A-Za-z_][A-Za-z0-9_]*``, never a keyword, a builtin, a name the
file itself uses or an ``nn.Module`` attribute, and unique (a collision gets ``_2``, ``_3``).
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

__all__ = ["MAX_IDENTIFIER", "RESERVED", "NameTable", "class_name_for", "common_prefix", "common_suffix",
           "is_safe_identifier",
           "module_name_for", "snake_identifier"]

MAX_IDENTIFIER = 60
"""Longer names are cut: a 100 kB layer name must not become a 100 kB attribute."""

_SAFE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

MODULE_ATTRIBUTES = frozenset({
    # what nn.Module and nn.Sequential define or set on an instance (checked against torch in the tests)
    "T_destination", "add_module", "append", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extend", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "insert", "ipu", "load_state_dict",
    "modules", "mtia", "named_buffers", "named_children", "named_modules", "named_parameters", "parameters", "pop",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule", "share_memory",
    "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad",
})

FILE_NAMES = frozenset({
    # names the generated file binds or reads itself
    "torch", "nn", "F", "OrderedDict", "annotations", "self", "super", "math", "_",
})

SOFT_KEYWORDS = frozenset(getattr(keyword, "softkwlist", ())) | {"match", "case", "type", "_"}

RESERVED = frozenset(keyword.kwlist) | SOFT_KEYWORDS | frozenset(dir(builtins)) | MODULE_ATTRIBUTES | FILE_NAMES
"""Never bound by a generated name (helpers' own names are added per file)."""


def is_safe_identifier(name: object) -> bool:
    """Plain ASCII identifier, not a keyword (the shape every generated name has)."""
    return isinstance(name, str) and bool(_SAFE.match(name)) and not keyword.iskeyword(name)


def snake_identifier(text: str, fallback: str = "layer") -> str:
    """Any text as a lower-case ASCII identifier ("conv1/conv" → "conv1_conv", "Ünïcode" → "unicode").

    NFKC first (what Python does to identifiers), then only ASCII letters, digits and
    single underscores survive; nothing leading with a digit or an underscore.
    """
    normal = unicodedata.normalize("NFKC", text)
    plain = unicodedata.normalize("NFKD", normal).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^A-Za-z0-9]+", "_", plain).strip("_").lower()[:MAX_IDENTIFIER].strip("_")
    if not words:
        return fallback
    return f"{fallback}_{words}" if words[0].isdigit() else words


def class_name_for(text: str, fallback: str = "Converted") -> str:
    """A model name as a class name: "MobileNetV3Small" stays, "small_cnn" → "SmallCnn",
    "mobilenetv2_0.35_32" → "Mobilenetv2_0_35_32" (digit groups stay apart)."""
    normal = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text)).encode("ascii", "ignore").decode()
    if _SAFE.match(normal) and normal[0].isupper() and "_" not in normal and len(normal) <= MAX_IDENTIFIER:
        return normal
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", normal) if p]
    name = ""
    for part in parts:
        piece = part[:1].upper() + part[1:]
        name += f"_{piece}" if name and name[-1].isdigit() and piece[0].isdigit() else piece
    name = name[:MAX_IDENTIFIER]
    if not name:
        return fallback
    return name if name[0].isalpha() else f"Model{name}"


def module_name_for(class_name: str) -> str:
    """The file stem for a class ("MobileNetV2" → "mobile_net_v2"), an importable module name."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return snake_identifier(name, "model")


def common_prefix(names: list[str]) -> str:
    """The leading words the names share (``block35_1_conv``, ``block35_2_…`` → ``block35``; ``block_2_expand``,
    ``block_2_expand_BN`` → ``block_2_expand``)."""
    if not names:
        return ""
    shared: list[str] = []
    for words in zip(*(name.split("_") for name in names), strict=False):
        if len(set(words)) != 1:
            break
        shared.append(words[0])
    return "_".join(w for w in shared if w)


def common_suffix(names: list[str]) -> str:
    """The trailing words the names share (``normal_left1_reduce_4``, ``adjust_bn_reduce_4`` → ``reduce_4``)."""
    return common_prefix([name[::-1] for name in names])[::-1]


class NameTable:
    """Allocates unique safe names in one namespace; the same hint twice gives two names."""

    def __init__(self, reserved: frozenset[str] | set[str] = RESERVED) -> None:
        self._taken: set[str] = set(reserved)
        self.origins: dict[str, str] = {}
        """Generated name → the text it was made from (for the manifest)."""

    def reserve(self, *names: str) -> None:
        self._taken.update(names)

    def taken(self, name: str) -> bool:
        return name in self._taken

    def allocate(self, hint: str, fallback: str = "layer") -> str:
        base = snake_identifier(hint, fallback)
        return self._claim(base, hint)

    def allocate_class(self, hint: str) -> str:
        return self._claim(class_name_for(hint), hint)

    def _claim(self, base: str, hint: str) -> str:
        name, count = base, 2
        while name in self._taken or not is_safe_identifier(name):
            name, count = f"{base}_{count}", count + 1
        self._taken.add(name)
        self.origins[name] = hint
        return name
