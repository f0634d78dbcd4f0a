"""zoo.training: Keras's optimizers, losses, regularizers and train-mode layers, proven against Keras.

One fast representative per mechanism runs here; ``nox -s training`` runs the hypothesis
sweep over every registered architecture, optimizer family, loss and regularizer.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import zoo
from equivalence_tests._train_check import _keras_loss_config, train_both
from zoo.architectures import keras_dtype_policy
from zoo.training import TrainingConfigError, keras_initialize, make_loss, make_optimizer

MLP = {"in_features": 5, "hidden": (4,), "num_classes": 3}
SCHEDULES = "keras.optimizers.schedules"


def _keras_apply(optimizer_config: dict, weights: np.ndarray, gradients: list[np.ndarray]) -> np.ndarray:
    import keras

    variable = keras.Variable(weights.copy(), dtype="float64")
    optimizer = keras.optimizers.deserialize(copy.deepcopy(optimizer_config))  # Keras edits the dict it is given
    for gradient in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(gradient)], [variable])
    return np.asarray(variable.numpy())


@pytest.mark.parametrize("optimizer", [
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.01, "clipvalue": 0.5}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01, "momentum": 0.5, "centered": True}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1, "clipnorm": 0.3}},
    {"class_name": "Adamax", "config": {"learning_rate": 0.01, "global_clipnorm": 0.5}},
    {"class_name": "Nadam", "config": {"learning_rate": {"module": SCHEDULES, "class_name": "CosineDecay", "config": {
        "initial_learning_rate": 0.01, "decay_steps": 3, "warmup_target": 0.02, "warmup_steps": 2}}}},
    {"class_name": "Adam", "config": {"learning_rate": {"module": SCHEDULES, "class_name": "PiecewiseConstantDecay", "config": {
        "boundaries": [1, 3], "values": [0.01, 0.005, 0.001]}}, "weight_decay": 0.01}},
], ids=lambda c: c["class_name"] + "-" + "-".join(k for k in c["config"] if k != "learning_rate"))
def test_each_optimizer_performs_keras_update_exactly_in_float64(optimizer: dict) -> None:

    rng = np.random.default_rng(0)
    weights = rng.normal(size=(3, 4))
    gradients = [rng.normal(size=(3, 4)) for _ in range(6)]
    with keras_dtype_policy("float64"):
        expected = _keras_apply(optimizer, weights, gradients)
    parameter = torch.nn.Parameter(torch.tensor(weights))
    ours = make_optimizer(optimizer, [parameter], floatx="float64")
    for gradient in gradients:
        parameter.grad = torch.tensor(gradient)
        ours.step()
    np.testing.assert_allclose(parameter.detach().numpy(), expected, rtol=0, atol=1e-15)


def test_plain_sgd_is_torch_sgd_and_unknown_settings_are_named() -> None:
    parameter = torch.nn.Parameter(torch.zeros(2))
    assert type(make_optimizer("sgd", [parameter])) is torch.optim.SGD
    with pytest.raises(TrainingConfigError, match="'Ftrl' is not reproduced"):
        make_optimizer({"class_name": "Ftrl", "config": {}}, [parameter])
    with pytest.raises(TrainingConfigError, match="use_ema"):
        make_optimizer({"class_name": "Adam", "config": {"use_ema": True}}, [parameter])
    with pytest.raises(TrainingConfigError, match="'Poly'"):
        make_optimizer({"class_name": "Adam", "config": {"learning_rate": {"class_name": "Poly", "config": {}}}},
                       [parameter])


@pytest.mark.parametrize("name, settings, y_true", [
    ("binary_crossentropy", {"label_smoothing": 0.1}, "binary"),
    ("binary_crossentropy", {"from_logits": True}, "binary"),
    ("categorical_crossentropy", {"label_smoothing": 0.2}, "onehot"),
    ("categorical_crossentropy", {"from_logits": True}, "onehot"),
    ("sparse_categorical_crossentropy", {}, "ids"),
    ("sparse_categorical_crossentropy", {"from_logits": True}, "ids"),
    ("mean_squared_error", {}, "real"), ("mean_absolute_error", {"reduction": "sum"}, "real"),
    ("huber", {"delta": 0.3}, "real"),
])
def test_each_loss_matches_keras_including_saturated_probabilities(name: str, settings: dict, y_true: str) -> None:
    import keras

    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (6, 3)).astype("float32")
    logits[0] = (40.0, -40.0, 0.0)  # saturated: Keras clips the probabilities at 1e-7
    probabilities = logits if settings.get("from_logits") or y_true == "real" else (
        1 / (1 + np.exp(-logits)) if y_true == "binary" else np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))
    target = {"binary": rng.integers(0, 2, (6, 3)).astype("float32"),
              "onehot": np.eye(3, dtype="float32")[rng.integers(0, 3, 6)],
              "ids": rng.integers(0, 3, 6), "real": rng.normal(size=(6, 3)).astype("float32")}[y_true]
    keras_loss = keras.losses.get(_keras_loss_config({"class_name": name, "config": settings}))
    expected = float(keras_loss(target, probabilities))
    got = float(make_loss({"class_name": name, "config": settings})(torch.from_numpy(probabilities),
                                                                      torch.from_numpy(target)))
    assert got == pytest.approx(expected, rel=1e-6)


def test_unsupported_losses_and_reductions_are_named() -> None:
    with pytest.raises(TrainingConfigError, match="'kl_divergence' is not reproduced"):
        make_loss("kl_divergence")
    with pytest.raises(TrainingConfigError, match="reduction 'none'"):
        make_loss({"class_name": "MeanSquaredError", "config": {"reduction": "none"}})


@pytest.mark.sweep  # 30 s; the default run's representative is test_lightning's converted BatchNorm model
def test_training_steps_agree_in_float64_with_batchnorm_regularizers_and_a_schedule() -> None:
    """MobileNetV2 trains every BatchNorm in training mode; kernel L2 joins the loss; the rate decays."""
    report = train_both("mobilenet_v2", {"input_size": 32, "num_classes": 3, "alpha": 0.35}, "float64",
                        {"class_name": "SGD", "config": {"momentum": 0.9, "learning_rate": {
                            "module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
                            "config": {"initial_learning_rate": 0.005, "decay_steps": 1, "decay_rate": 0.5}}}},
                        "mean_squared_error", steps=2,
                        regularizers={"kernel": {"class_name": "L2", "config": {"l2": 0.01}}})
    assert report.ok, report.problem
    assert report.worst < 1e-10 and len(report.losses) == 2


@pytest.mark.parametrize("file_format", [".keras", pytest.param(".h5", marks=pytest.mark.sweep)])
def test_resume_from_a_saved_optimizer_state(file_format: str) -> None:
    """Trained two steps in Keras, saved with its optimizer, ported; three more steps end alike."""
    report = train_both("text_classifier", {"vocab_size": 10, "embed_dim": 3, "maxlen": 5, "hidden": 2,
                                            "n_features": 2, "dense_units": 3}, "float64",
                        {"class_name": "Adam", "config": {"learning_rate": 0.01}}, "binary_crossentropy",
                        steps=3, resume_steps=2, file_format=file_format, sync=False)  # state carries over
    assert report.ok, report.problem


@pytest.mark.parametrize("name, config, loss", [
    ("cifar_cnn", {"input_size": 8, "in_channels": 2, "num_classes": 3}, "sparse_categorical_crossentropy"),
    ("text_classifier", {"vocab_size": 5, "embed_dim": 2, "maxlen": 4, "hidden": 2, "n_features": 1,
                         "dense_units": 2}, "binary_crossentropy"),  # token ids reach the float64 twins as integers
])
def test_float32_training_stays_within_the_stated_bound(name: str, config: dict, loss: str) -> None:
    report = train_both(name, config, "float32", {"class_name": "Adam", "config": {"learning_rate": 0.01}}, loss,
                        steps=2)
    assert report.ok, report.problem


def test_a_plain_torch_adam_is_caught_and_the_term_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap Keras's Adam for torch.optim.Adam (ε inside the correction, 1e-8): the report must say where."""
    from zoo.training import _setup

    def torch_adam(config, params, floatx="float32"):  # the classic migration mistake
        return torch.optim.Adam(params, lr=0.01)

    monkeypatch.setattr(_setup, "make_optimizer", torch_adam)
    report = train_both("mlp", MLP, "float64", {"class_name": "Adam", "config": {"learning_rate": 0.01}},
                        "sparse_categorical_crossentropy", steps=2)
    assert not report.ok
    assert "step 1: '0.weight' differs" in (report.problem or "")
    assert "update rule" in (report.problem or "")


