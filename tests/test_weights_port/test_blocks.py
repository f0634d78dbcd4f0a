"""Repeated blocks of a converted model (conversion._blocks): one class per block kind with keyword parameters,
``nn.Sequential`` stages, optional parts (a projection shortcut, an expansion, a zero pad, the residual sum itself)
and a squeeze-excitation as its own class; state keys and the manifest follow the structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import torch
from keras import layers as L
from porting import converted_exactly, manifest_maps_every_key

import weights_port
from weights_port.conversion._blocks import _derived_flags, _derived_values
from weights_port.conversion._ir import BinOp, BlockClass, BoolOp, Compare, Const, Expr, Global, IfExp, Name, Seq


def test_repeated_residual_blocks_become_one_class_in_stages(tmp_path: Path) -> None:
    """Five residual blocks of one structure at two widths, the first of each width with a projection shortcut:
    one ``Bottleneck`` class whose differing constructor arguments are keyword parameters and whose projection is
    ``self.downsample`` (``nn.Identity()`` unless ``downsample=True``, as torchvision's; a flag, since the first
    block projects without changing the channels), instances in
    ``nn.Sequential`` stages (a projecting block opens each stage); state-dict keys and the manifest follow
    (``stage1.0.conv1.weight``, ``stage1.0.downsample.weight``); the module computes what Keras computes, also in
    the form that keeps every value; the manifest maps every state key to the Keras weight it holds."""
    def bottleneck(x: Any, width: int, name: str, project: bool = False) -> Any:
        y = L.Conv2D(width, 1, activation="relu", name=f"{name}_1")(x)
        y = L.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_2")(y)
        y = L.BatchNormalization(name=f"{name}_bn")(L.Conv2D(4 * width, 1, name=f"{name}_3")(y))
        shortcut = L.Conv2D(4 * width, 1, name=f"{name}_0")(x) if project else x
        return L.Activation("relu", name=f"{name}_out")(L.Add(name=f"{name}_add")([shortcut, y]))

    image = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem")(image)
    x = bottleneck(bottleneck(bottleneck(x, 2, "a1", project=True), 2, "a2"), 2, "a3")
    x = bottleneck(bottleneck(x, 3, "b1", project=True), 3, "b2")
    model = keras.Model(image, L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "blocks.keras")
    source = conversion.source
    assert source.count("(nn.Module)") == 2 and "class Bottleneck(nn.Module)" in source  # the block and the model
    assert "self.downsample = nn.Conv2d(in_channels, out_channels, kernel_size=1) if downsample else nn.Identity()" \
        in source and "downsample: bool = False" in source
    assert "x = self.stage1(x)" in source and "x = self.stage2(x)" in source
    assert "Bottleneck(in_channels=8, width=3, out_channels=12, downsample=True)" in source
    assert "Bottleneck(in_channels=12, width=3, out_channels=12)" in source
    assert conversion.manifest["layers"]["a2_1"]["modules"] == ["stage1.1.conv1"]
    assert conversion.manifest["layers"]["b1_0"]["modules"] == ["stage2.0.downsample"]
    module = conversion.build()
    assert module.stage1[1].conv1.weight.shape == (2, 8, 1, 1) and "stage2.1.conv3.weight" in module.state_dict()
    assert isinstance(module.stage1[1].downsample, torch.nn.Identity) and "stage2.0.downsample.weight" in \
        module.state_dict()
    images = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 3, 8, 8)).astype("float32"))
    with torch.no_grad():
        assert torch.equal(module(images), conversion.build(keep_intermediates=True)(images))
    flat = weights_port.convert(tmp_path / "blocks.keras", flat=True)
    assert "class Bottleneck" not in flat.source and "a2_1.weight" in flat.state_dict
    manifest_maps_every_key(conversion, model)
    manifest_maps_every_key(flat, model)


def test_a_keyword_left_at_its_default_is_the_same_block_class(tmp_path: Path) -> None:
    """ResNet's first stage opens with a projection block of stride 1 (the converter leaves ``stride`` out), the
    later ones with stride 2: one class with a ``stride`` parameter, every stage made of blocks."""
    def block(x: Any, width: int, stride: int, name: str) -> Any:
        y = L.Conv2D(width, 1, strides=stride, activation="relu", name=f"{name}_1")(x)
        y = L.Conv2D(2 * width, 1, name=f"{name}_2")(y)
        return L.ReLU(name=f"{name}_out")(L.Add()([L.Conv2D(2 * width, 1, strides=stride, name=f"{name}_0")(x), y]))

    image = keras.Input((8, 8, 3))
    x = block(block(L.Conv2D(4, 3, name="stem")(image), 2, 1, "a"), 3, 2, "b")
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    source = converted_exactly(model, tmp_path / "strides.keras").source
    assert source.count("(nn.Module)") == 2  # the block and the model
    assert "stride: int = 1" in source and "stride=2)" in source


def test_a_converted_resnet50_reads_like_torchvision_and_its_head_trains(tmp_path: Path) -> None:
    """keras.applications.ResNet50 converted: one ``Bottleneck`` class used 16 times in four stages, the projection
    of each stage's first block as ``downsample`` (``stage1.0.downsample.0.weight``), at most 120 source lines; it
    computes what Keras computes; its head replaced by a new ``nn.Linear`` trains one step with
    ``nn.CrossEntropyLoss`` with no edit of ``forward``."""
    model = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    conversion = converted_exactly(model, tmp_path / "resnet50.keras")
    source = conversion.source
    assert len(source.splitlines()) <= 120 and source.count("(nn.Module)") == 2
    assert "if stride != 1 or in_channels != out_channels" in source and "downsample=" not in source
    assert "Bottleneck: the Keras model's conv2_block1 to conv5_block3 (16 instances)." in source
    assert "*(Bottleneck(in_channels=1024, width=256, out_channels=1024) for _ in range(5))" in source
    module = conversion.build()
    assert sum(type(m).__name__ == "Bottleneck" for m in module.modules()) == 16
    assert [len(stage) for stage in (module.stage1, module.stage2, module.stage3, module.stage4)] == [3, 4, 6, 3]
    assert "stage1.0.downsample.0.weight" in module.state_dict() and "stage3.5.conv3.weight" in module.state_dict()
    assert conversion.manifest["layers"]["conv4_block1_0_bn"]["modules"] == ["stage3.0.downsample.1"]

    module.head = torch.nn.Linear(2048, 3)
    module.train()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    images = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, (4, 3, 32, 32)).astype("float32"))
    before = module.stage4[2].conv3.weight.detach().clone()
    loss = torch.nn.CrossEntropyLoss()(module.forward_head(module.forward_features(images)),
                                       torch.tensor([0, 2, 1, 2]))
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and not torch.equal(before, module.stage4[2].conv3.weight)
    with torch.no_grad():
        assert module.eval()(images).shape == (4, 3)


def _mbconv(x: Any, filters_in: int, filters_out: int, stride: int, expand: int, name: str, kernel: int = 3) -> Any:
    """EfficientNet's block as keras.applications writes it: expansion unless the ratio is 1, a zero pad before a
    strided depthwise convolution (``correct_pad`` on an even size), a squeeze-excitation a quarter of the block's
    input wide, the projection, the sum where shape allows it."""
    width = filters_in * expand
    y = x
    if expand != 1:
        y = L.Conv2D(width, 1, use_bias=False, name=f"{name}_expand_conv")(y)
        y = L.Activation("swish", name=f"{name}_expand_activation")(L.BatchNormalization(name=f"{name}_expand_bn")(y))
    if stride == 2:
        pads = (kernel // 2 - 1, kernel // 2)
        y = L.ZeroPadding2D((pads, pads), name=f"{name}_dwconv_pad")(y)
    y = L.DepthwiseConv2D(kernel, strides=stride, padding="valid" if stride == 2 else "same", use_bias=False,
                          name=f"{name}_dwconv")(y)
    y = L.Activation("swish", name=f"{name}_activation")(L.BatchNormalization(name=f"{name}_bn")(y))
    gate = L.Reshape((1, 1, width), name=f"{name}_se_reshape")(L.GlobalAveragePooling2D(name=f"{name}_se_squeeze")(y))
    gate = L.Conv2D(max(1, filters_in // 4), 1, activation="swish", name=f"{name}_se_reduce")(gate)
    gate = L.Conv2D(width, 1, activation="sigmoid", name=f"{name}_se_expand")(gate)
    y = L.Multiply(name=f"{name}_se_excite")([y, gate])
    y = L.BatchNormalization(name=f"{name}_project_bn")(L.Conv2D(filters_out, 1, use_bias=False,
                                                                 name=f"{name}_project_conv")(y))
    if stride == 1 and filters_in == filters_out:
        y = L.Add(name=f"{name}_add")([y, x])
    return y


def test_blocks_with_and_without_their_sum_are_one_class_with_optional_parts(tmp_path: Path) -> None:
    """An EfficientNet-shaped model: each stage opens with a block that has no residual sum (a stride or a width
    change), the first block has no expansion, strided blocks pad first. One ``MBConv`` class for all six blocks
    (``if self.residual:``, ``self.expand`` and ``self.pad`` optional, each flag computed from the channels and
    stride as torchvision computes ``use_res_connect``), its squeeze-excitation a ``SqueezeExcite``
    held as ``self.se``; exact in float32 and float64, the form that keeps every value computes the same, the
    manifest maps every key to its Keras weight in both forms."""
    image = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem_conv")(image)
    for args in [(8, 4, 1, 1, "block1a"), (4, 6, 2, 3, "block2a"), (6, 6, 1, 3, "block2b"), (6, 8, 1, 3, "block3a"),
                 (8, 8, 1, 3, "block3b"), (8, 8, 1, 3, "block3c")]:
        x = _mbconv(x, *args)
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "mbconv.keras")
    source = conversion.source
    assert source.count("(nn.Module)") == 3 and "class MBConv(nn.Module)" in source and \
        "class SqueezeExcite(nn.Module)" in source
    assert source.count("MBConv(in_channels=") == 6 and "residual=" not in source and "expand=" not in source
    assert "self.residual = stride == 1 and in_channels == out_channels" in source  # as torchvision's
    assert "if self.residual:" in source and "self.se = SqueezeExcite(" in source
    assert "self.pad = nn.ZeroPad2d((0, 1, 0, 1)) if stride != 1 else nn.Identity()" in source
    assert "if width != in_channels else nn.Identity()" in " ".join(source.split())
    module = conversion.build()
    assert {"stage1.0.expand.0.weight", "stage1.0.se.conv1.weight", "stage2.2.conv2.weight"} <= \
        set(module.state_dict())
    assert isinstance(module.block1a.expand, torch.nn.Identity)
    images = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 3, 16, 16)).astype("float32"))
    with torch.no_grad():
        assert torch.equal(module(images), conversion.build(keep_intermediates=True)(images))
    manifest_maps_every_key(conversion, model)
    manifest_maps_every_key(weights_port.convert(tmp_path / "mbconv.keras", flat=True), model)


def test_values_the_channels_kernel_and_stride_decide_are_computed_not_passed(tmp_path: Path) -> None:
    """EfficientNet's blocks at two kernel sizes: the depthwise convolution's padding (the kernel's half at stride
    1, none where Keras pads before a strided one), the pad's amounts (``correct_pad``) and the squeeze-excitation's
    width (a quarter of the block's input) follow from the other arguments on every instance, so they are computed
    in ``__init__`` as torchvision computes them and no instance passes them; the excitation's mean keeps its axes
    (one step for Keras's pooling and ``Reshape``). Exact in both precisions, every key mapped in the manifest."""
    image = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem_conv")(image)
    for args in [(8, 4, 1, 1, "block1a", 3), (4, 8, 2, 3, "block2a", 3), (8, 8, 1, 3, "block2b", 3),
                 (8, 12, 2, 3, "block3a", 5), (12, 12, 1, 3, "block3b", 5), (12, 16, 2, 3, "block4a", 3)]:
        x = _mbconv(x, *args)
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "kernels.keras")
    source = conversion.source
    assert "def __init__(self, *, in_channels: int, width: int, kernel_size: int, out_channels: int, stride: int = " \
        "1) -> None:" in source
    assert "padding = kernel_size // 2 if stride == 1 else 0" in source and "padding=padding" in source
    assert "self.pad = nn.ZeroPad2d((kernel_size // 2 - 1, kernel_size // 2) * 2) if stride != 1 else " \
        "nn.Identity()" in source
    assert "self.se = SqueezeExcite(in_channels=width, width=in_channels // 4)" in source
    assert "y = x.mean(dim=(2, 3), keepdim=True)" in source and "None, None]" not in source
    assert "MBConv(in_channels=8, width=24, kernel_size=3, out_channels=8)" in source
    assert "MBConv(in_channels=8, width=24, kernel_size=5, out_channels=12, stride=2)" in source
    assert "pad=" not in source and "padding=2" not in source
    module = conversion.build()
    assert tuple(module.stage2[0].pad.padding) == (1, 2, 1, 2) and module.stage2[1].conv1.padding == (2, 2)
    assert module.stage2[0].se.conv1.out_channels == 2
    manifest_maps_every_key(conversion, model)


def test_a_value_no_rule_gives_on_every_instance_stays_a_parameter() -> None:
    """A padding that is the kernel's half on two instances but not on the third is passed, not computed; a ratio
    read by several modules (a bottleneck's width) stays a parameter too, so ``__init__`` keeps reading one name."""
    conv = (Global(("nn", "Conv2d")), (Name("width"), Name("width")), (("kernel_size", Name("kernel_size")),
                                                                        ("padding", Name("padding"))))
    block = BlockClass("Block", ("in_channels", "width", "kernel_size", "padding", "stride"), (("conv1", *conv),),
                       (), "x", "y")

    def instance(width: int, kernel: int, padding: int, stride: int) -> dict[str, Expr]:
        return {"in_channels": Const(4 * width), "width": Const(width), "kernel_size": Const(kernel),
                "padding": Const(padding), "stride": Const(stride)}

    fitting = [instance(2, 3, 1, 1), instance(3, 5, 2, 1), instance(4, 3, 0, 2)]
    derived = _derived_values(block, fitting)
    assert derived.parameters == ("in_channels", "width", "kernel_size", "stride")  # width is read twice
    assert derived.computed == (("padding", IfExp(Compare("==", Name("stride"), Const(1)),
                                                  BinOp("//", Name("kernel_size"), Const(2)), Const(0))),)
    assert _derived_values(block, [*fitting[:2], instance(4, 3, 2, 1)]) == block
    scale = BlockClass("Block", ("in_channels", "shape"), (("scale", Global(("LayerScale",)), (Name("shape"),), ()),),
                       (), "x", "y")
    shapes = [{"in_channels": Const(c), "shape": Const((1, c, 1, 1))} for c in (8, 16, 32)]
    assert _derived_values(scale, shapes).modules[0][2] == (Seq((Const(1), Name("in_channels"), Const(1),
                                                                 Const(1))),)  # ConvNeXt's (1, in_channels, 1, 1)


def test_a_block_that_downsamples_at_the_end_of_its_stage_closes_it(tmp_path: Path) -> None:
    """ResNetV2 downsamples in a stage's last block (its shortcut a strided 1×1 max-pool): that block ends its
    ``nn.Sequential`` stage instead of standing alone; a block opening with a normalisation names its input
    ``in_channels``."""
    def block(x: Any, width: int, stride: int, name: str) -> Any:
        y = L.Activation("relu", name=f"{name}_preact_relu")(L.BatchNormalization(name=f"{name}_preact_bn")(x))
        y = L.Conv2D(width, 1, activation="relu", name=f"{name}_1_conv")(y)
        y = L.ZeroPadding2D(1, name=f"{name}_2_pad")(y)  # as keras.applications.ResNet50V2 pads every block
        y = L.Conv2D(width, 3, strides=stride, activation="relu", name=f"{name}_2_conv")(y)
        y = L.Conv2D(x.shape[-1], 1, name=f"{name}_3_conv")(y)
        shortcut = L.MaxPooling2D(1, strides=stride, name=f"{name}_pool")(x) if stride > 1 else x
        return L.Add(name=f"{name}_out")([shortcut, y])

    image = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem")(image)
    x = block(block(block(x, 2, 1, "a1"), 2, 1, "a2"), 2, 2, "a3")
    x = L.Conv2D(12, 1, name="widen")(x)
    x = block(block(x, 3, 1, "b1"), 3, 2, "b2")
    model = keras.Model(image, L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    source = converted_exactly(model, tmp_path / "preact.keras").source
    stage1 = source.split("self.stage1 = nn.Sequential(", 1)[1].split(")\n", 1)[0]
    assert stage1.count("Bottleneck(") == 3 and stage1.rstrip().endswith("stride=2),")
    assert "self.downsample = nn.MaxPool2d(1, stride=stride) if stride != 1 else nn.Identity()" in source
    assert "self.stage2 = nn.Sequential(" in source and source.count("(nn.Module)") == 2
    assert "in_channels: int" in source and "num_features" not in source
    assert "F.pad(" not in source and "padding=1" in source  # each block's pad is its 3×3's padding


def test_a_strided_same_convolution_s_pad_is_an_optional_part_of_the_one_block_class(tmp_path: Path) -> None:
    """The CIFAR ResNet as Keras users write it (``padding="same"`` everywhere, a strided 3×3 opening each new
    stage, a 1×1 projection shortcut there, Keras's own names): TensorFlow pads a strided 'same' convolution on
    the far side only, a pad PyTorch's ``padding=`` cannot say. Still one ``ResidualBlock`` class, as
    torchvision's ``BasicBlock``: the pad is ``self.pad`` where the block strides, the projection
    ``self.downsample``; exact in float32 and float64, every state key mapped to its Keras weight."""
    def block(x: Any, width: int, stride: int) -> Any:
        y = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(width, 3, strides=stride, padding="same")(x)))
        y = L.BatchNormalization()(L.Conv2D(width, 3, padding="same")(y))
        shortcut = L.Conv2D(width, 1, strides=stride)(x) if stride != 1 or x.shape[-1] != width else x
        return L.Activation("relu")(L.Add()([shortcut, y]))

    image = keras.Input((16, 16, 3))
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(image)))
    for width, stride in ((4, 1), (8, 2), (12, 2)):
        x = block(block(x, width, stride), width, 1)
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "resnet.keras")
    source = conversion.source
    assert source.count("(nn.Module)") == 2 and "class ResidualBlock(nn.Module)" in source
    assert "self.pad = nn.ZeroPad2d((0, 1, 0, 1)) if stride != 1 else nn.Identity()" in source
    assert "padding = 1 if stride == 1 else 0" in source and "F.pad(" not in source
    assert "ResidualBlock(in_channels=4, out_channels=8, stride=2)" in source
    assert "stage3.0.downsample.weight" in conversion.build().state_dict()
    manifest_maps_every_key(conversion, model)


