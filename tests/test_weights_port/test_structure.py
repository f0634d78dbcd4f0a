"""Structure of a converted model (conversion._structure): the replaceable head of a classifier
(``forward_features``, ``forward_head`` with ``pre_logits``, ``self.head`` returning logits, the output activation
applied in ``forward``), nested Keras models as submodules, inputs' names in ``forward``, ``--flat``."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import torch
from keras import layers as L
from porting import converted_exactly, manifest_maps_every_key

import weights_port
from equivalence_tests import check_conversion, randomise_keras_weights
from weights_port.tolerance import compare_arrays


def _classifier(tmp_path: Path) -> tuple[keras.Model, Path]:
    x = keras.Input((8, 8, 3))
    y = L.BatchNormalization()(L.Conv2D(6, 3, activation="relu", name="stem")(x))
    y = L.GlobalAveragePooling2D(name="pool")(L.Conv2D(5, 3, padding="same")(y))
    y = L.Dense(4, activation="relu", name="hidden")(L.Dropout(0.3)(y))
    model = keras.Model(x, L.Dense(3, activation="softmax", name="predictions")(y))
    randomise_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / "classifier.keras"
    model.save(path)
    return model, path


def test_a_classifier_gets_features_a_head_and_its_activation_outside(tmp_path: Path) -> None:
    model, path = _classifier(tmp_path)
    check = check_conversion(path, keras_model=model)
    assert check.passed, (check.results, check.reports)
    conversion = weights_port.convert(path)
    module = conversion.build()
    assert isinstance(module.head, torch.nn.Linear) and not hasattr(module, "predictions")
    assert conversion.manifest["head"]["keras_layer"] == "predictions"
    assert conversion.manifest["layers"]["predictions"]["modules"] == ["head"]
    assert {"head.weight", "head.bias"} <= set(module.state_dict())

    images = np.random.default_rng(1).uniform(-1, 1, (4, 8, 8, 3)).astype("float32")
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)(images)
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output)(images)
    dense = model.get_layer("predictions")
    logits = np.asarray(hidden) @ np.asarray(dense.kernel) + np.asarray(dense.bias)
    with torch.no_grad():
        features = module.forward_features(torch.from_numpy(images.transpose(0, 3, 1, 2)))
        assert compare_arrays(features.numpy(), np.asarray(pooled), "float32").passed
        assert compare_arrays(module.forward_head(features, pre_logits=True).numpy(), np.asarray(hidden),
                              "float32").passed
        assert compare_arrays(module.forward_head(features).numpy(), logits, "float32").passed

    module.head = torch.nn.Linear(4, 7)  # a new classifier, no edit of forward
    loss = torch.nn.CrossEntropyLoss()(module.forward_head(features), torch.tensor([0, 6, 2, 1]))
    loss.backward()
    assert module.head.weight.grad is not None
    with torch.no_grad():
        assert module(torch.from_numpy(images.transpose(0, 3, 1, 2))).shape == (4, 7)


def test_flat_keeps_one_forward_and_the_keras_names(tmp_path: Path) -> None:
    _, path = _classifier(tmp_path)
    conversion = weights_port.convert(path, flat=True)
    assert "forward_features" not in conversion.source and "self.predictions(" in conversion.source
    assert "head" not in conversion.manifest


def test_a_model_that_is_not_a_classifier_is_left_whole(tmp_path: Path) -> None:
    """Two outputs, or a last layer that is not a Dense: no head is invented."""
    x = keras.Input((6,))
    y = L.Dense(4)(x)
    keras.Model(x, [L.Dense(2, activation="softmax")(y), L.Dense(1)(y)]).save(tmp_path / "two.keras")
    keras.Model(x, L.Activation("tanh")(L.Dense(3)(x))).save(tmp_path / "tanh.keras")
    for name in ("two.keras", "tanh.keras"):
        conversion = weights_port.convert(tmp_path / name)
        assert "forward_head" not in conversion.source and "head" not in conversion.manifest


def test_a_nested_model_called_twice_is_one_submodule(tmp_path: Path) -> None:
    """A siamese twin: one ``Twin`` class, held once, called on each input (state-dict keys ``twin.*``, each module
    named without the words its Keras name shares with the model's: ``twin_conv`` is ``twin.conv``); a nested
    backbone before a classifier head becomes ``self.backbone`` inside ``forward_features``. Both compute what Keras
    computes, and the form that keeps every value (for ``--check``'s report) reaches the twin's modules through it."""
    image = keras.Input((12, 12, 3))
    conv = L.Conv2D(4, 3, activation="relu", name="twin_conv")(image)  # named after their model, as ConvNeXt's
    features = L.GlobalAveragePooling2D()(L.BatchNormalization(name="twin_norm")(conv))
    twin = keras.Model(image, L.Dense(6, activation="relu", name="twin_embed")(features), name="twin")
    left, right = keras.Input((12, 12, 3), name="left"), keras.Input((12, 12, 3), name="right")
    distance = L.Subtract()([twin(left), twin(right)])
    siamese = keras.Model([left, right], L.Dense(1, activation="sigmoid", name="score")(distance))
    conversion = converted_exactly(siamese, tmp_path / "siamese.keras")
    source = conversion.source
    assert source.count("class Twin(nn.Module)") == 1 and source.count("self.twin = Twin()") == 1
    assert source.count("self.twin(") == 2
    module = conversion.build()
    assert {k.rsplit(".", 1)[0] for k in module.state_dict()} == {"twin.conv", "twin.norm", "twin.embed", "score"}
    assert conversion.manifest["layers"]["twin/twin_conv"]["modules"] == ["twin.conv"]  # not twin.twin_conv
    pair = [torch.from_numpy(np.random.default_rng(k).uniform(-1, 1, (2, 3, 12, 12)).astype("float32")) for k in (1, 2)]
    with torch.no_grad():
        assert torch.equal(module(*pair), conversion.build(keep_intermediates=True)(*pair))

    backbone = keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(4, 3), L.ReLU(), L.GlobalMaxPooling2D()],
                                name="backbone")
    x = keras.Input((12, 12, 3))
    classifier = keras.Model(x, L.Dense(5, activation="softmax")(backbone(x)))
    source = converted_exactly(classifier, tmp_path / "classifier.keras").source
    assert "class Backbone(nn.Module)" in source and "return self.backbone(x)" in source and "self.head" in source


def test_inputs_keep_their_names_until_their_branches_merge(tmp_path: Path) -> None:
    """A two-input model: each input's branch is written on the input's name; the value that joins them is neither
    input, so it starts a new one (``x``), and the inputs are released there."""
    query, context = keras.Input((6,), name="query"), keras.Input((6,), name="context")
    joined = L.Concatenate()([L.Dense(4, activation="relu")(query), L.Dense(4, activation="relu")(context)])
    conversion = converted_exactly(keras.Model([query, context], L.Dense(2)(joined)), tmp_path / "two.keras")
    forward = conversion.source.split("def forward", 1)[1]
    assert "query = F.relu(query)" in forward and "context = F.relu(context)" in forward
    assert "x = torch.cat([query, context], dim=1)" in forward and "del query, context" in forward
    assert "query = torch.cat" not in forward


def test_a_symmetric_zero_pad_before_a_window_that_pads_nothing_is_its_padding(tmp_path: Path) -> None:
    """ResNet's stem as Keras writes it (a 3-pixel pad, a 'valid' 7×7 convolution, relu, a 1-pixel pad, a 'valid'
    max pool) reads as torchvision's: ``nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3)`` and
    ``nn.MaxPool2d(3, stride=2, padding=1)`` (the max pool only because relu leaves nothing negative for its −inf
    padding to differ from zeros on), an average pool counts the zeros as PyTorch's does. Left as pads: an uneven
    one, one before a max pool of values that may be negative, one read twice. Exact in both precisions; the flat
    form keeps every pad. Keras's ``conv1_conv`` and ``pool1_pool`` say the kind twice: ``conv1``, ``pool1``."""
    image = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 7, strides=2, name="conv1_conv")(L.ZeroPadding2D(3, name="conv1_pad")(image))
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(L.ZeroPadding2D(1, name="pool1_pad")(L.ReLU()(x)))
    x = L.AveragePooling2D(2, name="avg")(L.ZeroPadding2D(1, name="avg_pad")(x))
    x = L.Conv2D(4, 3, name="uneven_conv")(L.ZeroPadding2D(((0, 1), (0, 1)), name="uneven_pad")(x))
    x = L.MaxPooling2D(3, strides=1, name="signed_pool")(L.ZeroPadding2D(1, name="signed_pad")(x))
    twice = L.ZeroPadding2D(1, name="twice_pad")(x)
    x = L.Add()([L.Conv2D(4, 3, name="left")(twice), L.Conv2D(4, 3, name="right")(twice)])
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "stem.keras")
    source = conversion.source
    assert "self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3)" in source  # Keras's conv1_conv
    assert "self.pool1 = nn.MaxPool2d(3, stride=2, padding=1)" in source  # pool1_pool, as torchvision names them
    assert "self.uneven_conv = " in source  # a unit word that names no kind stays the user's
    assert "self.avg = nn.AvgPool2d(2, padding=1)" in source
    assert source.count("F.pad(") == 3 and "(0, 1, 0, 1)" in source  # uneven, signed and twice-read pads stay
    assert conversion.manifest["layers"]["conv1_pad"]["output"] is None
    flat = weights_port.convert(tmp_path / "stem.keras", flat=True)
    assert flat.source.count("F.pad(") == 6



