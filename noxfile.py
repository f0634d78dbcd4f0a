"""Sessions: tests (default suite), equivalence (thorough property run), training (the training property and
resumed free-running training), convert (every application), safety (crafted files), lint, typecheck, bench."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}


def _install(session: nox.Session) -> None:
    # The pinned CPU wheel first: an unpinned torch resolves to a multi-GB CUDA build.
    session.install("torch==2.13.0")
    session.install("-e", ".[test]")
    tf_minor = session.run(
        "python", "-c",
        "import importlib.metadata as m; print('.'.join(m.version('tensorflow').split('.')[:2]))",
        silent=True,
    ).strip()
    session.install("--no-deps", f"tf-keras=={tf_minor}.*")
    for plugin in sorted(__import__("glob").glob("plugins/*/pyproject.toml")):
        session.install("-e", plugin.rsplit("/", 1)[0])


@nox.session
def tests(session: nox.Session) -> None:
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs, env=ENV)


@nox.session
def equivalence(session: nox.Session) -> None:
    """Every registered architecture, many hypothesis examples, float32 and float64."""
    _install(session)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "equivalence_tests",
                "--hypothesis-profile=thorough", *session.posargs, env=ENV)


@nox.session
def convert(session: nox.Session) -> None:
    """Every keras.applications model converted and proven in float32 and float64 (table: sweeps/applications.md),
    every option sweep of the converter's tests (marker "sweep"), and one model per Keras layer class and
    option (table: docs/coverage.md, fails on any wrong or crashing row)."""
    _install(session)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "sweeps", "-q", *session.posargs, env=ENV)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests", "-m", "sweep", "-q", *session.posargs,
                env=ENV)
    session.run("python", "scripts/layer_coverage.py", env=ENV)


@nox.session
def training(session: nox.Session) -> None:
    """The training property for every registered architecture, float32 and float64 (hypothesis), resumed training,
    and Keras's fit against zoo.lightning.fit."""
    _install(session)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "equivalence_tests", "--zoo-train",
                "-k", "train", "--zoo-examples", "5", "-v", *session.posargs, env=ENV)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests/test_zoo/test_training_resume.py", "-m",
                "sweep or not sweep", "-v", env=ENV)
    # Keras's fit against zoo.lightning.fit: random optimizers, metrics, callbacks and batching (hypothesis)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests/test_zoo/test_lightning.py",
                "tests/test_zoo/test_lightning_metrics.py", "-m",
                "sweep or not sweep", "-v", env={**ENV, "ZOO_FIT_EXAMPLES": "40"})


@nox.session
def safety(session: nox.Session) -> None:
    """The conversion safety properties with many examples, and crafted configs cross-checked against Keras."""
    _install(session)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests/test_weights_port/test_conversion_safety.py",
                "tests/test_weights_port/test_conversion_settings.py", "-m", "sweep or not sweep", "-q",
                *session.posargs, env={**ENV, "ZOO_SAFETY_EXAMPLES": "250"})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "zoo", "weights_port", "equivalence_tests", "tests", "sweeps", "plugins", "noxfile.py",
                "bench", "scripts")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("torch==2.13.0")
    session.install("-e", ".", "mypy", "types-setuptools")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory figures; printed and saved to bench/results.json and bench/results.md."""
    _install(session)
    session.run("python", "bench/run.py", *session.posargs, env=ENV)
