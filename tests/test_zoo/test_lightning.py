"""zoo.lightning: Keras's ``model.fit`` and ``zoo.lightning.fit`` from the same saved file give the same History
and the same weights (float64), for a catalog architecture and a ``zoo convert`` module; Keras's callbacks act on
the same epochs; two DDP processes compute what one does."""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import weights_port
import zoo
import zoo.lightning as zl
from equivalence_tests import randomise_keras_weights
from weights_port.tolerance import TRAINING_TOLERANCES
from zoo.architectures import keras_dtype_policy

keras = pytest.importorskip("keras")

MLP = {"in_features": 6, "hidden": (8,), "num_classes": 3}
CLASS_WEIGHT = {0: 1.0, 1: 1.5, 2: 0.5}
RTOL = TRAINING_TOLERANCES["float64"]
"""The float64 training bound (weights: max|Δw| over max(1, max|w|) per tensor, as the training suite measures it;
logs: relative). A few epochs of these small models stay within it; a parameter whose exact gradient is zero (a
convolution's bias before BatchNorm) moves by rounding noise that Adam divides by its ε, ~1e-12 per step."""


def _same_history(keras_history: dict[str, list[float]], ours: dict[str, list[float]]) -> None:
    assert sorted(keras_history) == sorted(ours), (sorted(keras_history), sorted(ours))
    for name, values in keras_history.items():
        assert len(values) == len(ours[name]), (name, values, ours[name])
        np.testing.assert_allclose(ours[name], values, rtol=RTOL, atol=1e-12, err_msg=name)


def _same_weights(keras_model: Any, torch_model: torch.nn.Module, tmp_path: Path, name: str | None = None,
                  config: dict[str, Any] | None = None) -> None:
    """The trained Keras weights, ported to PyTorch by the porter, against the trained PyTorch state."""
    keras_model.save(tmp_path / "trained.keras")
    if name is not None:
        expected = zoo.get(name, backend="torch", weights=tmp_path / "trained.keras", dtype="float64", **(config or {}))
    else:
        expected = weights_port.convert(tmp_path / "trained.keras", dtype="float64").build()
    got = torch_model.state_dict()
    for key, value in expected.state_dict().items():
        if value.is_floating_point():  # the training bound's measure: max|Δw| over max(1, max|w|), per tensor
            drift = float((got[key].detach() - value).abs().max()) / max(1.0, float(value.abs().max()))
            assert drift <= RTOL, (key, drift)


def _mlp_file(tmp_path: Path, compile_args: dict[str, Any]) -> Any:
    with keras_dtype_policy("float64"):
        model = zoo.get("mlp", backend="keras", dtype="float64", **MLP)
        randomise_keras_weights(model, np.random.default_rng(2))
        model.compile(**compile_args)
        model.save(tmp_path / "model.keras")
    return model


def test_fit_with_validation_split_and_plateau_callbacks_matches_keras(tmp_path: Path) -> None:
    """Adam, accuracy, validation_split with class weights (the training part only), EarlyStopping +
    ReduceLROnPlateau + CSVLogger: the History, the epoch training stopped at, the learning-rate log, the CSV
    file and the weights."""
    keras_model = _mlp_file(tmp_path, {"optimizer": keras.optimizers.Adam(0.05), "metrics": ["accuracy"],
                                       "loss": "sparse_categorical_crossentropy"})
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(45, 6)), rng.integers(0, 3, size=(45,))

    def callbacks(lib: Any, csv_path: Path) -> list[Any]:
        return [lib.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5, min_delta=0.05, cooldown=1),
                lib.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True),
                lib.CSVLogger(str(csv_path))]

    with keras_dtype_policy("float64"):
        expected = keras_model.fit(x, y, batch_size=8, epochs=8, validation_split=0.2, shuffle=False, verbose=0,
                                   class_weight=CLASS_WEIGHT, callbacks=callbacks(keras.callbacks, tmp_path / "keras.csv"))
    torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "model.keras", dtype="float64", **MLP)
    history = zl.fit(zl.KerasModule(torch_model, tmp_path / "model.keras"), x, y, batch_size=8, epochs=8,
                     validation_split=0.2, shuffle=False, verbose=False, class_weight=CLASS_WEIGHT,
                     callbacks=callbacks(zl, tmp_path / "ours.csv"))
    _same_history(expected.history, history.history)
    assert history.epoch == expected.epoch
    assert len(history.epoch) < 8 and len(set(history.history["learning_rate"])) > 1  # both callbacks acted
    _same_weights(keras_model, torch_model, tmp_path, "mlp", MLP)
    rows = [list(csv.DictReader((tmp_path / name).open())) for name in ("keras.csv", "ours.csv")]
    assert [sorted(r) for r in rows[0]] == [sorted(r) for r in rows[1]]
    for keras_row, our_row in zip(*rows, strict=True):
        np.testing.assert_allclose([float(our_row[k]) for k in keras_row], [float(v) for v in keras_row.values()],
                                   rtol=RTOL)