def test_a_flag_no_rule_of_channels_and_stride_gives_stays_a_parameter() -> None:
    """A block flag is computed in ``__init__`` only where one rule gives every instance's value; a model that
    skips the sum on a block whose shapes allow it (Keras's ``id_skip=False``) keeps ``residual`` a parameter."""
    block = BlockClass("Block", ("in_channels", "out_channels", "stride", "residual"), (), (), "x", "y",
                       (("stride", Const(1)), ("residual", Const(False))), residual="residual")
    def instance(channels: tuple[int, int], stride: int, residual: bool) -> dict[str, Expr]:
        return {"in_channels": Const(channels[0]), "out_channels": Const(channels[1]), "stride": Const(stride),
                "residual": Const(residual)}

    derived = _derived_flags(block, [instance((4, 8), 2, False), instance((8, 8), 1, True)])
    assert derived.parameters == ("in_channels", "out_channels", "stride") and \
        derived.derived == (("residual", BoolOp("and", (Compare("==", Name("stride"), Const(1)),
                                                       Compare("==", Name("in_channels"), Name("out_channels"))))),)
    kept = _derived_flags(block, [instance((4, 8), 2, False), instance((8, 8), 1, True), instance((8, 8), 1, False)])
    assert kept == block


def test_a_block_without_the_activation_its_kind_opens_with_joins_the_class(tmp_path: Path) -> None:
    """Xception's entry flow: the first block follows the stem's relu, so Keras leaves out its own; it is the same
    class with ``self.act`` an ``nn.Identity()`` (``start_with_relu=False``, as timm's Xception blocks), in one stage
    with the blocks that open with a relu. A residual whose shortcut is computed is a ``ProjectionBlock``; a block
    held alone is named after its Keras layers even where its shortcut's layers kept Keras's counters."""
    def block(x: Any, filters: int, name: str, relu: bool = True) -> Any:
        shortcut = L.BatchNormalization()(L.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x))
        y = L.Activation("relu", name=f"{name}_sepconv1_act")(x) if relu else x
        y = L.BatchNormalization(name=f"{name}_sepconv1_bn")(L.SeparableConv2D(filters, 3, padding="same",
                                                                               name=f"{name}_sepconv1")(y))
        y = L.Activation("relu", name=f"{name}_sepconv2_act")(y)
        y = L.BatchNormalization(name=f"{name}_sepconv2_bn")(L.SeparableConv2D(filters, 3, padding="same",
                                                                               name=f"{name}_sepconv2")(y))
        y = L.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(y)
        return L.Add()([y, shortcut])

    image = keras.Input((35, 35, 3))  # odd sizes before every pool: TensorFlow pads them symmetrically, as at 71 px
    x = L.Activation("relu", name="stem_act")(L.Conv2D(4, 3, name="stem")(image))
    x = block(block(block(x, 6, "block2", relu=False), 8, "block3"), 8, "block4")
    x = L.Activation("relu", name="top_act")(L.Conv2D(6, 1, name="top")(L.Concatenate()([x, x])))
    x = block(x, 10, "block13")
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "entry.keras")
    source = conversion.source
    assert "class ProjectionBlock(nn.Module)" in source and source.count("(nn.Module)") == 3
    assert "self.act = nn.ReLU() if start_with_relu else nn.Identity()" in source
    assert "ProjectionBlock(in_channels=4, out_channels=6, start_with_relu=False)" in source
    assert "self.block13 = ProjectionBlock(" in source
    module = conversion.build()
    assert len(module.blocks) == 3 and isinstance(module.blocks[0].act, torch.nn.Identity)
    manifest_maps_every_key(conversion, model)


