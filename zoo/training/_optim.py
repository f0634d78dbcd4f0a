"""Keras's optimizers as ``torch.optim.Optimizer`` subclasses that perform Keras's arithmetic.

PyTorch's built-in optimizers differ from Keras's in ways that show after a few steps:
Adam adds epsilon after the bias correction in Keras and before it in PyTorch; Keras's SGD
keeps the learning rate inside the velocity; RMSprop's rho, Adagrad's starting
accumulator and epsilon differ. Each class here follows Keras 3's ``update_step``
operation for operation, and the base class follows ``BaseOptimizer.apply``: clip the
gradients, decay the weights, update, count the iteration. The learning rate and its
schedules are computed in Keras's ``floatx`` (float32 unless set), as Keras does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from .._errors import TrainingConfigError
from ._config import checked_entry, checked_settings, shown

__all__ = ["OPTIMIZERS", "SCHEDULES", "KerasGradient", "KerasOptimizer", "Schedule", "make_optimizer", "make_schedule"]


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Schedule:
    """A Keras learning-rate schedule: the rate at an iteration, computed in ``floatx``."""

    name: str
    config: Mapping[str, Any]
    floatx: str = "float32"

    def __call__(self, iteration: int) -> float:
        # TensorFlow turns the schedule's Python floats into float32 tensors, whatever floatx is,
        # and inside train_on_batch's graph its optimizer rewrites x / constant as x · (1 / constant):
        # both are reproduced, and the power is correctly rounded as TensorFlow's Pow gives it, so
        # ExponentialDecay is bit-exact on the CPUs measured. CosineDecay still differs on a few
        # steps (4 of 200 in the test, at most 9.3e-8 of the initial rate), from the graph's rewritten
        # float32 arithmetic around the cosine.
        f = np.float32
        c = self.config
        step = f(iteration)
        if self.name == "ExponentialDecay":
            p = step * _reciprocal(c["decay_steps"])
            if c.get("staircase", False):
                p = np.floor(p)
            return float(f(c["initial_learning_rate"]) * _rounded_power(f(c["decay_rate"]), p))
        if self.name == "PiecewiseConstantDecay":
            boundaries, values = c["boundaries"], [f(v) for v in c["values"]]
            for boundary, value in zip(boundaries, values, strict=False):
                if iteration <= boundary:
                    return float(value)
            return float(values[-1])
        # CosineDecay
        initial, decay_steps = f(c["initial_learning_rate"]), f(c["decay_steps"])
        warmup_target, warmup_steps = c.get("warmup_target"), f(c.get("warmup_steps", 0))
        alpha = c.get("alpha", 0.0)
        if warmup_target is None:
            return float(_cosine(min(step, decay_steps), c["decay_steps"], initial, alpha))
        target = f(warmup_target)
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - initial) * (step * _reciprocal(c["warmup_steps"])) + initial)
        return float(_cosine(step - warmup_steps, c["decay_steps"], target, alpha))


def _rounded_power(base: Any, exponent: Any) -> Any:
    """float32 ``base ** exponent`` correctly rounded (through float64), as TensorFlow's float32 Pow gives it on
    the CPUs measured; NumPy's float32 power is one ulp off on AVX-512 machines (0.7 ** (2/3))."""
    return np.float32(math.pow(float(base), float(exponent)))


def _reciprocal(value: float) -> Any:
    return np.float32(1) / np.float32(value)


def _cosine(step: Any, decay_steps: float, decay_from: Any, alpha: float) -> Any:
    f = np.float32
    fraction = step * _reciprocal(decay_steps)
    cosine = f(0.5) * (f(1.0) + np.cos(f(math.pi) * fraction))
    return decay_from * (f(1 - alpha) * cosine + f(alpha))


SCHEDULES = ("ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay")


