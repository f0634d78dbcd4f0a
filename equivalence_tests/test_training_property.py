"""The training property, collected by ``pytest --pyargs equivalence_tests --zoo-train``.

For any config, optimizer family and settings (rate or schedule, clipping), loss the
outputs admit and regularizers, a few steps of Keras's ``train_on_batch`` and of
``zoo.training_setup(...).step`` from the same saved model and the same batches leave the
same loss, weights, BatchNorm statistics and optimizer slots. Dropout runs at rate 0.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from equivalence_tests._strategies import training_examples
from equivalence_tests._train_check import train_both
from equivalence_tests.plugin import example_settings


def test_keras_and_pytorch_train_alike(zoo_train_arch: str, zoo_dtype: str, request: Any) -> None:
    @example_settings(request)
    @given(st.data())
    def prove(data: Any) -> None:
        config, seed, optimizer, loss, regularizers, steps = data.draw(training_examples(zoo_train_arch),
                                                                       label="example")
        report = train_both(zoo_train_arch, config, zoo_dtype, optimizer, loss, steps, seed=seed,
                            regularizers=regularizers)
        assert report.ok, report.problem

    prove()