def test_training_setup_from_configs_without_a_file() -> None:
    torch.manual_seed(0)
    model = zoo.get("mlp", backend="torch", dtype="float64", **MLP)
    setup = zoo.training_setup(model, optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [p.detach().clone() for p in model.parameters()]
    loss = setup.step(torch.rand(4, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 0]))
    moved = [float((a - b).abs().max()) for a, b in zip(before, model.parameters(), strict=True)]
    assert np.isfinite(loss) and setup.optimizer.iterations == 1  # type: ignore[attr-defined]
    assert max(moved) == pytest.approx(1e-3, rel=1e-3)  # Adam's first step is η·sign(g) where |g| ≫ ε
    with pytest.raises(TrainingConfigError, match="no loss given"):
        zoo.training_setup(model, optimizer="adam")


def test_keras_initializers_draw_keras_distributions() -> None:
    import keras

    model = torch.nn.Sequential(torch.nn.Linear(300, 200), torch.nn.LSTM(50, 40)).requires_grad_(False)
    keras_initialize(model, generator=torch.Generator().manual_seed(0))
    linear, lstm = model[0], model[1]
    keras_kernel = keras.initializers.GlorotUniform(seed=0)((300, 200)).numpy()
    assert float(linear.weight.abs().max()) <= np.sqrt(6 / 500) and float(linear.bias.abs().max()) == 0
    assert float(linear.weight.std()) == pytest.approx(float(keras_kernel.std()), rel=0.02)
    forget = lstm.bias_ih_l0[40:80]
    assert torch.all(forget == 1) and float(lstm.bias_ih_l0[:40].abs().max()) == 0
    recurrent = lstm.weight_hh_l0.detach()  # (4u, u): orthonormal columns, as Keras's (u, 4u) has orthonormal rows
    assert torch.allclose(recurrent.T @ recurrent, torch.eye(40), atol=1e-5)
    he = torch.empty(64, 32)
    zoo.training.keras_initializer_(he, "he_normal", generator=torch.Generator().manual_seed(0))
    keras_he = keras.initializers.HeNormal(seed=0)((32, 64)).numpy()
    assert float(he.std()) == pytest.approx(float(keras_he.std()), rel=0.05)
    assert float(he.abs().max()) <= 2 * np.sqrt(2 / 32) / 0.87962566103423978 + 1e-6


