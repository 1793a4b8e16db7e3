"""Forward-pass throughput of gemstones' JAX Gemma against transformers' GemmaForCausalLM (torch).

Both read the same random-weight checkpoint in the suite's 256x23 shape (hidden 256, 23 layers, 2 heads
of 128, 1 KV head, MLP 1024, vocab 50304, untied head, float32; written here with numpy + safetensors).
Each (implementation, batch x sequence) measurement runs in its own subprocess, so its peak resident
memory is its own; rounds interleave JAX and torch so drifting machine load hits both alike. Per
measurement: one warm-up call (JAX compiles there), then ``--iters`` timed calls of the full logits
forward; reported numbers are medians over calls, then over rounds. A parity line checks that both
produced the same logits on the same checkpoint.

Run from the repository root (the torch side runs under a Python that has torch and transformers)::

    /work/venv/bin/python benchmarks/eval_throughput.py \\
        --torch-python /work/oracle-venv/bin/python [--sizes 1x128,8x128,1x1024,4x512] [--rounds 3]

``GEMSTONES_TORCH_PYTHON`` may name that interpreter instead; ``--no-torch`` skips it. ``--threads 1``
runs both single-threaded (torch's thread pool spins badly on an oversubscribed machine: on a 2-core
host at load 12, torch took 0.7 s per 1x128 forward with one thread and 6-10 s with two). ``--out FILE``
also writes the raw measurements as JSON. Timings on a shared CPU are noisy: read the ratio.

Measured 2026-12-01 with ``--threads 1 --rounds 3 --iters 3 --sizes 1x128,8x128,1x1024,4x512,1x2048``
on a 2-core machine shared with other jobs (load average 8-15, so absolute numbers are low and noisy;
jax 0.10.2 CPU vs torch 2.13.0+cpu / transformers 5.24.0 with SDPA attention), median tokens/s:

    size    jax   torch  jax/torch   peak RSS MiB jax / torch
    1x128   847   180    4.7         746 / 566
    8x128   584   263    2.2         949 / 1001
    1x1024  468   365    1.3         1020 / 991
    4x512   537   284    1.9         1384 / 1473
    1x2048  332   239    1.4         1481 / 1431

JAX's first call (compilation) took 4-20 s per shape; logits of the two agreed within 1.8e-6.
With each library's default threading (2 threads each, ``--rounds 2``): 1x128 963 vs 56 tokens/s,
4x512 607 vs 125 (torch's pool suffers most from the oversubscribed cores; not a fair comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "architectures": ["GemmaForCausalLM"],
    "model_type": "gemma",
    "vocab_size": 50304,
    "hidden_size": 256,
    "intermediate_size": 1024,
    "num_hidden_layers": 23,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 128,
    "hidden_act": "gelu_pytorch_tanh",
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    "tie_word_embeddings": False,
    "max_position_embeddings": 2048,
    "attention_bias": False,
    "torch_dtype": "float32",
}


def write_checkpoint(folder: Path, seed: int = 0) -> Path:
    """Random weights in HF naming and layout, saved with safetensors' numpy API."""
    import numpy as np
    from safetensors.numpy import save_file

    if (folder / "model.safetensors").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    c = CONFIG
    h, f, v, d = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["head_dim"]
    q, kv = c["num_attention_heads"] * d, c["num_key_value_heads"] * d

    def linear(out: int, inp: int) -> np.ndarray:
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((v, h)).astype(np.float32),
        "model.norm.weight": (0.3 * rng.standard_normal(h)).astype(np.float32),
        "lm_head.weight": linear(v, h),
    }
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        tensors |= {
            p + "input_layernorm.weight": (0.3 * rng.standard_normal(h)).astype(np.float32),
            p + "post_attention_layernorm.weight": (0.3 * rng.standard_normal(h)).astype(
                np.float32
            ),
            p + "self_attn.q_proj.weight": linear(q, h),
            p + "self_attn.k_proj.weight": linear(kv, h),
            p + "self_attn.v_proj.weight": linear(kv, h),
            p + "self_attn.o_proj.weight": linear(h, q),
            p + "mlp.gate_proj.weight": linear(f, h),
            p + "mlp.up_proj.weight": linear(f, h),
            p + "mlp.down_proj.weight": linear(h, f),
        }
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2))
    return folder


# -- workers (one measurement each, in a fresh process) ----------------------------------------------


def _ids(batch: int, seq: int):
    import numpy as np

    return np.random.default_rng(1).integers(0, CONFIG["vocab_size"], size=(batch, seq))


