"""The check must catch real bugs and name the layer where they start (equivalence_tests._layerwise)."""

from __future__ import annotations

import pytest

import zoo._plugins
from equivalence_tests import check_architecture


@pytest.fixture(scope="module", autouse=True)
def mutants_registered():
    import mutants

    zoo._plugins.reset()
    zoo._plugins.host().add_plugin(mutants, zoo._plugins.PluginReport("mutants", "test-mutants", "0"))
    yield
    zoo._plugins.reset()


TEXT = {"vocab_size": 30, "embed_dim": 5, "maxlen": 7, "hidden": 4, "n_features": 2}


@pytest.mark.parametrize(("name", "config", "dtype", "expected"), [
    ("mutant_gru_gate_order", TEXT, "float32", "diverges at bigru (Keras) / gru (PyTorch)"),
    ("mutant_flatten_order", {"input_size": 16}, "float32", "diverges at dense (Keras) / classifier.1 (PyTorch)"),
    ("mutant_h_n_view", TEXT, "float32", "diverges between bigru / gru and dense (Keras) / head.0 (PyTorch)"),
    ("mutant_gelu", {"in_features": 6, "hidden": [5, 4], "num_classes": 3}, "float64",
     "diverges between hidden_0 / 0 and hidden_1 (Keras) / 2 (PyTorch): hidden_0's output matches before its "
     "activation"),
    ("mutant_bn_epsilon", {"input_size": 32, "alpha": 0.35, "num_classes": 3}, "float32",
     "diverges at bn_Conv1 (Keras) / stem.bn (PyTorch)"),
    ("mutant_resnet_bn_epsilon", {"input_size": 32, "num_classes": 3}, "float64",
     "diverges at conv1_bn (Keras) / stem.bn (PyTorch)"),
    ("mutant_symmetric_padding", {"input_size": 32, "alpha": 0.35, "num_classes": 3}, "float32",
     "diverges at Conv1 (Keras) / stem.conv (PyTorch)"),
])
def test_broken_builder_is_caught_at_the_right_layer(name: str, config: dict, dtype: str, expected: str) -> None:
    result = check_architecture(name, config, dtype, examples=2)
    assert not result.passed
    assert result.report is not None and result.report.startswith(f"{name}: {expected}"), result.report
    assert any(words in result.report for words in ("every earlier layer matches to", "first paired layer",
                                                     "the builder sets"))


def test_builder_settings_are_checked_not_silently_fixed() -> None:
    result = check_architecture("mutant_bn_epsilon", {"input_size": 32, "alpha": 0.35, "num_classes": 3})
    assert any("eps=1e-05, the Keras layer needs 0.001" in note for note in result.notes)


def test_correct_builders_pass_with_the_same_configs() -> None:
    for name, config in (("text_classifier", TEXT), ("cifar_cnn", {"input_size": 16}),
                         ("mobilenet_v2", {"input_size": 32, "alpha": 0.35, "num_classes": 3})):
        result = check_architecture(name, config, examples=2)
        assert result.passed and result.report is None and not result.notes, result.report


def test_an_activation_bug_is_placed_after_the_layer_whose_activation_differs() -> None:
    result = check_architecture("mutant_gelu", {"in_features": 6, "hidden": [5, 4], "num_classes": 3}, "float64")
    assert "the activation Keras fuses into hidden_0 ('relu')" in (result.report or ""), result.report


def test_a_training_only_setting_is_a_remark_not_a_divergence() -> None:
    result = check_architecture("mutant_bn_momentum", {"input_size": 32, "alpha": 0.35, "num_classes": 3}, examples=1)
    assert result.passed and result.report is None and not result.notes
    assert any("momentum=0.1 where Keras trains with 0.001" in remark for remark in result.remarks), result.remarks