def test_zoo_check_train_prints_a_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from zoo._cli import main

    code = main(["check", "mlp", "--train", "--optimizer", "rmsprop", "--steps", "2", "--dtype", "float64",
                 "--config", "in_features=4", "hidden=[3]", "num_classes=2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[1].split()[0] == "mlp" and out.splitlines()[1].split()[-1] == "ok"


@pytest.mark.parametrize("optimizer", ["Adam", "RMSprop", "Nadam"])
def test_resume_from_a_tf_keras_h5_with_optimizer_state(tmp_path, optimizer: str) -> None:
    """tf.keras (Keras 2 API) names its slots 'Adam/m/dense/kernel:0' and saves no learning-rate variable."""
    import tf_keras

    previous = tf_keras.backend.floatx()
    tf_keras.backend.set_floatx("float64")
    try:
        rng = np.random.default_rng(3)
        model = tf_keras.Sequential([tf_keras.layers.Dense(4, activation="relu", input_shape=(5,)),
                                     tf_keras.layers.Dense(3, activation="softmax")])
        settings = {"learning_rate": 0.01, **({"momentum": 0.5, "centered": True} if optimizer == "RMSprop" else {})}
        model.compile(optimizer=getattr(tf_keras.optimizers, optimizer)(**settings),
                      loss="sparse_categorical_crossentropy")
        batches = [(rng.uniform(-1, 1, (6, 5)), rng.integers(0, 3, 6)) for _ in range(5)]
        for x, y in batches[:2]:
            model.train_on_batch(x, y)
        model.save(tmp_path / "trained.h5")
        torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "trained.h5", dtype="float64", **MLP)
        if optimizer == "Nadam":
            with pytest.raises(TrainingConfigError, match="tf.keras 2's Nadam"):
                zoo.training_setup(torch_model, tmp_path / "trained.h5", floatx="float64")
            return
        setup = zoo.training_setup(torch_model, tmp_path / "trained.h5", floatx="float64")
        for x, y in batches[2:]:
            keras_loss = float(model.train_on_batch(x, y))
            assert setup.step(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(keras_loss, rel=1e-10)
        model.save(tmp_path / "after.h5")
    finally:
        tf_keras.backend.set_floatx(previous)
    expected = zoo.get("mlp", backend="torch", weights=tmp_path / "after.h5", dtype="float64", **MLP).state_dict()
    for key, value in torch_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), expected[key].numpy(), rtol=0, atol=1e-10, err_msg=key)


