"""Hypothesis strategies: configs from each architecture's declared space, seeds and batch sizes."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["REGULARIZERS", "configs", "examples", "losses_for", "optimizers", "training_examples"]


def configs(name: str) -> Any:
    """The architecture's own config strategy (``Architecture.config_strategy``), or its defaults."""
    from zoo import architecture, resolve_config

    arch = architecture(name)
    drawn = arch.config_strategy() if arch.config_strategy else st.just({})
    return drawn.filter(lambda config: _valid(arch, config, resolve_config))


def _valid(arch: Any, config: dict[str, Any], resolve: Any) -> bool:
    from zoo import ConfigError

    try:
        resolve(arch, config)
    except ConfigError:
        return False
    return True


def examples(name: str) -> Any:
    """(config, seed, batch): batch 2 to 4, any seed for weights and inputs."""
    return st.tuples(configs(name), st.integers(0, 2**32 - 1), st.integers(2, 4))


_RATES = st.sampled_from([1e-3, 5e-3, 1e-2])
_CLIPPING = st.sampled_from([{}, {"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 1.0}])
_FAMILIES = {
    "SGD": st.fixed_dictionaries({"momentum": st.sampled_from([0.0, 0.9]), "nesterov": st.booleans()}),
    "Adam": st.fixed_dictionaries({"beta_1": st.sampled_from([0.8, 0.9]), "epsilon": st.sampled_from([1e-7, 1e-3]),
                                   "amsgrad": st.booleans()}),
    "AdamW": st.fixed_dictionaries({"weight_decay": st.sampled_from([0.004, 0.05])}),
    "RMSprop": st.fixed_dictionaries({"rho": st.sampled_from([0.8, 0.9]), "momentum": st.sampled_from([0.0, 0.5]),
                                      "centered": st.booleans()}),
    "Adagrad": st.fixed_dictionaries({"initial_accumulator_value": st.sampled_from([0.1, 0.5])}),
    "Adamax": st.fixed_dictionaries({"beta_2": st.sampled_from([0.99, 0.999])}),
    "Nadam": st.fixed_dictionaries({"beta_1": st.sampled_from([0.8, 0.9])}),
}
_SCHEDULE = "keras.optimizers.schedules"


def _schedules(rate: float) -> Any:
    return st.sampled_from([
        rate,
        {"module": _SCHEDULE, "class_name": "ExponentialDecay",
         "config": {"initial_learning_rate": rate, "decay_steps": 2, "decay_rate": 0.5, "staircase": True}},
        {"module": _SCHEDULE, "class_name": "PiecewiseConstantDecay",
         "config": {"boundaries": [1], "values": [rate, rate / 2]}},
        {"module": _SCHEDULE, "class_name": "CosineDecay",
         "config": {"initial_learning_rate": rate, "decay_steps": 3, "alpha": 0.1}},
    ])


@st.composite
def optimizers(draw: Any) -> dict[str, Any]:
    """A Keras optimizer config: family, its settings, a rate or schedule, and a clipping rule."""
    family = draw(st.sampled_from(sorted(_FAMILIES)))
    config = {**draw(_FAMILIES[family]), **draw(_CLIPPING), "learning_rate": draw(_schedules(draw(_RATES)))}
    return {"module": "keras.optimizers", "class_name": family, "config": config}


def losses_for(output_names: list[str], width: int) -> Any:
    """Losses the outputs admit: crossentropy for class outputs (by name), regression losses for any."""
    regression = [{"class_name": "mean_squared_error", "config": {}}, {"class_name": "mean_absolute_error", "config": {}},
                  {"class_name": "huber", "config": {"delta": 0.5}}]
    first = output_names[0]
    if first == "logits" and width > 1:
        return st.sampled_from([{"class_name": "categorical_crossentropy", "config": {"from_logits": True,
                                                                                     "label_smoothing": 0.1}},
                                {"class_name": "sparse_categorical_crossentropy", "config": {"from_logits": True}},
                                *regression])
    if first == "probabilities" and width > 1:
        return st.sampled_from([{"class_name": "categorical_crossentropy", "config": {}},
                                {"class_name": "sparse_categorical_crossentropy", "config": {}}, *regression])
    if first in ("probability", "similarity", "above_threshold"):
        return st.sampled_from([{"class_name": "binary_crossentropy", "config": {"label_smoothing": 0.1}},
                                {"class_name": "binary_crossentropy", "config": {}}, *regression])
    return st.sampled_from(regression)


REGULARIZERS = st.sampled_from([
    {}, {"kernel": {"class_name": "L2", "config": {"l2": 0.01}}},
    {"kernel": {"class_name": "L1L2", "config": {"l1": 0.001, "l2": 0.01}}, "bias": {"class_name": "L1",
                                                                                 "config": {"l1": 0.01}}},
    {"activity": {"class_name": "L2", "config": {"l2": 0.01}}},
])


def training_examples(name: str) -> Any:
    """(config, seed, optimizer, loss, regularizers, steps) for the training property."""
    from zoo import architecture

    arch = architecture(name)

    @st.composite
    def draw_example(draw: Any) -> tuple[Any, ...]:
        config = draw(configs(name))
        specs = arch.outputs({**arch.defaults, **config})
        loss = draw(losses_for([s.name for s in specs], specs[0].keras_shape[-1] or 1 if specs[0].keras_shape else 1))
        return (config, draw(st.integers(0, 2**32 - 1)), draw(optimizers()), loss, draw(REGULARIZERS),
                draw(st.integers(2, 3)))

    return draw_example()