def _converted_cnn(tmp_path: Path) -> Any:
    with keras_dtype_policy("float64"):
        image = keras.Input((6, 6, 2))
        x = keras.layers.Conv2D(4, 3, padding="same", kernel_regularizer=keras.regularizers.L2(1e-3))(image)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x)))
        out = keras.layers.Dense(3, activation="softmax")(x)
        model = keras.Model(image, out)
        randomise_keras_weights(model, np.random.default_rng(1))
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy()])
        model.save(tmp_path / "cnn.keras")
    return model


def test_a_converted_model_trains_as_keras_with_class_weights_and_a_schedule(tmp_path: Path) -> None:
    """A ``zoo convert`` module (BatchNorm in training mode, an L2 kernel penalty, SGD momentum), class_weight,
    validation_data, a LearningRateScheduler, a crossentropy metric: the History and the weights."""
    keras_model = _converted_cnn(tmp_path)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(28, 6, 6, 2)), rng.integers(0, 3, size=(28,))
    val_x, val_y = rng.normal(size=(10, 6, 6, 2)), rng.integers(0, 3, size=(10,))
    weights = {0: 1.0, 1: 2.5, 2: 0.5}

    def schedule(epoch: int, rate: float) -> float:
        return rate if epoch == 0 else rate * 0.7

    with keras_dtype_policy("float64"):
        expected = keras_model.fit(x, y, batch_size=6, epochs=3, validation_data=(val_x, val_y), shuffle=False,
                                   class_weight=weights, verbose=0,
                                   callbacks=[keras.callbacks.LearningRateScheduler(schedule)])
    torch_model = weights_port.convert(tmp_path / "cnn.keras", dtype="float64").build()
    channels_first = (0, 3, 1, 2)
    history = zl.fit(zl.KerasModule(torch_model, tmp_path / "cnn.keras"), x.transpose(channels_first), y,
                     batch_size=6, epochs=3, validation_data=(val_x.transpose(channels_first), val_y), shuffle=False,
                     class_weight=weights, verbose=False, callbacks=[zl.LearningRateScheduler(schedule)])
    _same_history(expected.history, history.history)
    _same_weights(keras_model, torch_model, tmp_path)


def test_a_two_output_model_logs_each_output_as_keras_does(tmp_path: Path) -> None:
    """Two outputs with their own losses, loss weights and metrics per output name: Keras 3 logs the total loss,
    each output's unweighted loss ("cls_loss", a plain mean over batches: TensorFlow's traced step has no static
    batch size to weigh them by) and the metrics prefixed by the output ("cls_accuracy")."""
    with keras_dtype_policy("float64"):
        features = keras.Input((5,))
        trunk = keras.layers.Dense(6, activation="tanh")(features)
        cls = keras.layers.Dense(3, activation="softmax", name="cls")(trunk)
        reg = keras.layers.Dense(2, name="reg")(trunk)
        model = keras.Model(features, [cls, reg])
        randomise_keras_weights(model, np.random.default_rng(8))
        model.compile(optimizer=keras.optimizers.Adam(0.03), loss=["sparse_categorical_crossentropy", "mse"],
                      loss_weights=[1.0, 0.5], metrics={"cls": ["accuracy"], "reg": ["mae"]})
        model.save(tmp_path / "two.keras")
        rng = np.random.default_rng(9)
        x, labels, values = rng.normal(size=(26, 5)), rng.integers(0, 3, size=(26,)), rng.normal(size=(26, 2))
        expected = model.fit(x, [labels, values], batch_size=7, epochs=2, validation_split=0.4, shuffle=False,
                             verbose=0)  # uneven batches on both sides: 7, 7, 1 and 7, 4
    torch_model = weights_port.convert(tmp_path / "two.keras", dtype="float64").build()
    history = zl.fit(zl.KerasModule(torch_model, tmp_path / "two.keras"), x, [labels, values], batch_size=7,
                     epochs=2, validation_split=0.4, shuffle=False, verbose=False)
    assert {"cls_loss", "val_reg_loss", "cls_accuracy", "val_reg_mae"} <= set(history.history)
    _same_history(expected.history, history.history)
    _same_weights(model, torch_model, tmp_path)


