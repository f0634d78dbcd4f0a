"""Speed and memory figures, measured side by side on this machine (``nox -s bench``).

Every figure is the median of several runs; results are printed and saved to
``bench/results.json`` and ``bench/results.md``. Targets (DESIGN.md) are reported as
met or missed, never asserted inside the test suite.

    python bench/run.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

HERE = Path(__file__).parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def make_resnet_files(directory: Path) -> dict[str, Path]:
    """Full-size ResNet50 (224×224, 1000 classes) as .keras (Keras 3) and legacy .h5 (tf.keras)."""
    import keras
    import tf_keras

    files = {"keras": directory / "resnet50.keras", "legacy_h5": directory / "resnet50.h5"}
    keras.applications.ResNet50(weights=None).save(files["keras"])
    tf_keras.applications.ResNet50(weights=None).save(str(files["legacy_h5"]))
    return files


def make_tiny_file(directory: Path) -> Path:
    import keras

    path = directory / "tiny-mobilenet_v2.keras"  # 1.6 MB: warms the same code paths, holds no memory worth noting
    keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=2, alpha=0.35).save(path)
    return path


def bench_end_to_end(files: dict[str, Path], directory: Path, runs: int) -> list[dict[str, Any]]:
    """`zoo port resnet50 FILE -o OUT` against loading with Keras and converting get_weights()."""
    rows = []
    for label, path in files.items():
        loader = "tf_keras" if label == "legacy_h5" else "keras"
        ours = median_seconds([sys.executable, "-m", "zoo", "port", "resnet50", str(path), "-o",
                               str(directory / f"out-{label}.safetensors")], runs)
        theirs = median_seconds(python(
            f"import {loader} as K, torch\n"
            f"model = K.models.load_model({str(path)!r}, compile=False)\n"
            "state = [torch.from_numpy(w) for w in model.get_weights()]\n"), runs)
        rows.append({"file": label, "zoo_port_s": ours, "keras_load_convert_s": theirs,
                     "speedup": theirs / ours, "target": ">= 3x", "met": theirs / ours >= 3})
    return rows


def bench_in_process(files: dict[str, Path], tiny: Path, runs: int) -> list[dict[str, Any]]:
    """The port itself against h5py alone reading the same arrays; peak extra memory."""
    import h5py
    import numpy as np
    import torch

    import weights_port
    import zoo

    rows = []
    for label, path in files.items():
        def port(path: Path = path) -> dict[str, np.ndarray]:
            with torch.device("meta"):
                model = zoo._api.architecture("resnet50").build_torch(num_classes=1000, input_size=224,
                                                                       include_top=True, dtype="float32")
            with weights_port.open_keras(path) as source:
                return weights_port.keras_to_state_dict(source, model)

        def h5py_only(path: Path = path) -> list[np.ndarray]:
            arrays: list[np.ndarray] = []
            with weights_port.open_keras(path) as source:  # the same file handle kind (zip member view)
                handle = next(c for c in source._closers if isinstance(c, h5py.File))
                handle.visititems(lambda n, o: arrays.append(o[()]) if isinstance(o, h5py.Dataset) else None)
            return arrays

        port_times, read_times = [], []
        for _ in range(runs):
            started = time.perf_counter()
            arrays = h5py_only()
            weight_bytes, largest = sum(a.nbytes for a in arrays), max(a.nbytes for a in arrays)
            del arrays
            read_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            state = port()
            port_times.append(time.perf_counter() - started)
            del state
        peak = peak_extra_bytes(path, tiny)
        ratio = statistics.median(port_times) / statistics.median(read_times)
        rows.append({"file": label, "port_s": statistics.median(port_times), "h5py_read_s": statistics.median(read_times),
                     "ratio": ratio, "time_target": "<= 2x", "time_met": ratio <= 2,
                     "weight_mb": weight_bytes / 1e6, "peak_mb": peak / 1e6, "peak_over_weights": peak / weight_bytes,
                     "largest_array_mb": largest / 1e6,
                     "memory_target": "one copy + a few layers in flight (<= weights + 4 x largest array)",
                     "memory_met": peak <= weight_bytes + 4 * largest})
    return rows


_PEAK_CODE = """
import re, sys, torch, zoo, weights_port
def status(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
with torch.device("meta"):
    model = zoo._api.architecture("resnet50").build_torch(num_classes=1000, input_size=224, include_top=True,
                                                           dtype="float32")
with torch.device("meta"):  # a tiny port first pages in library code, which is not the port's memory
    tiny = zoo._api.architecture("mobilenet_v2").build_torch(num_classes=2, input_size=32, alpha=0.35,
                                                              dtype="float32")
with weights_port.open_keras(sys.argv[2]) as source:
    weights_port.keras_to_state_dict(source, tiny)
baseline = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
with weights_port.open_keras(sys.argv[1]) as source:
    state = weights_port.keras_to_state_dict(source, model)
print(status("VmHWM") - baseline)
"""


def peak_extra_bytes(path: Path, warm_up: Path) -> int:
    """Peak resident memory the port adds, in a fresh process (NumPy and torch allocations alike)."""
    result = subprocess.run([sys.executable, "-c", _PEAK_CODE, str(path), str(warm_up)], check=True,
                            capture_output=True, text=True, env=ENV)
    return int(result.stdout.strip().splitlines()[-1])


def bench_import_and_build(runs: int) -> list[dict[str, Any]]:
    """`import zoo` + zoo.get(name, backend="torch") in a fresh process; TensorFlow must stay out."""
    import zoo

    rows = []
    for name in zoo.list_models():
        code = ("import time, sys\nstarted = time.perf_counter()\nimport zoo\n"
                f"zoo.get({name!r}, backend='torch')\n"
                "elapsed = time.perf_counter() - started\n"
                "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
                "print(elapsed)\n")
        times = [float(subprocess.run(python(code), check=True, capture_output=True, text=True, env=ENV).stdout)
                 for _ in range(runs)]
        rows.append({"architecture": name, "import_and_get_s": statistics.median(times), "tensorflow_imported": False})
    return rows


def bench_forward(runs: int, batch: int) -> list[dict[str, Any]]:
    """PyTorch forward against Keras forward, same default config, same batch, same machine."""
    import numpy as np
    import torch

    import zoo
    from equivalence_tests import random_inputs
    from zoo._api import architecture
    from zoo._spec import resolve_config

    rows = []
    for name in zoo.list_models():
        arch = architecture(name)
        config = resolve_config(arch, {})
        specs = arch.inputs(config)
        inputs = random_inputs(specs, batch, "float32", np.random.default_rng(0))
        keras_model = zoo.get(name, backend="keras")
        torch_model = zoo.get(name, backend="torch").eval()
        torch_inputs = [torch.from_numpy(np.ascontiguousarray(s.keras_to_torch(x))) for s, x in zip(specs, inputs, strict=True)]
        keras_args = list(inputs) if len(inputs) > 1 else inputs[0]
        keras_model(keras_args, training=False)  # warm up both
        with torch.no_grad():
            torch_model(*torch_inputs)

        def timed(call: Any) -> float:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        keras_s = timed(lambda m=keras_model, a=keras_args: m(a, training=False))
        with torch.no_grad():
            torch_s = timed(lambda m=torch_model, a=torch_inputs: m(*a))
        rows.append({"architecture": name, "batch": batch, "torch_s": torch_s, "keras_s": keras_s,
                     "keras_over_torch": keras_s / torch_s})
    return rows


_CONVERT_PEAK_CODE = """
import re, sys, weights_port
def status(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
weights_port.convert(sys.argv[2])  # warm-up: library code paged in, ruff started once
baseline = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
conversion = weights_port.convert(sys.argv[1])
print(status("VmHWM") - baseline, sum(a.nbytes for a in conversion.state_dict.values()))
"""


def bench_convert(files: dict[str, Path], tiny: Path, directory: Path, runs: int, batch: int) -> list[dict[str, Any]]:
    """`zoo convert` end to end against Keras loading the file; generated forward against Keras's; peak memory."""
    import keras
    import numpy as np
    import torch

    import weights_port

    rows = []
    for label, path in files.items():
        loader = "tf_keras" if label == "legacy_h5" else "keras"
        output = str(directory / f"conv-{label}")
        ours = median_seconds([sys.executable, "-m", "zoo", "convert", str(path), "-o", output], runs)
        theirs = median_seconds(python(f"import {loader} as K; K.models.load_model({str(path)!r}, compile=False)"),
                                runs)
        result = subprocess.run([sys.executable, "-c", _CONVERT_PEAK_CODE, str(path), str(tiny)], check=True,
                                capture_output=True, text=True, env=ENV)
        peak, weight_bytes = (int(v) for v in result.stdout.split()[-2:])
        conversion = weights_port.convert(path)
        module = conversion.build()
        keras_model = keras.models.load_model(str(path), compile=False) if loader == "keras" else None
        x = np.random.default_rng(0).uniform(-1, 1, (batch, 224, 224, 3)).astype("float32")
        torch_x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        with torch.no_grad():
            module(torch_x)
            torch_s = statistics.median(_timed(lambda m=module, t=torch_x: m(t), runs))
        row = {"file": label, "zoo_convert_s": ours, "keras_load_s": theirs, "convert_speedup": theirs / ours,
               "weight_mb": weight_bytes / 1e6, "peak_mb": peak / 1e6, "peak_over_weights": peak / weight_bytes,
               "torch_forward_s": torch_s}
        if keras_model is not None:
            keras_model(x, training=False)
            keras_s = statistics.median(_timed(lambda m=keras_model, a=x: m(a, training=False), runs))
            row.update({"keras_forward_s": keras_s, "keras_over_torch": keras_s / torch_s})
        rows.append(row)
    return rows


_FORWARD_PEAK_CODE = r"""
import re, sys
import numpy as np, torch
import weights_port
def status(field):
    return int(re.search(field + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
path, mode, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "zoo":
    import zoo
    module = zoo.get(sys.argv[4], backend="torch").eval()
else:
    module = weights_port.convert(path).build(keep_intermediates=mode == "kept")
x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (batch, 3, 224, 224)).astype("float32"))
with torch.no_grad():
    module(x[:1])
    baseline = status("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")
    module(x)
print(status("VmHWM") - baseline)
"""


def bench_forward_memory(directory: Path, batch: int) -> list[dict[str, Any]]:
    """Peak memory of one converted ``forward`` (batch 32, 224×224, no_grad) as written (each intermediate released
    after its last use), with every intermediate kept until ``forward`` returns (the generator's old form), and the
    zoo's hand-written module of the same architecture."""
    import keras

    rows = []
    for name, build in (("resnet50", keras.applications.ResNet50), ("mobilenet_v2", keras.applications.MobileNetV2)):
        path = directory / f"{name}-memory.keras"
        build(weights=None).save(path)
        row: dict[str, Any] = {"model": name, "batch": batch}
        for mode in ("released", "kept", "zoo"):
            result = subprocess.run([sys.executable, "-c", _FORWARD_PEAK_CODE, str(path), mode, str(batch), name],
                                    capture_output=True, text=True, env={**ENV, "OMP_WAIT_POLICY": "PASSIVE"})
            row[f"{mode}_peak_mb"] = int(result.stdout.split()[-1]) / 1e6 if result.returncode == 0 else None
        if row["released_peak_mb"] and row["kept_peak_mb"]:
            row["kept_over_released"] = row["kept_peak_mb"] / row["released_peak_mb"]
        rows.append(row)
    return rows


_THROUGHPUT_CODE = r"""
import re, statistics, sys, time
import numpy as np
path, mode, batch, name, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def status(field):
    return int(re.search(field + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
images = np.random.default_rng(0).uniform(-1, 1, (batch, 224, 224, 3)).astype("float32")
if mode == "keras":
    import keras
    model = keras.models.load_model(path, compile=False)
    call = lambda: model.predict_on_batch(images)
else:
    import torch
    if mode.startswith("zoo"):
        import zoo
        module = zoo.get(name, backend="torch").eval()
    else:
        import weights_port
        module = weights_port.convert(path).build()
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    if "channels_last" in mode:
        module, x = module.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    if "frozen" in mode:  # inductor folds the weights in as constants (oneDNN prepacks them): inference only
        import torch._inductor.config
        torch._inductor.config.freezing = True
    if "compiled" in mode:
        module = torch.compile(module)
    def call():
        with torch.no_grad():
            return module(x)
call(); call()
baseline = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
times = []
for _ in range(runs):
    started = time.perf_counter(); call(); times.append(time.perf_counter() - started)
print(statistics.median(times), status("VmHWM") - baseline)
"""

_THROUGHPUT_MODES = ("generated", "zoo", "generated_channels_last", "zoo_channels_last", "generated_compiled",
                     "zoo_compiled", "generated_compiled_channels_last", "generated_compiled_frozen_channels_last",
                     "generated_channels_last_reused", "generated_compiled_frozen_channels_last_reused", "keras")

_REUSED_MEMORY = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**40)}
"""glibc's malloc serves a tensor over 32 MB (MobileNetV2's 154 MB activations at batch 32) from a fresh ``mmap``
and unmaps it when freed, so every forward faults its pages in again: oneDNN's verbose log showed the same
convolution kernels as TensorFlow's (``brgconv_1x1:avx2``) taking 3-4x as long wherever the output was that
large. TensorFlow's own allocator keeps its arena. The ``_reused`` modes keep freed memory in the heap (no mmap,
no trim), as a caching allocator (jemalloc, tcmalloc: PyTorch's CPU tuning guide) does; their resident set holds
the peak, so no peak is reported for them."""


