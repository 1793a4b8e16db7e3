"""SlimAdam vs AdamW on the small JAX transformer trained on standard-library source.

1. Train with AdamW (optax's own ``optax.adamw``) and record the SNR of every second moment.
2. Derive SlimAdam rules from that SNR (cutoff 1.0, norms never compressed).
3. Train again from the same initialisation and data order with AdamW and with SlimAdam using those
   rules, and print side by side: final training loss (mean of the last 10% of steps), validation loss,
   optimizer state bytes (all of it, and the second moments alone) and the median step time, with the
   SlimAdam / AdamW ratio.

Run:  /work/venv/bin/python benchmarks/slimadam_vs_adamw.py [--width 64 --depth 2 --lr 3e-3 --steps 300]
Timings on a shared CPU are noisy; the step-time ratio is the number to read.
"""

from __future__ import annotations

import argparse
import time

from fitting.snr import compression_summary, derive_rules
from gemstones.snr.slimadam import named_parameters, rules_by_name, second_moment_size, state_size
from gemstones.snr.sweep import RunSpec, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cutoff", type=float, default=1.0)
    args = parser.parse_args()
    spec = RunSpec(width=args.width, depth=args.depth, lr=args.lr, steps=args.steps)

    start = time.perf_counter()
    probe = train(spec)  # AdamW, recording SNR
    norms = set(probe.snr.filter(probe.snr["layer_type"] == "norm")["tensor"])
    rules = derive_rules(probe.snr, args.cutoff, never_compress=lambda name: name in norms)
    shapes = {name: tuple(p.shape) for name, p in named_parameters(probe.params).items()}
    summary = compression_summary(rules, shapes)
    print(
        f"model: width {spec.width}, depth {spec.depth}, {probe.n_params:,} parameters; "
        f"{spec.steps} steps, batch {spec.batch_size} x {spec.seq_len} bytes, peak lr {spec.lr:g}"
    )
    print(
        f"rules from the AdamW run's SNR (cutoff {args.cutoff:g}): {summary.compressed_tensors}/"
        f"{summary.tensors} tensors compressed, second-moment entries {summary.total_entries:,} -> "
        f"{summary.kept_entries:,} (saved {summary.fraction_saved:.2%}) "
        f"[probe run {time.perf_counter() - start:.1f} s]"
    )
    for name, rule in rules.items():
        print(f"  {name:28s} {shapes[name]!s:14s} rule {rule}")

    adamw = train(spec, record_snr=False)
    slim = train(spec, rules=rules_by_name(rules), slim=True, record_snr=False)

    rows = [
        (
            "final train loss",
            f"{adamw.final_loss:.4f}",
            f"{slim.final_loss:.4f}",
            f"{slim.final_loss - adamw.final_loss:+.4f} (diff)",
        ),
        (
            "validation loss",
            f"{adamw.val_loss:.4f}",
            f"{slim.val_loss:.4f}",
            f"{slim.val_loss - adamw.val_loss:+.4f} (diff)",
        ),
    ]
    for label, size in (
        ("optimizer state bytes", state_size),
        ("second-moment bytes", second_moment_size),
    ):
        a, b = size(adamw.opt_state).bytes, size(slim.opt_state).bytes
        rows.append((label, f"{a:,}", f"{b:,}", f"{b / a:.4f} (ratio)"))
    rows.append(
        (
            "median step time [ms]",
            f"{1e3 * adamw.seconds_per_step:.2f}",
            f"{1e3 * slim.seconds_per_step:.2f}",
            f"{slim.seconds_per_step / adamw.seconds_per_step:.3f} (ratio)",
        )
    )
    print(f"\n{'':24s}{'AdamW':>14s}{'SlimAdam':>14s}   SlimAdam vs AdamW")
    for label, a, b, c in rows:
        print(f"{label:24s}{a:>14s}{b:>14s}   {c}")


if __name__ == "__main__":
    main()