def _jax_worker(folder: Path, batch: int, seq: int, iters: int) -> dict:
    import jax
    import numpy as np

    from gemstones.models import load_model

    model = load_model(folder)
    ids = _ids(batch, seq).astype(np.int32)
    t0 = time.perf_counter()
    out = model.logits(ids).block_until_ready()
    first = time.perf_counter() - t0
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        model.logits(ids).block_until_ready()
        times.append(time.perf_counter() - t0)
    return {
        "first_call_s": first,
        "times": times,
        "probe": np.asarray(out[0, :4, :8], dtype=np.float64).tolist(),
        "backend": jax.default_backend(),
    }


def _torch_worker(folder: Path, batch: int, seq: int, iters: int) -> dict:
    import torch
    from transformers import GemmaForCausalLM

    model = GemmaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.as_tensor(_ids(batch, seq))
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model(ids).logits
        first = time.perf_counter() - t0
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            model(ids)
            times.append(time.perf_counter() - t0)
    return {
        "first_call_s": first,
        "times": times,
        "probe": out[0, :4, :8].double().tolist(),
        "backend": f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"attn {model.config._attn_implementation}",
    }


def worker(args: argparse.Namespace) -> None:
    run = {"jax": _jax_worker, "torch": _torch_worker}[args.worker]
    result = run(Path(args.checkpoint), args.batch, args.seq, args.iters)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


# -- driver ------------------------------------------------------------------------------------------


def measure(
    python: str, impl: str, folder: Path, batch: int, seq: int, iters: int, threads: int | None
) -> dict:
    command = [python, __file__, "--worker", impl, "--checkpoint", str(folder)]
    command += ["--batch", str(batch), "--seq", str(seq), "--iters", str(iters)]
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false")
    if threads == 1:  # XLA's CPU backend has a single-thread switch, not a thread count
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=1800, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{impl} {batch}x{seq} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1x128,8x128,1x1024,4x512", help="batch x seq, comma separated"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--torch-python", default=os.environ.get("GEMSTONES_TORCH_PYTHON", ""))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="reuse/create the folder here"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--threads",
        type=int,
        choices=[1],
        default=None,
        help="1: both single-threaded (fair on a shared machine); default: each library's own",
    )
    parser.add_argument("--worker", choices=["jax", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seq", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    folder = args.checkpoint or Path(tempfile.gettempdir()) / "gemstones_bench_256x23"
    write_checkpoint(folder)
    impls = {"jax": sys.executable}
    if not args.no_torch:
        if not args.torch_python:
            parser.error(
                "give --torch-python (an interpreter with torch + transformers) or --no-torch"
            )
        impls["torch"] = args.torch_python
    threads = "single-threaded" if args.threads == 1 else "default threading"
    print(
        f"checkpoint {folder} (256x23, vocab 50304, untied, float32); {os.cpu_count()} CPUs, "
        f"{threads}, load average {os.getloadavg()[0]:.1f}"
    )
    raw: dict[tuple[str, int, int], list[dict]] = {}
    for r in range(args.rounds):
        for batch, seq in sizes:
            order = list(impls) if r % 2 == 0 else list(reversed(impls))
            for impl in order:
                res = measure(impls[impl], impl, folder, batch, seq, args.iters, args.threads)
                raw.setdefault((impl, batch, seq), []).append(res)
                print(
                    f"  round {r + 1} {impl:5s} {batch}x{seq}: "
                    f"{batch * seq / statistics.median(res['times']):10.0f} tokens/s",
                    flush=True,
                )
    print(f"\n{'size':>8} {'impl':>5} {'tokens/s':>10} {'first call s':>12} {'peak RSS MiB':>12}")
    summary = []
    for batch, seq in sizes:
        row = {"batch": batch, "seq": seq}
        for impl in impls:
            runs = raw[(impl, batch, seq)]
            tps = statistics.median(batch * seq / statistics.median(x["times"]) for x in runs)
            first = statistics.median(x["first_call_s"] for x in runs)
            rss = statistics.median(x["peak_rss_mib"] for x in runs)
            row[impl] = {
                "tokens_per_s": tps,
                "first_call_s": first,
                "peak_rss_mib": rss,
                "backend": runs[0]["backend"],
            }
            print(f"{batch:>3}x{seq:<4} {impl:>5} {tps:10.0f} {first:12.2f} {rss:12.0f}")
        if "torch" in impls:
            import numpy as np

            diff = np.abs(
                np.array(raw[("jax", batch, seq)][0]["probe"])
                - np.array(raw[("torch", batch, seq)][0]["probe"])
            ).max()
            row["jax_over_torch"] = row["jax"]["tokens_per_s"] / row["torch"]["tokens_per_s"]
            row["probe_max_abs_diff"] = float(diff)
            print(
                f"{'':>8} ratio jax/torch {row['jax_over_torch']:.2f}; "
                f"logits parity max|diff| {diff:.1e}"
            )
        summary.append(row)
    print(
        f"backends: {', '.join(sorted({r[i]['backend'] for r in summary for i in impls}))}; "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