def make_schedule(config: Mapping[str, Any], floatx: str) -> Schedule:
    name, settings = checked_entry(config, "learning-rate schedule")
    if name not in SCHEDULES:
        raise TrainingConfigError(f"learning-rate schedule {shown(name)} is not reproduced; supported: "
                                  f"{', '.join(SCHEDULES)}")
    where = f"learning-rate schedule {name}"
    for key in ("initial_learning_rate", "decay_steps", "decay_rate") if name == "ExponentialDecay" else \
            ("initial_learning_rate", "decay_steps") if name == "CosineDecay" else ():
        if key not in settings:
            raise TrainingConfigError(f"{where} records no {key}")
    if "decay_steps" in settings and settings["decay_steps"] <= 0:
        raise TrainingConfigError(f"{where}: decay_steps is {shown(settings['decay_steps'])}; Keras divides by it")
    if name == "PiecewiseConstantDecay":
        boundaries, values = settings.get("boundaries"), settings.get("values")
        numbers = lambda v: isinstance(v, list) and all(  # noqa: E731
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        if not (numbers(boundaries) and numbers(values)) or len(values or []) != len(boundaries or []) + 1:
            raise TrainingConfigError(f"{where}: boundaries {shown(boundaries)} and values {shown(values)} are not "
                                      "finite numbers with one value more than boundaries")
    return Schedule(name, settings, floatx)


# --------------------------------------------------------------------------- gradients


@dataclass(frozen=True)
class KerasGradient:
    """A gradient as TensorFlow hands it to Keras's optimizer.

    An embedding lookup's gradient is ``tf.IndexedSlices``: one row per lookup, duplicates
    kept. Keras's element-wise ops then square, take the absolute value of and clip each
    lookup's row before the rows are summed, so a token seen twice adds g₁² + g₂² to
    Adam's v where a dense gradient adds (g₁ + g₂)², and ``clipnorm`` measures the rows.
    ``global_clipnorm`` multiplies by a 0-d tensor, which densifies them. PyTorch gives
    the same per-lookup rows when the embedding is ``sparse=True`` (an uncoalesced sparse
    gradient).
    """

    values: torch.Tensor  # dense gradient, or one row per lookup
    rows: torch.Tensor | None = None  # the looked-up rows (None: dense)
    shape: tuple[int, ...] = ()

    @staticmethod
    def of(grad: torch.Tensor) -> KerasGradient:
        if grad.is_sparse:
            return KerasGradient(grad._values(), grad._indices()[0], tuple(grad.shape))
        return KerasGradient(grad)

    def _rows_summed(self, values: torch.Tensor) -> torch.Tensor:
        if self.rows is None:
            return values
        return torch.zeros(self.shape, dtype=values.dtype).index_add_(0, self.rows, values)

    @property
    def dense(self) -> torch.Tensor:
        return self._rows_summed(self.values)

    @property
    def square(self) -> torch.Tensor:
        return self._rows_summed(self.values.square())

    @property
    def abs(self) -> torch.Tensor:
        return self._rows_summed(self.values.abs())

    def sum_of_squares(self) -> torch.Tensor:
        return self.values.square().sum()

    def map(self, values: torch.Tensor) -> KerasGradient:
        return KerasGradient(values, self.rows, self.shape)


# --------------------------------------------------------------------------- the base class


class KerasOptimizer(torch.optim.Optimizer):
    """Keras's ``apply``: clip gradients, apply weight decay, update each parameter, count.

    ``iterations`` is Keras's counter (the schedules and bias corrections read it); each
    parameter's state holds Keras's slot variables under Keras's names (``SLOTS``).
    """

    SLOTS: ClassVar[tuple[str, ...]] = ()
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: Iterable[Any], *, learning_rate: float | Schedule = 0.001, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 weight_decay: float | None = None, floatx: str = "float32", **hyper: Any) -> None:
        unknown = sorted(set(hyper) - set(self.DEFAULTS))
        if unknown:
            raise TrainingConfigError(f"{type(self).__name__} has no setting {unknown[0]!r}; "
                                      f"its settings: {', '.join(self.DEFAULTS) or 'none'}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise TrainingConfigError("only one of clipnorm, clipvalue and global_clipnorm may be set (as in Keras)")
        super().__init__(params, {**self.DEFAULTS, **hyper})
        self.floatx = floatx
        self.schedule = learning_rate if isinstance(learning_rate, Schedule) else None
        # Keras keeps a constant rate in a floatx variable: 0.001 becomes float32(0.001).
        self.constant_rate = None if self.schedule else float(np.dtype(floatx).type(learning_rate))
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.weight_decay = weight_decay
        self.iterations = 0

    def learning_rate(self) -> float:
        """The rate of the coming step (a schedule reads the iteration count before it)."""
        return self.schedule(self.iterations) if self.schedule else float(self.constant_rate or 0.0)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not params:
            raise TrainingConfigError("no parameter has a gradient: call backward() on the loss first")
        grads = self._clip([KerasGradient.of(p.grad) for p in params if p.grad is not None])
        rate = self.learning_rate()
        if self.weight_decay:
            for p in params:
                p.sub_(p * _tf_cast(self.weight_decay, p) * _scalar(rate, p))
        self._before_updates(params)
        hyper = {p: group for group in self.param_groups for p in group["params"]}
        for p, g in zip(params, grads, strict=True):
            state = self.state[p]
            if not state:
                self._init_state(p, state, hyper[p])
            self._update(p, g, state, _scalar(rate, p), hyper[p])
        self.iterations += 1
        return loss

    def _clip(self, grads: list[KerasGradient]) -> list[KerasGradient]:
        if self.clipnorm:  # tf.clip_by_norm: g · c / max(‖g‖, c), the norm over the lookups' rows
            return [g.map(g.values * _scalar(self.clipnorm, g.values)
                          / torch.clamp(torch.sqrt(g.sum_of_squares()), min=self.clipnorm)) for g in grads]
        if self.global_clipnorm:
            norm = torch.sqrt(sum((g.sum_of_squares() for g in grads), torch.zeros((), dtype=grads[0].values.dtype)))
            scale = self.global_clipnorm * torch.minimum(1.0 / norm, torch.tensor(1.0 / self.global_clipnorm,
                                                                                  dtype=norm.dtype))
            # Keras multiplies by a 0-d tensor, which densifies IndexedSlices: from here on the
            # embedding's rows are summed (Adam's v gets (g₁ + g₂)², not g₁² + g₂²).
            return [KerasGradient(g.dense * scale.to(g.values.dtype)) for g in grads]
        if self.clipvalue:
            return [g.map(g.values.clamp(-self.clipvalue, self.clipvalue)) for g in grads]
        return grads

    def _before_updates(self, params: Sequence[torch.Tensor]) -> None:
        """Work Keras does once per step before the per-variable updates (Nadam's product)."""

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: Mapping[str, Any]) -> None:
        for slot in self.SLOTS:
            state[slot] = torch.zeros_like(p)

    def _update(self, p: torch.Tensor, g: KerasGradient, state: dict[str, Any], lr: torch.Tensor,
                group: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _power(self, base: float, p: torch.Tensor, offset: int = 1) -> torch.Tensor:
        """``ops.power(ops.cast(base, dtype), iterations + offset)``: the base goes through float32."""
        return torch.pow(_tf_cast(base, p), _scalar(self.iterations + offset, p))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["keras_iterations"] = self.iterations
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        self.iterations = int(state_dict.pop("keras_iterations", 0))
        super().load_state_dict(state_dict)


def _scalar(value: float | int, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(value, dtype=like.dtype)


def _tf_cast(value: float, like: torch.Tensor) -> torch.Tensor:
    """Keras's ``ops.cast(python_float, dtype)``: TensorFlow makes a float32 tensor first, so
    0.999 becomes 0.9990000128746033 even in float64. Keras casts β, momentum, decay this way."""
    return torch.tensor(float(np.float32(value)), dtype=like.dtype)


# --------------------------------------------------------------------------- the families


class SGD(KerasOptimizer):
    """Keras SGD: the velocity holds the learning rate (m = μm − ηg; p += m, or μm − ηg with Nesterov).

    ``torch.optim.SGD`` keeps the rate outside (b = μb + g; p −= ηb): the two agree only while
    the rate is constant. Without momentum both are p −= ηg.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {"momentum": 0.0, "nesterov": False}

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: Mapping[str, Any]) -> None:
        if group["momentum"]:
            state["momentum"] = torch.zeros_like(p)

    def _update(self, p, g, state, lr, group):
        if not group["momentum"]:
            p.sub_(g.dense * lr)
            return
        m, momentum = state["momentum"], _tf_cast(group["momentum"], p)
        m.copy_(m * momentum - g.dense * lr)
        p.add_(m * momentum - g.dense * lr if group["nesterov"] else m)


class Adam(KerasOptimizer):
    """Keras Adam: α = η·√(1−β₂ᵗ)/(1−β₁ᵗ); p −= α·m/(√v + ε), ε (default 1e-7) outside the correction.

    ``torch.optim.Adam`` divides by √v/√(1−β₂ᵗ) + ε (default 1e-8): a different ε in effect.
    """

    SLOTS: ClassVar[tuple[str, ...]] = ("momentum", "velocity")
    DEFAULTS: ClassVar[dict[str, Any]] = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: Mapping[str, Any]) -> None:
        super()._init_state(p, state, group)
        if group["amsgrad"]:
            state["velocity_hat"] = torch.zeros_like(p)

    def _update(self, p, g, state, lr, group):
        b1, b2 = group["beta_1"], group["beta_2"]
        alpha = lr * torch.sqrt(1 - self._power(b2, p)) / (1 - self._power(b1, p))
        m, v = state["momentum"], state["velocity"]
        m.add_((g.dense - m) * (1 - b1))
        v.add_((g.square - v) * (1 - b2))
        if group["amsgrad"]:
            state["velocity_hat"].copy_(torch.maximum(state["velocity_hat"], v))
            v = state["velocity_hat"]
        p.sub_((m * alpha) / (torch.sqrt(v) + group["epsilon"]))


class AdamW(Adam):
    """Keras AdamW: Adam plus decoupled decay p −= p·λ·η before the update (λ defaults to 0.004)."""


class RMSprop(KerasOptimizer):
    """Keras RMSprop: v = ρv + (1−ρ)g²; p −= ηg/√(v + ε) (ε inside the root, ρ 0.9 by default).

    ``torch.optim.RMSprop`` uses α 0.99 and √v + ε; its momentum buffer is the same.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: Mapping[str, Any]) -> None:
        state["velocity"] = torch.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum"] = torch.zeros_like(p)
        if group["centered"]:
            state["average_gradient"] = torch.zeros_like(p)

    def _update(self, p, g, state, lr, group):
        rho, v = group["rho"], state["velocity"]
        v.copy_(rho * v + (1 - rho) * g.square)
        if group["centered"]:
            average = state["average_gradient"]
            average.copy_(rho * average + (1 - rho) * g.dense)
            denominator = v - average.square() + group["epsilon"]
        else:
            denominator = v + group["epsilon"]
        increment = (lr * g.dense) / torch.sqrt(denominator)
        if group["momentum"] > 0:
            m = state["momentum"]
            m.copy_(group["momentum"] * m + increment)
            p.sub_(m)
        else:
            p.sub_(increment)


class Adagrad(KerasOptimizer):
    """Keras Adagrad: the accumulator starts at 0.1 and p −= ηg/√(acc + ε).

    ``torch.optim.Adagrad`` starts at 0 and divides by √acc + ε (1e-10).
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: Mapping[str, Any]) -> None:
        # keras.initializers.Constant casts through float32 too: 0.1 starts as 0.10000000149011612
        state["accumulator"] = torch.full_like(p, float(np.float32(group["initial_accumulator_value"])))

    def _update(self, p, g, state, lr, group):
        acc = state["accumulator"]
        acc.add_(g.square)
        p.sub_((lr * g.dense) / torch.sqrt(acc + group["epsilon"]))


class Adamax(KerasOptimizer):
    """Keras Adamax: u = max(β₂u, |g|); p −= ηm/((1−β₁ᵗ)(u + ε)).

    ``torch.optim.Adamax`` adds ε inside the max instead.
    """

    SLOTS: ClassVar[tuple[str, ...]] = ("m", "u")
    DEFAULTS: ClassVar[dict[str, Any]] = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def _update(self, p, g, state, lr, group):
        m, u = state["m"], state["u"]
        m.add_((g.dense - m) * (1 - group["beta_1"]))
        u.copy_(torch.maximum(group["beta_2"] * u, g.abs))
        p.sub_((lr * m) / ((1 - self._power(group["beta_1"], p)) * (u + group["epsilon"])))


class Nadam(KerasOptimizer):
    """Keras Nadam: Dozat's momentum schedule μₜ = β₁(1 − ½·0.96ᵗ), its running product kept in
    the optimizer (``u_product``), ε outside √v̂. ``torch.optim.NAdam`` uses a 0.004 decay."""

    SLOTS: ClassVar[tuple[str, ...]] = ("momentum", "velocity")
    DEFAULTS: ClassVar[dict[str, Any]] = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(self, params: Iterable[Any], **settings: Any) -> None:
        super().__init__(params, **settings)
        self.u_product: torch.Tensor | None = None

    def _before_updates(self, params: Sequence[torch.Tensor]) -> None:
        beta_1 = self.param_groups[0]["beta_1"]
        if self.u_product is None:
            self.u_product = torch.ones((), dtype=params[0].dtype)
        decay = torch.pow(_scalar(0.96, self.u_product), _scalar(self.iterations + 1, self.u_product))
        self.u_product = self.u_product * beta_1 * (1.0 - 0.5 * decay)

    def _update(self, p, g, state, lr, group):
        assert self.u_product is not None
        b1, b2 = _tf_cast(group["beta_1"], p), _tf_cast(group["beta_2"], p)
        u_t = b1 * (1.0 - 0.5 * self._power(0.96, p))
        u_t_1 = b1 * (1.0 - 0.5 * self._power(0.96, p, offset=2))
        u_product_t = self.u_product.to(p.dtype)
        u_product_t_1 = u_product_t * u_t_1
        m, v = state["momentum"], state["velocity"]
        m.add_((g.dense - m) * (1 - b1))
        v.add_((g.square - v) * (1 - b2))
        m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g.dense) / (1 - u_product_t)
        v_hat = v / (1 - self._power(group["beta_2"], p))
        p.sub_((m_hat * lr) / (torch.sqrt(v_hat) + group["epsilon"]))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["keras_u_product"] = None if self.u_product is None else float(self.u_product)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        product = state_dict.pop("keras_u_product", None)
        super().load_state_dict(state_dict)
        self.u_product = None if product is None else torch.tensor(product, dtype=torch.float64)


OPTIMIZERS: dict[str, type[KerasOptimizer]] = {
    "SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adagrad": Adagrad, "Adamax": Adamax, "Nadam": Nadam,
}
_IGNORED = ("name", "loss_scale_factor", "gradient_accumulation_steps", "use_ema", "ema_momentum",
            "ema_overwrite_frequency", "jit_compile", "is_legacy_optimizer", "decay")


def make_optimizer(config: Mapping[str, Any] | str, params: Iterable[Any], floatx: str = "float32") -> torch.optim.Optimizer:
    """The optimizer a Keras config describes (``keras.optimizers.serialize`` output or a name).

    Plain SGD with a constant rate and no clipping or decay is ``torch.optim.SGD`` itself:
    its arithmetic is Keras's (p −= ηg, η rounded to ``floatx`` as Keras does).
    """
    class_name, settings = _optimizer_parts(config)
    if class_name not in OPTIMIZERS:
        raise TrainingConfigError(f"optimizer {shown(class_name)} is not reproduced in PyTorch; "
                                  f"supported: {', '.join(OPTIMIZERS)}")
    for name in ("use_ema", "gradient_accumulation_steps", "loss_scale_factor"):
        if settings.get(name):
            raise TrainingConfigError(f"{class_name}({name}={settings[name]!r}) is not reproduced; train without it")
    kwargs = {k: v for k, v in settings.items() if k not in _IGNORED}
    if class_name == "AdamW" and kwargs.get("weight_decay") is None:
        kwargs["weight_decay"] = 0.004
    rate = kwargs.pop("learning_rate")
    if isinstance(rate, Mapping):
        rate = make_schedule(rate, floatx)
    elif not isinstance(rate, int | float) or isinstance(rate, bool):
        raise TrainingConfigError(f"{class_name} learning_rate must be a number or a schedule, got {rate!r}")
    plain = (class_name == "SGD" and not kwargs.get("momentum") and not isinstance(rate, Schedule)
             and not any(kwargs.get(k) for k in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay")))
    if plain:
        return torch.optim.SGD(params, lr=float(np.dtype(floatx).type(rate)))
    return OPTIMIZERS[class_name](params, learning_rate=rate, floatx=floatx, **kwargs)


_DEFAULT_RATES = {"SGD": 0.01}  # every other Keras optimizer starts at 0.001


def _optimizer_parts(config: Mapping[str, Any] | str) -> tuple[str, dict[str, Any]]:
    if isinstance(config, str):
        names = {name.lower(): name for name in OPTIMIZERS}
        if config.lower() not in names:
            raise TrainingConfigError(f"optimizer {shown(config)} is not reproduced in PyTorch; "
                                      f"supported: {', '.join(OPTIMIZERS)}")
        class_name = names[config.lower()]
        return class_name, {"learning_rate": _DEFAULT_RATES.get(class_name, 0.001)}
    class_name, settings = checked_entry(config, "optimizer")
    class_name = class_name.removeprefix("Custom>")  # tf.keras's legacy .h5 spelling
    class_name = {name.lower(): name for name in OPTIMIZERS}.get(class_name.lower(), class_name)
    if "lr" in settings and "learning_rate" not in settings:  # Keras 2 spelling
        settings["learning_rate"] = settings.pop("lr")
        checked_settings({"learning_rate": settings["learning_rate"]}, f"optimizer {class_name}")
    settings.setdefault("learning_rate", _DEFAULT_RATES.get(class_name, 0.001))
    return class_name, settings