def test_a_squeeze_excitation_outside_the_blocks_is_an_instance_of_their_class(tmp_path: Path) -> None:
    """MobileNetV3's first block computes a squeeze-excitation the later blocks hold too: with the same structure
    it is one more ``SqueezeExcite`` instance, an attribute named after its Keras layers, not ten inline steps."""
    image = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem_conv")(image)
    gate = L.Reshape((1, 1, 8), name="stem_se_reshape")(L.GlobalAveragePooling2D(name="stem_se_squeeze")(x))
    gate = L.Conv2D(2, 1, activation="swish", name="stem_se_reduce")(gate)
    x = L.Multiply(name="stem_se_excite")([x, L.Conv2D(8, 1, activation="sigmoid", name="stem_se_expand")(gate)])
    for args in [(8, 8, 1, 2, "block1a"), (8, 8, 1, 3, "block1b")]:
        x = _mbconv(x, *args)
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "lone_se.keras")
    source = conversion.source
    assert "self.stem_se = SqueezeExcite(in_channels=8)" in source and "x = self.stem_se(x)" in source
    assert "stem_se.conv1.weight" in conversion.build().state_dict()
    manifest_maps_every_key(conversion, model)


def test_a_block_class_is_named_by_the_layers_keras_did_not_name_itself(tmp_path: Path) -> None:
    """Inception-ResNet names one layer per block (``block35_1_conv``) and leaves its branches to Keras's counters
    (``conv2d_12``): the class is ``Block35`` (timm's name), the counters do not hide the prefix."""
    def block(x: Any, index: int) -> Any:
        branch = L.Conv2D(4, 3, padding="same", activation="relu")(L.Conv2D(4, 1, activation="relu")(x))
        mixed = L.Concatenate(name=f"block35_{index}_mixed")([L.Conv2D(4, 1, activation="relu")(x), branch])
        return L.Add(name=f"block35_{index}")([x, L.Conv2D(6, 1, name=f"block35_{index}_conv")(mixed)])

    image = keras.Input((8, 8, 3))
    x = L.Conv2D(6, 3, padding="same", name="stem")(image)
    x = block(block(block(x, 1), 2), 3)
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    source = converted_exactly(model, tmp_path / "block35.keras").source
    assert "class Block35(nn.Module)" in source and "*(Block35() for _ in range(3))" in source
    assert "class Block35Model(nn.Module)" in source  # named after block35.keras, yielding the name to its blocks