def test_shuffled_epochs_follow_epoch_order(tmp_path: Path) -> None:
    """shuffle=True draws each epoch's order from a seeded torch generator; Keras fed that order agrees."""
    keras_model = _mlp_file(tmp_path, {"optimizer": keras.optimizers.RMSprop(0.01), "loss": "mse"})
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 6)), rng.normal(size=(20, 3))
    torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "model.keras", dtype="float64", **MLP)
    history = zl.fit(zl.KerasModule(torch_model, tmp_path / "model.keras"), x, y, batch_size=6, epochs=2,
                     shuffle=True, seed=11, verbose=False)
    losses = []
    with keras_dtype_policy("float64"):
        for epoch in range(2):
            order = zl.epoch_order(20, epoch, 11).numpy()
            step = keras_model.fit(x[order], y[order], batch_size=6, epochs=epoch + 1, initial_epoch=epoch,
                                   shuffle=False, verbose=0)
            losses += step.history["loss"]
    np.testing.assert_allclose(history.history["loss"], losses, rtol=RTOL)
    assert not np.array_equal(zl.epoch_order(20, 0, 11), zl.epoch_order(20, 1, 11))
    _same_weights(keras_model, torch_model, tmp_path, "mlp", MLP)


def test_terminate_on_nan_stops_where_keras_stops(tmp_path: Path) -> None:
    keras_model = _mlp_file(tmp_path, {"optimizer": keras.optimizers.SGD(1e6), "loss": "mse"})
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(24, 6)), rng.normal(size=(24, 3)) * 1e200
    with keras_dtype_policy("float64"):
        expected = keras_model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                                   callbacks=[keras.callbacks.TerminateOnNaN()])
    torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "model.keras", dtype="float64", **MLP)
    history = zl.fit(zl.KerasModule(torch_model, tmp_path / "model.keras"), x, y, batch_size=4, epochs=3,
                     shuffle=False, verbose=False, callbacks=[zl.TerminateOnNaN()])
    assert history.epoch == expected.epoch == [0]
    assert not np.isfinite(history.history["loss"][0]) and not np.isfinite(expected.history["loss"][0])


def test_model_checkpoint_keeps_the_best_epoch_as_safetensors_and_as_a_keras_file(tmp_path: Path) -> None:
    _mlp_file(tmp_path, {"optimizer": keras.optimizers.Adam(0.05), "loss": "sparse_categorical_crossentropy"})
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(30, 6)), rng.integers(0, 3, size=(30,))
    torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "model.keras", dtype="float64", **MLP)
    best = tmp_path / "best.safetensors"
    history = zl.fit(zl.KerasModule(torch_model, tmp_path / "model.keras"), x, y, batch_size=8, epochs=4,
                     validation_split=0.3, shuffle=False, verbose=False, callbacks=[
                         zl.ModelCheckpoint(best, monitor="val_loss", save_best_only=True),
                         zl.ModelCheckpoint(tmp_path / "epoch{epoch:02d}.keras", architecture="mlp", config=MLP)])
    from safetensors.torch import load_file

    best_epoch = int(np.argmin(history.history["val_loss"]))
    kept = load_file(str(best))
    assert sorted(p.name for p in tmp_path.glob("epoch*.keras")) == [f"epoch{e:02d}.keras" for e in range(1, 5)]
    with keras_dtype_policy("float64"):
        last = keras.models.load_model(tmp_path / "epoch04.keras")
    final = torch_model.state_dict()
    np.testing.assert_array_equal(last.layers[-1].get_weights()[1], final[list(final)[-1]].numpy())
    if best_epoch < 3:  # the best file is not the last epoch's
        assert any(not torch.equal(kept[k], final[k]) for k in kept)