def bench_generated_forward(directory: Path, runs: int, batches: tuple[int, ...] = (1, 32)) -> list[dict[str, Any]]:
    """The converted module's forward (``zoo convert`` of keras.applications at 224×224, no_grad) against the zoo's
    hand-written module of the same architecture and Keras on TensorFlow (``predict_on_batch``, oneDNN on, as
    TensorFlow ships), eager, channels-last and under ``torch.compile``: seconds per batch (median) and the
    forward's peak memory above the resident set before it (TensorFlow reuses the arena its warm-up calls grew, so
    Keras's figure is not comparable). Each in its own process, one after another in one run, with
    ``OMP_WAIT_POLICY=PASSIVE`` (torch's busy-waiting OpenMP threads otherwise slow a shared 2-core machine); the
    compiled figure against Keras is the fastest of contiguous, channels-last, and channels-last with inductor's
    freezing (``torch._inductor.config.freezing``: weights folded in as constants, for inference); and apart, with
    freed memory kept for reuse (``_REUSED_MEMORY``), as TensorFlow keeps its own."""
    import keras

    rows = []
    for name, build in (("resnet50", keras.applications.ResNet50), ("mobilenet_v2", keras.applications.MobileNetV2)):
        path = directory / f"{name}-throughput.keras"
        build(weights=None).save(path)
        for batch in batches:
            row: dict[str, Any] = {"model": name, "batch": batch}
            for mode in _THROUGHPUT_MODES:
                env = {**ENV, "OMP_WAIT_POLICY": "PASSIVE", "TF_ENABLE_ONEDNN_OPTS": "1" if mode == "keras" else "0",
                       **(_REUSED_MEMORY if mode.endswith("_reused") else {})}
                result = subprocess.run([sys.executable, "-c", _THROUGHPUT_CODE, str(path), mode, str(batch), name,
                                         str(runs)], capture_output=True, text=True, env=env)
                seconds, peak = (float(v) for v in result.stdout.split()[-2:]) if result.returncode == 0 else \
                    (float("nan"), float("nan"))
                row[f"{mode}_s"] = seconds
                if not mode.endswith("_reused"):
                    row[f"{mode}_peak_mb"] = peak / 1e6
            row["generated_over_zoo_speed"] = row["zoo_s"] / row["generated_s"]
            row["generated_over_zoo_memory"] = row["generated_peak_mb"] / max(row["zoo_peak_mb"], 1e-9)
            row["compiled_over_keras_speed"] = row["keras_s"] / min(
                row["generated_compiled_s"], row["generated_compiled_channels_last_s"],
                row["generated_compiled_frozen_channels_last_s"])
            row["compiled_reused_over_keras_speed"] = row["keras_s"] / row[
                "generated_compiled_frozen_channels_last_reused_s"]
            row["targets"] = "speed >= 0.95x zoo, memory <= 1.1x zoo, compiled >= 1x keras"
            row["met"] = bool(row["generated_over_zoo_speed"] >= 0.95 and row["generated_over_zoo_memory"] <= 1.1
                              and row["compiled_over_keras_speed"] >= 1.0)
            row["met_with_memory_reused"] = bool(row["generated_over_zoo_speed"] >= 0.95 and
                                                 row["generated_over_zoo_memory"] <= 1.1 and
                                                 max(row["compiled_over_keras_speed"],
                                                     row["compiled_reused_over_keras_speed"]) >= 1.0)
            rows.append(row)
    return rows