def test_the_model_name_every_layer_begins_with_is_left_out_of_its_parts(tmp_path: Path) -> None:
    """keras.applications' ConvNeXt begins every layer's name with the model's (``convnext_tiny_stem``,
    ``convnext_tiny_head_dense``): the modules, the nested model and its class are named without it (``self.stem =
    Stem()``, ``self.norm``), as torchvision names a model's parts; the state keys and the manifest follow."""
    image = keras.Input((8, 8, 3))
    stem = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 2, strides=2, name="tiny_stem_conv")],
                            name="tiny_stem")
    x = L.GlobalAveragePooling2D(name="tiny_pool")(stem(image))
    x = L.LayerNormalization(name="tiny_norm")(x)
    model = keras.Model(image, L.Dense(3, name="tiny_head_dense")(x), name="tiny")
    conversion = converted_exactly(model, tmp_path / "tiny.keras")
    source = conversion.source
    assert "class Stem(nn.Module)" in source and "self.stem = Stem()" in source and "self.conv = nn.Conv2d" in source
    assert "self.norm = nn.LayerNorm" in source and "tiny_" not in source.split("class Tiny", 1)[1].split('"""', 2)[2]
    assert {"stem.conv.weight", "norm.weight", "head.weight"} <= set(conversion.state_dict)
    assert conversion.manifest["layers"]["tiny_norm"]["modules"] == ["norm"]
    assert conversion.manifest["names"]["attributes"]["norm"] == "tiny_norm"
    manifest_maps_every_key(conversion, model)


