"""The replaceable head of a converted classifier (conversion._structure): ``forward_features``, ``forward_head``
with ``pre_logits``, ``self.head`` returning logits, and the output activation applied in ``forward``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import torch
from keras import layers as L

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


def _proven(model: keras.Model, path: Path) -> weights_port.Conversion:
    """Randomise, save, prove the conversion against Keras in float32 and float64, and return it."""
    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(path)
    check = check_conversion(path, keras_model=model)
    assert check.passed, (check.results, check.reports)
    return weights_port.convert(path)


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
    """A siamese twin: one ``Twin`` class, held once, called on each input (state-dict keys ``twin.*``); a nested
    backbone before a classifier head becomes ``self.backbone`` inside ``forward_features``. Both compute what Keras
    computes, and the form that keeps every value (for ``--check``'s report) reaches the twin's modules through it."""
    image = keras.Input((12, 12, 3))
    conv = L.Conv2D(4, 3, activation="relu", name="conv")(image)
    features = L.GlobalAveragePooling2D()(L.BatchNormalization(name="norm")(conv))
    twin = keras.Model(image, L.Dense(6, activation="relu", name="embed")(features), name="twin")
    left, right = keras.Input((12, 12, 3), name="left"), keras.Input((12, 12, 3), name="right")
    distance = L.Subtract()([twin(left), twin(right)])
    siamese = keras.Model([left, right], L.Dense(1, activation="sigmoid", name="score")(distance))
    conversion = _proven(siamese, tmp_path / "siamese.keras")
    source = conversion.source
    assert source.count("class Twin(nn.Module)") == 1 and source.count("self.twin = Twin()") == 1
    assert source.count("self.twin(") == 2
    module = conversion.build()
    assert {k.rsplit(".", 1)[0] for k in module.state_dict()} == {"twin.conv", "twin.norm", "twin.embed", "score"}
    assert conversion.manifest["layers"]["twin/conv"]["modules"] == ["twin.conv"]
    pair = [torch.from_numpy(np.random.default_rng(k).uniform(-1, 1, (2, 3, 12, 12)).astype("float32")) for k in (1, 2)]
    with torch.no_grad():
        assert torch.equal(module(*pair), conversion.build(keep_intermediates=True)(*pair))

    backbone = keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(4, 3), L.ReLU(), L.GlobalMaxPooling2D()],
                                name="backbone")
    x = keras.Input((12, 12, 3))
    classifier = keras.Model(x, L.Dense(5, activation="softmax")(backbone(x)))
    source = _proven(classifier, tmp_path / "classifier.keras").source
    assert "class Backbone(nn.Module)" in source and "x = self.backbone(x)" in source and "self.head" in source


def test_repeated_residual_blocks_become_one_class_in_stages(tmp_path: Path) -> None:
    """Five residual blocks of one structure at two widths, the first of each width with a projection shortcut:
    one ``Bottleneck`` class whose differing constructor arguments are keyword parameters and whose projection is
    ``self.downsample`` (``nn.Identity()`` unless ``downsample=True``, as torchvision's), instances in
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
    conversion = _proven(model, tmp_path / "blocks.keras")
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
    _manifest_maps_every_key_to_its_keras_weights(conversion, model)
    _manifest_maps_every_key_to_its_keras_weights(flat, model)


def _manifest_maps_every_key_to_its_keras_weights(conversion: weights_port.Conversion, model: keras.Model) -> None:
    """``manifest["state"]``: every state key names its Keras layer and the weight it holds (a layout change keeps
    the values: the same multiset), under the structured names (``stage1.1.conv1.weight``) as under the flat ones."""
    assert sorted(conversion.manifest["state"]) == sorted(conversion.state_dict)
    variables = {layer.name: {f"vars/{i}": np.asarray(w) for i, w in enumerate(layer.get_weights())}
                 for layer in model.layers}
    for key, origin in conversion.manifest["state"].items():
        assert origin["keras_weights"] is not None and len(origin["keras_weights"]) == 1, (key, origin)
        expected = variables[origin["keras_layer"]][origin["keras_weights"][0]]
        np.testing.assert_array_equal(np.sort(conversion.state_dict[key], axis=None), np.sort(expected, axis=None),
                                      err_msg=key)


def test_inputs_keep_their_names_until_their_branches_merge(tmp_path: Path) -> None:
    """A two-input model: each input's branch is written on the input's name; the value that joins them is neither
    input, so it starts a new one (``x``), and the inputs are released there."""
    query, context = keras.Input((6,), name="query"), keras.Input((6,), name="context")
    joined = L.Concatenate()([L.Dense(4, activation="relu")(query), L.Dense(4, activation="relu")(context)])
    conversion = _proven(keras.Model([query, context], L.Dense(2)(joined)), tmp_path / "two.keras")
    forward = conversion.source.split("def forward", 1)[1]
    assert "query = F.relu(query)" in forward and "context = F.relu(context)" in forward
    assert "x = torch.cat([query, context], dim=1)" in forward and "del query, context" in forward
    assert "query = torch.cat" not in forward


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
    source = _proven(model, tmp_path / "strides.keras").source
    assert source.count("(nn.Module)") == 2  # the block and the model
    assert "stride: int = 1" in source and "stride=2)" in source


def test_a_converted_resnet50_reads_like_torchvision_and_its_head_trains(tmp_path: Path) -> None:
    """keras.applications.ResNet50 converted: one ``Bottleneck`` class used 16 times in four stages, the projection
    of each stage's first block as ``downsample`` (``stage1.0.downsample.0.weight``), at most 120 source lines; it
    computes what Keras computes; its head replaced by a new ``nn.Linear`` trains one step with
    ``nn.CrossEntropyLoss`` with no edit of ``forward``."""
    model = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    conversion = _proven(model, tmp_path / "resnet50.keras")
    source = conversion.source
    assert len(source.splitlines()) <= 120 and source.count("(nn.Module)") == 2
    assert source.count("Bottleneck(in_channels=") == 16 and source.count("downsample=True)") == 4
    module = conversion.build()
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