def test_bad_arguments_are_named() -> None:
    model = zoo.get("mlp", backend="torch", dtype="float64", **MLP)
    module = zl.KerasModule(model, optimizer="adam", loss="mse")
    x, y = np.zeros((4, 6)), np.zeros((4, 3))
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: zl.fit(module, x, y, batch_size=0), "batch_size"),
        (lambda: zl.fit(module, x, y, class_weight={0: 1.0}, sample_weight=np.ones(4)), "class_weight"),
        (lambda: zl.fit(module, x, y, validation_split=1.5), "validation_split"),
        (lambda: zl.fit(module, x, y[:3]), "same number of samples"),
        (lambda: zl.ReduceLROnPlateau(factor=1.5), "factor"),
        (lambda: zl.ModelCheckpoint("best.keras"), "architecture="),
        (lambda: zl.make_metric("accuracy_of_sorts"), "accuracy_of_sorts"),
        # Keras too refuses to guess the direction of a metric the model does not compile
        (lambda: zl.fit(module, x, y, validation_split=0.5, verbose=False,
                        callbacks=[zl.EarlyStopping(monitor="val_accuracy")]), "mode='max'"),
    ]
    for call, words in cases:
        with pytest.raises(zoo.training.TrainingConfigError, match=words):
            call()


DDP_SCRIPT = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, torch
import zoo, zoo.lightning as zl
devices, out = int(sys.argv[1]), sys.argv[2]
config = {"in_features": 6, "hidden": (8,), "num_classes": 3}
torch.manual_seed(0)
model = zoo.get("mlp", backend="torch", dtype="float64", **config)
module = zl.KerasModule(model, optimizer={"class_name": "Adam", "config": {"learning_rate": 0.05}},
                        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, size=(40,))
options = {"strategy": "ddp", "devices": 2} if devices == 2 else {}
history = zl.fit(module, x, y, batch_size=8, epochs=2, validation_split=0.2, shuffle=False, verbose=False, **options)
seen = {"world": module.trainer.world_size, "samples_last_epoch": float(module.train_loss.count)}
json.dump(seen, open(f"{out}.rank{module.trainer.global_rank}", "w"))
if module.trainer.is_global_zero:
    json.dump({"history": history.history, "state": {k: v.tolist() for k, v in model.state_dict().items()}},
              open(out, "w"))
"""


def test_two_ddp_processes_compute_what_one_process_computes(tmp_path: Path) -> None:
    """Trainer(strategy="ddp", devices=2) over gloo: each process takes half of every batch, the gradients are
    averaged, the metrics summed across processes: the History and weights equal one process's (float64)."""
    import subprocess

    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    results = []
    for devices in (1, 2):
        out = tmp_path / f"result{devices}.json"
        run = subprocess.run([sys.executable, str(script), str(devices), str(out)], capture_output=True, text=True,
                             timeout=600, cwd=tmp_path, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
        assert run.returncode == 0, run.stderr[-3000:]
        results.append(json.loads(out.read_text()))
        ranks = [json.loads(Path(f"{out}.rank{r}").read_text()) for r in range(devices)]
        # 32 training samples: each of the two processes trained on its half of every batch
        assert ranks == [{"world": devices, "samples_last_epoch": 32.0 / devices}] * devices, ranks
    one, two = results
    _same_history(one["history"], two["history"])
    for key, value in one["state"].items():
        np.testing.assert_allclose(two["state"][key], value, rtol=1e-12, atol=1e-14, err_msg=key)


# --------------------------------------------------------------------------- the property (nox -s training)

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

OPTIMIZERS = [
    {"class_name": "SGD", "config": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}},
    {"class_name": "Adam", "config": {"learning_rate": 0.02, "amsgrad": True}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01, "momentum": 0.5, "clipnorm": 1.0}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.02, "weight_decay": 0.01, "global_clipnorm": 2.0}},
    {"class_name": "Nadam", "config": {"learning_rate": 0.01}},
]
MODELS = {
    "mlp": {"in_features": 6, "hidden": (8, 5), "num_classes": 3},
    "cifar_cnn": {"input_size": 8, "in_channels": 2, "num_classes": 3},
    "converted": {},
}