def test_a_transformer_layer_is_one_block_of_both_its_residuals(tmp_path: Path) -> None:
    """A pre-norm transformer encoder: the attention's residual and the MLP's always follow each other, so each
    layer is one class holding both, named by its structure as torchvision names it (``EncoderBlock``), the layers
    one ``nn.Sequential`` named ``blocks`` (timm's name where a model has one stage); exact in float32 and
    float64."""
    def encoder(x: Any, i: int, width: int) -> Any:
        y = L.LayerNormalization(epsilon=1e-6, name=f"encoder_{i}_ln1")(x)
        y = L.MultiHeadAttention(2, 4, name=f"encoder_{i}_mha")(y, y)
        x = L.Add(name=f"encoder_{i}_add1")([x, L.Dropout(0.1)(y)])
        y = L.Dense(width, activation="gelu", name=f"encoder_{i}_fc1")(L.LayerNormalization(epsilon=1e-6)(x))
        return L.Add(name=f"encoder_{i}_add2")([x, L.Dense(8, name=f"encoder_{i}_fc2")(y)])

    tokens = keras.Input((6,), dtype="int32")
    x = L.Embedding(20, 8, name="embed")(tokens)
    for i, width in enumerate((16, 16, 24)):
        x = encoder(x, i, width)
    model = keras.Model(tokens, L.Dense(3, name="classifier")(L.GlobalAveragePooling1D()(x)))
    conversion = converted_exactly(model, tmp_path / "encoder.keras")
    source = conversion.source
    assert source.count("(nn.Module)") == 3 and "class EncoderBlock(nn.Module)" in source  # attention, layer, model
    assert "class Encoder(nn.Module)" in source  # the model, named after encoder.keras
    assert "self.blocks = nn.Sequential(" in source and source.count("EncoderBlock(") == 4
    layer = source.split("class EncoderBlock(nn.Module)")[1].split("\nclass ")[0]
    assert layer.count(" = x + y") + layer.count("return x + y") == 2 and "self.attn = MultiHeadAttention(" in layer
    assert "blocks.2.fc1.weight" in conversion.build().state_dict()
    manifest_maps_every_key(conversion, model)