def test_schedules_follow_tensorflow_graph_arithmetic() -> None:
    """Inside train_on_batch's graph TensorFlow computes step · (1/decay_steps) in float32: reproduced.

    Bounds, each a claim about one TensorFlow kernel on any processor a user has:
    ExponentialDecay is decay_rate ** p in float32, ours correctly rounded. TensorFlow's float32
    ``Pow`` matched it at all 200 steps on an AMD EPYC (where NumPy's float32 power, which we
    used before, is one ulp off at 46 of them) and was one ulp off at step 6 on an earlier
    machine (0.013195078819990158 vs 0.013195077888667583), so the bound is one float32 ulp of
    the rate. CosineDecay: the graph's rewritten float32 arithmetic around
    the cosine lands a few ulps away on a few steps (4 of 200 here, at most 9.3e-8 of the
    initial rate measured); the bound is one float32 ulp of the initial rate (2**-23 relative).
    """
    import keras
    import tensorflow as tf

    from zoo.training._optim import Schedule

    for name, config, bound in [
        ("ExponentialDecay", {"initial_learning_rate": 0.02, "decay_steps": 10, "decay_rate": 0.5}, "ulp"),
        ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 30, "alpha": 0.1}, 2.0**-23),
        ("CosineDecay", {"initial_learning_rate": 0.003, "decay_steps": 7}, 2.0**-23),
    ]:
        keras_schedule = getattr(keras.optimizers.schedules, name)(**config)
        in_graph = tf.function(lambda step, s=keras_schedule: s(step))
        ours = Schedule(name, config)
        for step in range(200):
            expected = float(in_graph(tf.constant(step, tf.int64)))
            allowed = float(np.spacing(np.float32(expected))) if bound == "ulp" else \
                bound * config["initial_learning_rate"]
            assert abs(ours(step) - expected) <= allowed, (name, step, ours(step), expected)