def _timed(call: Any, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def bench_equivalence_suite() -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "zoo", "check", "--all"], capture_output=True, text=True, env=ENV)
    return {"command": "zoo check --all (float32, 3 examples each)", "seconds": time.perf_counter() - started,
            "passed": result.returncode == 0}


def bench_graph_resolution(runs: int) -> list[dict[str, Any]]:
    """Resolving a chain of N layers listed in order and last-first: the cost must not grow with N² (issue 16)."""
    from weights_port.conversion import read_graph

    def config(n: int, reverse: bool) -> dict[str, Any]:
        def dense(i: int) -> dict[str, Any]:
            ref = {"class_name": "__keras_tensor__", "config": {"keras_history": ["in" if i == 0 else f"d{i - 1}", 0, 0]}}
            return {"class_name": "Dense", "name": f"d{i}", "config": {"name": f"d{i}"}, "inbound_nodes": [{"args": [ref]}]}

        layers = [{"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [None, 3]},
                   "inbound_nodes": []}] + [dense(i) for i in range(n)]
        return {"class_name": "Functional", "config": {"name": "m", "layers": layers[::-1] if reverse else layers,
                                                       "input_layers": [["in", 0, 0]],
                                                       "output_layers": [[f"d{n - 1}", 0, 0]]}}

    rows = []
    for n in (1_000, 10_000, 100_000):
        in_order, reverse = config(n, False), config(n, True)
        forward = statistics.median(_timed(lambda c=in_order: read_graph(c), runs))
        backward = statistics.median(_timed(lambda c=reverse: read_graph(c), runs))
        rows.append({"layers": n, "in order s": forward, "last-first s": backward,
                     "last-first / in order": backward / forward, "µs per layer (last-first)": 1e6 * backward / n})
    return rows