def test_a_conv1d_feed_forward_transformer_keeps_one_layout_and_one_layer_class(tmp_path: Path) -> None:
    """Keras's time-series transformer example: post-norm attention, then a feed-forward of two 1-wide Conv1D.
    The residual stream stays in Keras's (N, steps, features) layout, the convolutions transposing in and out, so
    the first layer (fed by the model's input) is the same class as the rest: four ``EncoderBlock``s, the feed-
    forward's kernel-1 convolutions counted as its MLP; exact in float32 and float64."""
    def encoder(inputs: Any) -> Any:
        x = L.MultiHeadAttention(key_dim=8, num_heads=2, dropout=0.25)(inputs, inputs)
        x = L.LayerNormalization(epsilon=1e-6)(L.Dropout(0.25)(x))
        res = x + inputs
        x = L.Conv1D(filters=4, kernel_size=1, activation="relu")(res)
        x = L.Conv1D(filters=inputs.shape[-1], kernel_size=1)(L.Dropout(0.25)(x))
        return L.LayerNormalization(epsilon=1e-6)(x) + res

    inputs = keras.Input((12, 3))
    x = inputs
    for _ in range(4):
        x = encoder(x)
    x = L.GlobalAveragePooling1D(data_format="channels_first")(x)
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(L.Dense(8, activation="relu")(x)))
    conversion = converted_exactly(model, tmp_path / "timeseries.keras")
    source = conversion.source
    assert "self.blocks = nn.Sequential(*(EncoderBlock() for _ in range(4)))" in source
    features = source.split("def forward_features")[1].split("def forward_head")[0]
    assert "self.attn" not in features and "movedim" not in features.split("self.blocks")[0]
    layer = source.split("class EncoderBlock(nn.Module)")[1].split("\nclass ")[0]
    assert layer.count("movedim") == 2 and "self.attn(x, x)" in layer  # into the convolutions and out
    manifest_maps_every_key(conversion, model)


def test_a_chain_after_every_residual_joins_its_block(tmp_path: Path) -> None:
    """Keras's ConvMixer example: a depthwise convolution's residual, then a pointwise convolution, eight times.
    Every residual is followed by the same chain up to the next, so the layer is the residual and its chain, one
    ``ConvMixerBlock`` (not an ``InvertedResidual``: nothing projects before the sum) in ``self.blocks`` after
    the stem, as timm writes it; exact in float32 and float64."""
    def activation(x: Any) -> Any:
        return L.BatchNormalization()(L.Activation("gelu")(x))

    inputs = keras.Input((16, 16, 3))
    x = activation(L.Conv2D(8, kernel_size=2, strides=2)(L.Rescaling(1.0 / 255)(inputs)))
    for _ in range(3):
        x = L.Add()([activation(L.DepthwiseConv2D(kernel_size=3, padding="same")(x)), x])
        x = activation(L.Conv2D(8, kernel_size=1)(x))
    model = keras.Model(inputs, L.Dense(4, activation="softmax")(L.GlobalAvgPool2D()(x)))
    conversion = converted_exactly(model, tmp_path / "convmixer.keras")
    source = conversion.source
    assert "self.blocks = nn.Sequential(*(ConvMixerBlock() for _ in range(3)))" in source
    assert "InvertedResidual" not in source and source.count("(nn.Module)") == 2
    layer = source.split("class ConvMixerBlock(nn.Module)")[1].split("\nclass ")[0]
    assert layer.index("y + x") < layer.index("self.conv2(x)")
    manifest_maps_every_key(conversion, model)


def test_nasnet_cells_of_two_inputs_are_classes_called_with_both(tmp_path: Path) -> None:
    """A NASNet built by Keras's own cell functions: each cell reads the last two cells' outputs, so no single
    tensor flows between cells and Keras's layer order interleaves them. Cells of one structure are one class
    with ``forward(self, x, p)`` (the last cell's output, then the one before), holding its separable units as
    submodules named as Keras names them in every cell (``left1``); the first normal cell after a reduction (it
    reduces ``p``) is its own class, ``FirstNormalCell``, as in timm. Exact in float32 and float64."""
    from keras.src.applications import nasnet

    image = keras.Input((32, 32, 3))
    x = L.BatchNormalization(name="stem_bn1")(L.Conv2D(8, 3, strides=2, use_bias=False, name="stem_conv1")(image))
    x, p = nasnet._reduction_a_cell(x, None, 4, block_id="stem_1")
    for i in range(2):
        x, p = nasnet._normal_a_cell(x, p, 8, block_id=f"{i}")
    x, p = nasnet._reduction_a_cell(x, p, 16, block_id="reduce_2")
    for i in range(3, 5):
        x, p = nasnet._normal_a_cell(x, p, 16, block_id=f"{i}")
    x = L.GlobalAveragePooling2D()(L.Activation("relu")(x))
    model = keras.Model(image, L.Dense(3, activation="softmax", name="predictions")(x))
    conversion = converted_exactly(model, tmp_path / "nasnet.keras")
    source = conversion.source
    assert "class NormalCell(nn.Module)" in source and "class FirstNormalCell(nn.Module)" in source
    assert source.count("def forward(self, x: torch.Tensor, p: torch.Tensor)") == 2
    assert "self.cell_1 = NormalCell(" in source and "self.cell_3 = FirstNormalCell(" in source
    cell = source.split("class NormalCell(nn.Module)")[1].split("\nclass ")[0]
    assert "self.left1 = SeparableConvBlock" in cell and "normal" not in cell.split("def forward")[1]
    features = source.split("def forward_features")[1].split("def forward_head")[0]
    assert "= self.cell_4(" in features and "self.normal_" not in features
    assert "cell_4.left1.sepconv1.depthwise.weight" in conversion.state_dict
    manifest_maps_every_key(conversion, model)


def test_a_post_norm_transformer_layer_holds_the_norms_after_its_sums(tmp_path: Path) -> None:
    """BERT's layers normalise after each residual sum (``LayerNorm(x + attention(x))``): each LayerNorm goes
    with the sum it follows, so the layer is again one class, ending in its second norm. It is an
    ``EncoderBlock`` by its structure: Keras's names (``layer_0_attention``) would make it ``Layer``."""
    def layer(x: Any, i: int) -> Any:
        y = L.MultiHeadAttention(2, 4, name=f"layer_{i}_attention")(x, x)
        x = L.LayerNormalization(name=f"layer_{i}_attention_norm")(L.Add()([x, y]))
        y = L.Dense(8, name=f"layer_{i}_ffn_out")(L.Dense(16, activation="gelu", name=f"layer_{i}_ffn_in")(x))
        return L.LayerNormalization(name=f"layer_{i}_ffn_norm")(L.Add()([x, y]))

    tokens = keras.Input((6,), dtype="int32")
    x = L.LayerNormalization(name="embeddings_norm")(L.Embedding(20, 8, name="embed")(tokens))
    for i in range(3):
        x = layer(x, i)
    model = keras.Model(tokens, L.Dense(2, name="classifier")(L.GlobalAveragePooling1D()(x)))
    conversion = converted_exactly(model, tmp_path / "bert.keras")
    source = conversion.source
    assert "self.blocks = nn.Sequential(*(EncoderBlock() for _ in range(3)))" in source
    assert "return self.norm2(x)" in source.split("class EncoderBlock(nn.Module)")[1].split("\nclass ")[0]
    manifest_maps_every_key(conversion, model)