def test_modules_keras_named_by_counter_are_named_by_kind(tmp_path: Path) -> None:
    """A functional model whose layers kept Keras's session counters (``conv2d_7``, ``batch_normalization_7``): its
    own modules are named by kind in ``forward``'s order, numbered where the kind recurs (``conv1``, ``conv2``,
    ``bn``), as torchvision names a stem; a name the user gave (``stem_norm``) stays. The state keys and the manifest
    follow, and the module computes what Keras computes."""
    image = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same")(image)
    x = L.BatchNormalization(name="stem_norm")(x)
    x = L.Conv2D(5, 3, padding="same", activation="relu")(x)
    x = L.BatchNormalization()(x)
    model = keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x)))
    conversion = converted_exactly(model, tmp_path / "counters.keras")
    source = conversion.source
    assert "self.conv1 = nn.Conv2d(3, 4" in source and "self.conv2 = nn.Conv2d(4, 5" in source
    assert "self.stem_norm = nn.BatchNorm2d(4" in source and "self.bn = nn.BatchNorm2d(5" in source
    assert {"conv1.weight", "conv2.bias", "bn.running_var", "stem_norm.weight", "head.weight"} <= \
        set(conversion.state_dict)
    assert not any(key.startswith(("conv2d", "batch_normalization")) for key in conversion.state_dict)
    conv, norm = model.layers[1].name, model.layers[4].name  # Keras's counters: conv2d_7, batch_normalization_7
    assert conversion.manifest["layers"][conv]["modules"] == ["conv1"]
    assert conversion.manifest["names"]["attributes"]["bn"] == norm
    manifest_maps_every_key(conversion, model)


def test_a_nested_model_keras_named_is_a_backbone_named_by_kind_inside(tmp_path: Path) -> None:
    """A nested Sequential Keras named ``sequential_3``, its layers ``conv2d_5`` …: the class is ``Backbone``, held
    as ``self.backbone``, its modules named by kind (``conv1``, ``bn``, ``conv2``); exact, every key mapped."""
    backbone = keras.Sequential([keras.Input((10, 10, 3)), L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                                 L.Conv2D(5, 3, activation="relu"), L.GlobalAveragePooling2D()])
    image = keras.Input((10, 10, 3))
    model = keras.Model(image, L.Dense(3, activation="softmax")(backbone(image)))
    conversion = converted_exactly(model, tmp_path / "classifier.keras")
    source = conversion.source
    assert "class Backbone(nn.Module)" in source and "self.backbone = Backbone()" in source
    assert "self.conv1 = nn.Conv2d(3, 4" in source and "self.bn = nn.BatchNorm2d(4" in source and \
        "self.conv2 = nn.Conv2d(4, 5" in source
    assert {"backbone.conv1.weight", "backbone.bn.running_mean", "backbone.conv2.bias"} <= set(conversion.state_dict)
    manifest_maps_every_key(conversion, model)