def markdown(results: dict[str, Any]) -> str:
    lines = [f"# Benchmarks ({results['machine']})", ""]
    for title, rows in (("End-to-end port of a full-size ResNet50", results["end_to_end"]),
                        ("In-process port against h5py alone", results["in_process"]),
                        ("import zoo + zoo.get(name, backend='torch')", results["import_and_build"]),
                        ("Forward pass, PyTorch against Keras", results["forward"]),
                        ("zoo convert of a full-size ResNet50 (forward at the --batch size)", results["convert"]),
                        ("Peak memory of a converted forward: intermediates released against kept, and the zoo's "
                         "hand-written module", results.get("forward_memory", [])),
                        ("Graph resolution of a layer chain (weights_port.conversion.read_graph)",
                         results.get("graph", [])),
                        ("Forward of a converted keras.applications model against the zoo's hand-written module and "
                         "Keras on TensorFlow: seconds per batch, peak MB above the resident set; eager, channels-last "
                         "and torch.compile (also with inductor's freezing); _reused: glibc keeps freed memory "
                         "(MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=2**40); one process each, "
                         "OMP_WAIT_POLICY=PASSIVE",
                         results.get("generated_forward", []))):
        lines += [f"## {title}", ""]
        if rows:
            keys = list(rows[0])
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()) + " |"
                      for row in rows]
        lines.append("")
    suite = results.get("equivalence_suite")
    if suite:
        lines += ["## Equivalence suite", "", f"{suite['command']}: {suite['seconds']:.1f}s, passed: {suite['passed']}",
                  ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=None, metavar="SECTION",
                        help="end_to_end in_process import_and_build forward convert forward_memory graph "
                             "equivalence_suite generated_forward")
    args = parser.parse_args()
    wanted = set(args.only or ["end_to_end", "in_process", "import_and_build", "forward", "convert", "forward_memory",
                               "graph", "equivalence_suite", "generated_forward"])
    saved = HERE / "results.json"
    results: dict[str, Any] = json.loads(saved.read_text()) if args.only and saved.exists() else {}
    results.update({"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                    "runs": args.runs})
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        files = make_resnet_files(Path(tmp))
        tiny = make_tiny_file(Path(tmp))
        if "end_to_end" in wanted:
            results["end_to_end"] = bench_end_to_end(files, Path(tmp), args.runs)
        if "in_process" in wanted:
            results["in_process"] = bench_in_process(files, tiny, args.runs)
        if "convert" in wanted:
            results["convert"] = bench_convert(files, tiny, Path(tmp), args.runs, args.batch)
        if "forward_memory" in wanted:
            results["forward_memory"] = bench_forward_memory(Path(tmp), args.batch)
        if "generated_forward" in wanted:
            results["generated_forward"] = bench_generated_forward(Path(tmp), args.runs)
    if "import_and_build" in wanted:
        results["import_and_build"] = bench_import_and_build(args.runs)
    if "forward" in wanted:
        results["forward"] = bench_forward(args.runs, args.batch)
    if "graph" in wanted:
        results["graph"] = bench_graph_resolution(args.runs)
    if "equivalence_suite" in wanted:
        results["equivalence_suite"] = bench_equivalence_suite()
    for section in ("end_to_end", "in_process", "import_and_build", "forward", "convert", "forward_memory"):
        results.setdefault(section, [])
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    text = markdown(results)
    (HERE / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