def test_chains_one_keras_prefix_names_are_blocks_where_they_repeat(tmp_path: Path) -> None:
    """A U-Net: its double convolutions (``down0_conv1`` to ``down0_relu2``, ``dec1_…``) are chains, not residual
    blocks, yet each is one Keras-named unit that repeats: one ``ConvBlock`` class, each instance an attribute
    named after its prefix, the skips and up-convolutions in ``forward`` around them; exact."""
    def double(x: Any, filters: int, name: str) -> Any:
        for k in (1, 2):
            x = L.Conv2D(filters, 3, padding="same", name=f"{name}_conv{k}")(x)
            x = L.ReLU(name=f"{name}_relu{k}")(L.BatchNormalization(name=f"{name}_bn{k}")(x))
        return x

    image = keras.Input((16, 16, 3))
    skip = double(image, 4, "down0")
    x = double(L.MaxPooling2D(name="pool0")(skip), 8, "bottleneck")
    x = L.Concatenate(name="concat0")([L.Conv2DTranspose(4, 2, strides=2, name="up0")(x), skip])
    model = keras.Model(image, L.Conv2D(2, 1, name="mask")(double(x, 4, "dec0")))
    conversion = converted_exactly(model, tmp_path / "unet.keras")
    source = conversion.source
    assert "class ConvBlock(nn.Module)" in source and "self.down0 = ConvBlock(in_channels=3, out_channels=4)" in source
    assert "x = self.down0(x)" in source and "self.dec0 = ConvBlock(in_channels=8, out_channels=4)" in source
    assert "dec0.conv2.weight" in conversion.build().state_dict()
    manifest_maps_every_key(conversion, model)


def test_a_vgg_block_is_a_chain_block_even_where_each_convolution_carries_its_relu(tmp_path: Path) -> None:
    """VGG's blocks (``block1_conv1``, ``block1_conv2``, ``block1_pool``): a convolution with its own relu binds one
    local twice, which does not make its value read twice; blocks of two and of three convolutions are two classes,
    adjacent ones in stages."""
    image = keras.Input((16, 16, 3))
    x = image
    for block, (convs, filters) in enumerate([(2, 4), (2, 6), (3, 8), (3, 8)], start=1):
        for k in range(1, convs + 1):
            x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{block}_conv{k}")(x)
        x = L.MaxPooling2D(name=f"block{block}_pool")(x)
    model = keras.Model(image, L.Dense(3, name="predictions")(L.Flatten(name="flatten")(x)))
    source = converted_exactly(model, tmp_path / "vgg.keras").source
    assert "class ConvBlock(nn.Module)" in source and "class ConvBlock_2(nn.Module)" in source
    assert "self.stage2 = nn.Sequential(ConvBlock_2(in_channels=6), ConvBlock_2(in_channels=8))" in source


def test_units_keras_interleaves_across_branches_are_gathered_into_blocks(tmp_path: Path) -> None:
    """NASNet's cells: two branches, each a separable unit (relu, separable convolution, norm, twice) whose layers
    share a suffix (``separable_conv_1_normal_left1_0`` … ``separable_conv_2_bn_normal_left1_0``), Keras's order
    interleaving the two. Each unit's steps are gathered (each reads only the one before, so the order computes the
    same) into one ``SeparableConvBlock`` instance named after the suffix; two adjacent units reading different
    values are two attributes, never one ``nn.Sequential``; the 'same' padding is the kernel's half, computed in
    ``__init__``. Exact in both precisions, the form that keeps every value computes the same, every key mapped
    in the manifest."""
    def unit(x: Any, kernel: int, name: str) -> Any:
        y = L.Activation("relu")(x)
        y = L.SeparableConv2D(8, kernel, padding="same", use_bias=False, name=f"separable_conv_1_{name}")(y)
        y = L.Activation("relu")(L.BatchNormalization(name=f"separable_conv_1_bn_{name}")(y))
        y = L.SeparableConv2D(8, kernel, padding="same", use_bias=False, name=f"separable_conv_2_{name}")(y)
        return L.BatchNormalization(name=f"separable_conv_2_bn_{name}")(y)

    image = keras.Input((16, 16, 3))
    x = p = L.Conv2D(8, 3, padding="same", name="stem_conv")(image)
    for i in range(3):
        total = L.Add(name=f"normal_add_1_{i}")([unit(x, 5, f"normal_left1_{i}"), unit(p, 3, f"normal_right1_{i}")])
        x, p = L.Add(name=f"normal_add_2_{i}")([total, x]), x
    model = keras.Model(image, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "cells.keras")
    source = conversion.source
    assert "class SeparableConvBlock(nn.Module)" in source and "nn.Sequential" not in source
    assert "self.normal_left1_0 = SeparableConvBlock(kernel_size=5)" in source and \
        "padding = kernel_size // 2" in source
    assert "self.right1 = SeparableConvBlock(kernel_size=3)" in source  # the later cells: two-input classes
    assert "= self.cell_2(" in source and "F.pad(" not in source
    module = conversion.build()
    assert "cell_1.right1.sepconv2.pointwise.weight" in module.state_dict()
    images = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 3, 16, 16)).astype("float32"))
    with torch.no_grad():
        assert torch.equal(module(images), conversion.build(keep_intermediates=True)(images))
    manifest_maps_every_key(conversion, model)


def test_a_block_reads_branch_by_branch_its_attributes_numbered_so(tmp_path: Path) -> None:
    """Inception's blocks: Keras's order interleaves the branches (a 1×1 of one, then of the next, then the 3×3
    after the first); the block's ``forward`` writes each branch out before the next, as torchvision's
    ``InceptionA`` does, and numbers its modules in that order (``conv1`` … ``conv4`` as called). Exact in both
    precisions, every key mapped in the manifest."""
    def block(x: Any, width: int, name: str) -> Any:
        left = L.Conv2D(width, 1, activation="relu", name=f"{name}_left_1x1")(x)
        right = L.Conv2D(4, 1, activation="relu", name=f"{name}_right_1x1")(x)
        left = L.Conv2D(4, 3, padding="same", activation="relu", name=f"{name}_left_3x3")(left)
        pool = L.Conv2D(4, 1, name=f"{name}_pool_1x1")(L.AveragePooling2D(3, 1, "same", name=f"{name}_pool")(x))
        return L.Concatenate(name=f"{name}_concat")([left, right, pool])

    image = keras.Input((8, 8, 3))
    x = L.Conv2D(12, 3, padding="same", name="stem")(image)
    for i, width in enumerate((4, 6, 8)):
        x = block(x, width, f"mixed{i}")
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "inception.keras")
    source = conversion.source
    forward = source.split("class InceptionBlock(nn.Module)", 1)[1].split("def forward", 1)[1].split("\n\n", 1)[0]
    calls = [line.split("self.", 1)[1].split("(", 1)[0] for line in forward.splitlines() if "self." in line]
    assert calls == ["conv1", "conv2", "conv3", "conv4"], forward  # left 1×1, left 3×3, right 1×1, pool 1×1
    assert "self.conv2 = nn.Conv2d(width, 4, kernel_size=3, padding=1)" in source
    module = conversion.build()
    assert module.blocks[1].conv2.weight.shape == (4, 6, 3, 3)  # one stage: ``blocks``
    manifest_maps_every_key(conversion, model)