@st.composite
def fits(draw: Any) -> dict[str, Any]:
    callbacks = []
    metrics = draw(st.lists(st.sampled_from(["accuracy", "sparse_categorical_crossentropy"]), unique=True, max_size=2))
    monitors = ["val_loss", "loss", *(["val_accuracy"] if "accuracy" in metrics else [])]
    if draw(st.booleans()):
        callbacks.append(("EarlyStopping", {"monitor": draw(st.sampled_from(monitors)),
                                            "patience": draw(st.integers(0, 2)),
                                            "min_delta": draw(st.sampled_from([0.0, 0.01])),
                                            "restore_best_weights": draw(st.booleans())}))
    if draw(st.booleans()):
        callbacks.append(("ReduceLROnPlateau", {"monitor": "val_loss", "factor": draw(st.sampled_from([0.5, 0.2])),
                                                "patience": draw(st.integers(0, 1)),
                                                "min_delta": draw(st.sampled_from([0.0, 0.05])),
                                                "cooldown": draw(st.integers(0, 1))}))
    return {"model": draw(st.sampled_from(sorted(MODELS))), "optimizer": draw(st.sampled_from(OPTIMIZERS)),
            "metrics": metrics,
            "batch_size": draw(st.integers(3, 9)), "epochs": draw(st.integers(2, 3)),
            "validation_split": draw(st.sampled_from([0.2, 0.3])), "callbacks": callbacks,
            "class_weight": draw(st.sampled_from([None, {0: 1.0, 1: 2.0, 2: 0.5}])), "seed": draw(st.integers(0, 99))}


@pytest.mark.sweep
@hypothesis.settings(max_examples=int(__import__("os").environ.get("ZOO_FIT_EXAMPLES", "12")), deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(case=fits())
def test_keras_fit_and_lightning_fit_agree(case: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keras's fit and zoo.lightning.fit from the same file, random optimizer / metrics / callbacks / batching
    (shuffle off): every epoch's logs, the epochs run and the final weights agree in float64."""
    tmp_path = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(case["seed"])
    name, config = case["model"], MODELS[case["model"]]
    with keras_dtype_policy("float64"):
        if name == "converted":
            keras_model = _converted_cnn(tmp_path)
            path = tmp_path / "cnn.keras"
            shape = (6, 6, 2)
        else:
            keras_model = zoo.get(name, backend="keras", dtype="float64", **config)
            randomise_keras_weights(keras_model, rng)
            path = tmp_path / "model.keras"
            shape = (config["in_features"],) if name == "mlp" else (config["input_size"],) * 2 + (config["in_channels"],)
        keras_model.compile(optimizer=keras.optimizers.deserialize(json.loads(json.dumps(case["optimizer"]))),
                            loss="sparse_categorical_crossentropy", metrics=list(case["metrics"]))
        keras_model.save(path)
        x, y = rng.normal(size=(30, *shape)), rng.integers(0, 3, size=(30,))
        settings = {"batch_size": case["batch_size"], "epochs": case["epochs"], "shuffle": False,
                    "validation_split": case["validation_split"], "class_weight": case["class_weight"]}
        expected = keras_model.fit(x, y, verbose=0, **settings,
                                   callbacks=[getattr(keras.callbacks, c)(**a) for c, a in case["callbacks"]])
    torch_model = (weights_port.convert(path, dtype="float64").build() if name == "converted"
                   else zoo.get(name, backend="torch", weights=path, dtype="float64", **config))
    torch_x = x.transpose(0, 3, 1, 2) if x.ndim == 4 else x
    history = zl.fit(zl.KerasModule(torch_model, path), torch_x, y, verbose=False, **settings,
                     callbacks=[getattr(zl, c)(**a) for c, a in case["callbacks"]])
    _same_history(expected.history, history.history)
    assert history.epoch == expected.epoch
    _same_weights(keras_model, torch_model, tmp_path, None if name == "converted" else name, config)