@pytest.mark.parametrize("family, settings", [
    ("Adam", {}), ("Adamax", {}), ("RMSprop", {"centered": True}), ("Adagrad", {"clipvalue": 0.3}),
    ("Nadam", {"clipnorm": 0.5}), ("SGD", {"momentum": 0.9, "global_clipnorm": 0.4}),
    ("Adam", {"global_clipnorm": 100.0}), ("Adam", {"global_clipnorm": 0.1}),  # the product densifies the rows
])
def test_embedding_gradients_follow_keras_per_lookup_arithmetic(family: str, settings: dict) -> None:
    """TensorFlow's embedding gradient is IndexedSlices (a row per lookup, duplicates kept): Keras squares and
    clips each row before summing. PyTorch's sparse embedding gradient carries the same rows."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(4)
    table = rng.normal(size=(6, 3))
    lookups = [np.array([1, 3, 1, 1]), np.array([0, 3, 5, 3])]
    row_gradients = [rng.normal(size=(4, 3)) for _ in lookups]
    config = {"class_name": family, "config": {"learning_rate": 0.05, **settings}}
    with keras_dtype_policy("float64"):
        variable = keras.Variable(table.copy(), dtype="float64")
        optimizer = keras.optimizers.deserialize(copy.deepcopy(config))
        for rows, values in zip(lookups, row_gradients, strict=True):
            optimizer.apply([tf.IndexedSlices(tf.constant(values), tf.constant(rows), tf.constant([6, 3]))],
                            [variable])
        expected = np.asarray(variable.numpy())
    embedding = torch.nn.Embedding(6, 3, sparse=True).double()
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(table))
    ours = make_optimizer(config, [embedding.weight], floatx="float64")
    for rows, values in zip(lookups, row_gradients, strict=True):
        ours.zero_grad()
        (embedding(torch.from_numpy(rows)) * torch.from_numpy(values)).sum().backward()
        ours.step()
    np.testing.assert_allclose(embedding.weight.detach().numpy(), expected, rtol=0, atol=1e-14)


def test_an_unported_lstm_keeps_its_function_with_one_trainable_bias() -> None:
    lstm = torch.nn.LSTM(3, 4, batch_first=True).double()
    x = torch.rand(2, 5, 3, dtype=torch.float64)
    before = lstm(x)[0].detach()
    zoo.training_setup(lstm, optimizer="sgd", loss="mse")
    assert torch.allclose(lstm(x)[0], before, atol=1e-15)
    assert not lstm.bias_hh_l0.requires_grad and float(lstm.bias_hh_l0.abs().max()) == 0


def test_huber_delta_comes_from_a_live_model_and_its_absence_in_a_file_is_said(tmp_path) -> None:
    """Keras 3's Huber.get_config drops delta, so a .keras reloads it as 1.0: the set-up warns, never guesses."""
    import keras

    from zoo.training import TrainingConfigWarning

    keras_model = zoo.get("mlp", backend="keras", **MLP)
    keras_model.compile(optimizer="sgd", loss=keras.losses.Huber(delta=0.25))
    keras_model.save(tmp_path / "huber.keras")
    live = zoo.training_setup(zoo.get("mlp", backend="torch", **MLP), keras_model)
    assert live.losses[0].delta == 0.25
    with pytest.warns(TrainingConfigWarning, match="does not save a Huber loss's delta"):
        from_file = zoo.training_setup(zoo.get("mlp", backend="torch", **MLP), tmp_path / "huber.keras")
    assert from_file.losses[0].delta == 1.0


def test_a_loss_per_output_name_is_refused_by_name() -> None:
    model = zoo.get("mlp", backend="torch", **MLP)
    with pytest.raises(TrainingConfigError, match=r"a loss per output name \(\['classifier'\]\)"):
        zoo.training_setup(model, optimizer="adam", loss={"classifier": "mse"})
    with pytest.raises(zoo.ConfigError, match="weights must be a file path or a keras.Model"):
        zoo.training_setup(model, 42, optimizer="adam", loss="mse")