def test_units_a_numbered_keras_name_groups_are_blocks(tmp_path: Path) -> None:
    """MobileNet as keras.applications writes it: each unit is ``conv_dw_<i>`` (with ``_bn``, ``_relu``) then
    ``conv_pw_<i>`` (a strided one after ``conv_pad_<i>``), the prefix ``conv`` shared by every layer, the number
    telling the units apart. Each unit is a ``DepthwiseSeparable`` block (timm's name), a strided one opening a
    stage. The pooled classifier (pooling that keeps its axes, a 1×1 convolution with hard-swish, dropout, the
    logits' 1×1 convolution, ``Reshape``) is ``nn.Linear`` layers on the pooled features as torchvision's
    MobileNetV3 classifier, the last one ``self.head``, replaceable and trained with ``nn.CrossEntropyLoss``; the flat
    form keeps the convolutions, whose kernels are the structured ones with unit axes. Exact in both precisions,
    every key mapped in the manifest."""
    def unit(x: Any, filters: int, stride: int, i: int) -> Any:
        if stride == 2:
            x = L.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{i}")(x)
        x = L.DepthwiseConv2D(3, padding="same" if stride == 1 else "valid", strides=stride, use_bias=False,
                              name=f"conv_dw_{i}")(x)
        x = L.ReLU(6.0, name=f"conv_dw_{i}_relu")(L.BatchNormalization(name=f"conv_dw_{i}_bn")(x))
        x = L.Conv2D(filters, 1, use_bias=False, name=f"conv_pw_{i}")(x)
        return L.ReLU(6.0, name=f"conv_pw_{i}_relu")(L.BatchNormalization(name=f"conv_pw_{i}_bn")(x))

    image = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", name="conv1")(image)
    for i, (filters, stride) in enumerate([(8, 1), (12, 2), (12, 1), (16, 2), (16, 1), (16, 1)], start=1):
        x = unit(x, filters, stride, i)
    x = L.Activation("hard_swish")(L.Conv2D(12, 1, name="conv_2")(L.GlobalAveragePooling2D(keepdims=True)(x)))
    x = L.Conv2D(5, 1, name="conv_preds")(L.Dropout(0.2)(x))
    model = keras.Model(image, L.Activation("softmax")(L.Reshape((5,), name="reshape_2")(x)))
    conversion = converted_exactly(model, tmp_path / "mobilenet.keras")
    source = conversion.source
    assert "class DepthwiseSeparable(nn.Module)" in source and "class DepthwiseSeparable_2(nn.Module)" in source
    assert "self.conv_1 = DepthwiseSeparable(in_channels=8)" in source
    assert "DepthwiseSeparable_2(in_channels=12, out_channels=16)," in source and "x = self.stage2(x)" in source
    assert "the Keras model's conv_1 to conv_6 (4 instances)" in source
    assert "self.conv_2 = nn.Linear(16, 12)" in source and "self.head = nn.Linear(12, 5)" in source
    assert "return x.mean(dim=(2, 3))" in source and "movedim" not in source and "flatten" not in source
    manifest_maps_every_key(conversion, model)
    flat = weights_port.convert(tmp_path / "mobilenet.keras", flat=True)
    assert "self.conv_preds = nn.Conv2d(12, 5, kernel_size=1)" in flat.source
    assert np.array_equal(conversion.state_dict["head.weight"], flat.state_dict["conv_preds.weight"][:, :, 0, 0])
    module = conversion.build().train()
    module.head = torch.nn.Linear(12, 2)
    images = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (4, 3, 16, 16)).astype("float32"))
    loss = torch.nn.CrossEntropyLoss()(module.forward_head(module.forward_features(images)), torch.tensor([0, 1, 1, 0]))
    loss.backward()
    assert module.head.weight.grad is not None and module.conv_2.weight.grad is not None


def test_blocks_whose_widths_grow_by_a_step_are_written_as_one_loop(tmp_path: Path) -> None:
    """DenseNet's dense block: each layer concatenates its input with 4 new channels, so the layers' input widths
    are 8, 12, 16, 20: one ``DenseLayer`` class and one line, ``*(DenseLayer(in_channels=8 + 4 * i) for i in
    range(4))``, as torchvision's ``_DenseBlock`` builds its layers (state keys ``blocks.3.conv2.weight`` as
    before). Exact in both precisions, every key mapped in the manifest."""
    def layer(x: Any, name: str) -> Any:
        y = L.Activation("relu", name=f"{name}_0_relu")(L.BatchNormalization(name=f"{name}_0_bn")(x))
        y = L.Conv2D(8, 1, use_bias=False, name=f"{name}_1_conv")(y)
        y = L.Activation("relu", name=f"{name}_1_relu")(L.BatchNormalization(name=f"{name}_1_bn")(y))
        y = L.Conv2D(4, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
        return L.Concatenate(name=f"{name}_concat")([x, y])

    image = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem")(image)
    for i in range(1, 5):
        x = layer(x, f"conv2_block{i}")
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "dense.keras")
    assert "self.blocks = nn.Sequential(*(DenseLayer(in_channels=8 + 4 * i) for i in range(4)))" in conversion.source
    assert conversion.build().blocks[3].conv2.weight.shape == (4, 8, 3, 3)
    manifest_maps_every_key(conversion, model)


def test_nested_models_of_one_structure_are_one_class_with_parameters(tmp_path: Path) -> None:
    """Three nested Keras models one function builds at different widths (ConvNeXt's downsampling blocks): one
    ``Downsample`` class taking the widths as keywords, its modules named by what the models' names for them share
    (``norm_0``, ``norm_1`` → ``norm``); a nested model of another structure keeps a class of its own. State keys
    and the manifest follow, and the module computes what Keras computes."""
    def downsample(index: int, width: int, out: int) -> keras.Model:
        return keras.Sequential([keras.Input((None, None, width)), L.BatchNormalization(name=f"norm_{index}"),
                                 L.Conv2D(out, 2, strides=2, name=f"conv_{index}")], name=f"downsample_{index}")

    stem = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(4, 3, padding="same", name="stem_conv"),
                             L.ReLU(name="stem_relu")], name="stem")
    image = keras.Input((16, 16, 3))
    x = stem(image)
    for index, (width, out) in enumerate([(4, 6), (6, 8), (8, 10)]):
        x = downsample(index, width, out)(L.ReLU(name=f"relu_{index}")(x))
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "downsampling.keras")
    source = conversion.source
    assert source.count("class Downsample(nn.Module)") == 1 and "class Stem(nn.Module)" in source
    assert "self.downsample_0 = Downsample(in_channels=4, out_channels=6)" in source
    assert "self.downsample_2 = Downsample(in_channels=8, out_channels=10)" in source
    assert "self.norm = nn.BatchNorm2d(in_channels" in source and "self.conv = nn.Conv2d(in_channels, out_channels" \
        in source
    assert {"downsample_1.norm.running_mean", "downsample_2.conv.weight", "stem.conv.weight"} <= \
        set(conversion.state_dict)
    assert conversion.manifest["layers"]["downsample_1/conv_1"]["modules"] == ["downsample_1.conv"]
    manifest_maps_every_key(conversion, model)


