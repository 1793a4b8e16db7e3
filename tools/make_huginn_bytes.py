"""Train the small byte-level Huginn model shipped in data/recurrent/huginn_bytes and write its
evaluation inputs (a cloze multiple-choice task and a held-out corpus from the standard library).

    python tools/make_huginn_bytes.py data/recurrent/huginn_bytes

Deterministic for a given Python version (the corpus is the standard library's source).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from gemstones.runs import corpus as corpus_mod
from gemstones.runs import recurrent_lm as lm
from registry.atomic import write_text_atomic

CONFIG = lm.RecurrentLMConfig(
    n_embd=48,
    n_heads=4,
    prelude=1,
    core=2,
    coda=1,
    mlp=96,
    seq_len=64,
    batch_size=16,
    train_steps=500,
    mean_recurrence=8,
    backprop_depth=4,
    learning_rate=4e-3,
    corpus_bytes=300_000,
    eval_sequences=32,
    seed=0,
)
CLOZE_ITEMS = 64
CORPUS_DOCS = 16
DOC_BYTES = 256


def held_out_documents() -> list[str]:
    """``CORPUS_DOCS`` printable-ASCII stretches of ``DOC_BYTES`` from the held-out split."""
    val = corpus_mod.load_stdlib_corpus(CONFIG.corpus_bytes).val
    step = val.size // CORPUS_DOCS
    docs = []
    for i in range(CORPUS_DOCS):
        chunk = val[i * step : i * step + DOC_BYTES].tobytes().decode("ascii", errors="ignore")
        docs.append(chunk)
    return docs


def main(out: Path) -> None:
    run_dir = out / "run"
    model = lm.load(run_dir, expected=CONFIG) or lm.train(CONFIG)
    lm.save(model, run_dir)
    shutil.copytree(run_dir / lm.MODEL_DIR, out / "model", dirs_exist_ok=True)
    shutil.copy(run_dir / lm.RUN_FILE, out / "run.json")
    shutil.rmtree(run_dir)
    rows = lm.cloze_tasks(CONFIG, CLOZE_ITEMS)
    write_text_atomic("".join(json.dumps(r) + "\n" for r in rows), out / "cloze.jsonl")
    docs = held_out_documents()
    write_text_atomic("".join(json.dumps({"text": d}) + "\n" for d in docs), out / "heldout.jsonl")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