def test_a_chain_narrowing_and_pooling_between_stages_is_a_transition(tmp_path: Path) -> None:
    """DenseNet's transitions (norm, relu, 1×1 convolution, average pool, named ``pool2_…`` to ``pool4_…``): one
    weighted module each, but with a norm and a pooling, and three of them, so one ``Transition`` class, as
    torchvision's ``_Transition``. Two such chains (a stem and a top) stay inline. Exact in both precisions."""
    def transition(x: Any, out: int, name: str) -> Any:
        y = L.Activation("relu", name=f"{name}_relu")(L.BatchNormalization(name=f"{name}_bn")(x))
        return L.AveragePooling2D(2, name=f"{name}_pool")(L.Conv2D(out, 1, use_bias=False, name=f"{name}_conv")(y))

    image = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, padding="same", name="stem")(image)
    for index, width in enumerate((6, 5, 4), start=2):
        x = transition(x, width, f"pool{index}")
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "transitions.keras")
    source = conversion.source
    assert source.count("class Transition(nn.Module)") == 1
    assert "Transition(in_channels=8, out_channels=6)" in source and "Transition(in_channels=5, out_channels=4)" \
        in source
    assert "self.pool = nn.AvgPool2d(2)" in source  # one of its kind: unnumbered, as torchvision's _Transition
    manifest_maps_every_key(conversion, model)

    x = L.Conv2D(8, 3, padding="same", name="stem")(image)
    for index, width in enumerate((6, 5), start=2):
        x = transition(x, width, f"pool{index}")
    twice = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    assert "Transition" not in converted_exactly(twice, tmp_path / "twice.keras").source


def test_units_a_sequential_repeats_are_blocks_and_its_head_replaceable(tmp_path: Path) -> None:
    """A Keras Sequential CNN with Keras's own layer names (``conv2d_3``, ``batch_normalization_3``): the unit it
    repeats at growing widths (convolution, norm, relu, twice, then pool and dropout) is one ``ConvBlock`` class in
    ``self.blocks``, its head a replaceable ``nn.Linear`` with the softmax applied in ``forward``; the modules outside
    blocks are named by kind (``fc``, ``drop``), not by Keras's counters. Units whose kernel sizes differ (Inception's
    stem: a 3×3 unit, then a 1×1 one) are no block. Exact in both precisions; the head trains a step."""
    def unit(width: int, kernel: int = 3) -> list[Any]:
        return [L.Conv2D(width, kernel, padding="same"), L.BatchNormalization(), L.ReLU(),
                L.Conv2D(width, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(), L.Dropout(0.2)]

    model = keras.Sequential([keras.Input((16, 16, 3)), *unit(4), *unit(6), *unit(8), L.Flatten(),
                              L.Dense(12, activation="relu"), L.Dropout(0.5), L.Dense(3, activation="softmax")])
    conversion = converted_exactly(model, tmp_path / "cnn.keras")
    source = conversion.source
    assert source.count("class ConvBlock(nn.Module)") == 1
    assert "ConvBlock(in_channels=3, out_channels=4)" in source and "ConvBlock(in_channels=6, out_channels=8)" in source
    assert "self.fc = nn.Linear(32, 12)" in source and "self.drop = nn.Dropout(0.5)" in source
    model_class = source.split("class Cnn(nn.Module)", 1)[1]  # named after the file, not Keras's "sequential_3"
    assert "conv2d" not in model_class and "dropout" not in model_class
    assert "return F.softmax(x, dim=1)" in source.split("def forward(", 1)[1]
    manifest_maps_every_key(conversion, model)
    module = conversion.build()
    module.head = torch.nn.Linear(12, 5)
    images, labels = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 4, 2])
    loss = torch.nn.CrossEntropyLoss()(module.forward_head(module.forward_features(images)), labels)
    loss.backward()
    assert module.head.weight.grad is not None and module.blocks[0].conv1.weight.grad is not None

    stem = keras.Sequential([keras.Input((16, 16, 3)), *unit(4), *unit(6, kernel=1), L.Flatten(), L.Dense(3)])
    assert "ConvBlock" not in converted_exactly(stem, tmp_path / "stem.keras").source


def test_a_unit_recurring_between_branches_is_a_block_where_keras_named_nothing(tmp_path: Path) -> None:
    """A U-Net written with Keras's own layer names: the double convolution recurs seven times between pools, skips
    and upsamplings (no two back to back), so it is one ``ConvBlock`` class, its instances attributes numbered by
    kind (``conv_block1``), the transposed convolutions ``upconv1``. Exact in both precisions; a unit recurring
    only twice stays inline."""
    def double(x: Any, width: int) -> Any:
        return L.Conv2D(width, 3, padding="same", activation="relu")(L.Conv2D(width, 3, padding="same",
                                                                               activation="relu")(x))

    image = keras.Input((16, 16, 1))
    skips, x = [], image
    for width in (4, 6, 8):
        x = double(x, width)
        skips.append(x)
        x = L.MaxPooling2D()(x)
    x = double(x, 10)
    for width, skip in zip((8, 6, 4), reversed(skips), strict=True):
        x = double(L.Concatenate()([L.Conv2DTranspose(width, 2, strides=2)(x), skip]), width)
    model = keras.Model(image, L.Conv2D(1, 1, activation="sigmoid")(x))
    conversion = converted_exactly(model, tmp_path / "unet.keras")
    source = conversion.source
    assert source.count("class ConvBlock(nn.Module)") == 1 and source.count(" = ConvBlock(") == 7
    assert "self.conv_block1 = ConvBlock(in_channels=1, out_channels=4)" in source
    assert "self.conv_block5 = ConvBlock(in_channels=16, out_channels=8)" in source
    assert "self.upconv1 = nn.ConvTranspose2d(10, 8" in source
    assert "conv2d" not in source.split("class Unet(")[1].split("def __init__")[1]  # the docstring names Keras's
    manifest_maps_every_key(conversion, model)

    x = double(L.MaxPooling2D()(double(image, 4)), 6)
    twice = keras.Model(image, L.Conv2D(1, 1)(x))
    assert "ConvBlock" not in converted_exactly(twice, tmp_path / "twice.keras").source
