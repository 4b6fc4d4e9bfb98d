"""An independent forward pass of the architectures kvspill runs (llama, qwen2, qwen3), in
NumPy and float64, reading the GGUF itself (F32 and F16 tensors): reference logits and
greedy continuations for tests/integration/test_numpy_reference.sh. It shares no code
with kvspill; it follows the published model definitions (Hugging Face's LlamaModel,
Qwen2Model, Qwen3Model in the tensor layout of llama.cpp's GGUF conversion).

  numpy_forward.py logits MODEL TOKENS_FILE POSITIONS_FILE OUT   (the reference format)
  numpy_forward.py greedy MODEL TOKENS_FILE N [stop]             (prints N token ids; with
                   `stop`, ends after an end-of-sequence or end-of-turn token, as serving does)
  numpy_forward.py compare OURS REF N_VOCAB TOL                  (worst relative L2 error)
"""
import struct
import sys

import numpy as np

# ---- GGUF ----

SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
           12: "d"}
TENSOR_TYPES = {0: np.float32, 1: np.float16}


class Gguf:
    def __init__(self, path):
        self.buf = open(path, "rb").read()
        self.at = 0
        magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", self.buf, 0)
        assert magic == b"GGUF" and version in (2, 3), (path, magic, version)
        self.at = 24
        self.kv = {}
        for _ in range(n_kv):
            key = self.string()
            self.kv[key] = self.value(self.u("I"))
        infos = []
        for _ in range(n_tensors):
            name = self.string()
            ne = [self.u("Q") for _ in range(self.u("I"))]
            infos.append((name, ne, self.u("I"), self.u("Q")))
        align = self.kv.get("general.alignment", 32)
        base = (self.at + align - 1) // align * align
        self.tensors = {}
        for name, ne, ttype, off in infos:
            assert ttype in TENSOR_TYPES, "%s: tensor type %d (only F32, F16)" % (name, ttype)
            count = int(np.prod(ne))
            a = np.frombuffer(self.buf, TENSOR_TYPES[ttype], count, base + off)
            self.tensors[name] = a.astype(np.float64).reshape(list(reversed(ne)))

    def u(self, fmt):
        v = struct.unpack_from("<" + fmt, self.buf, self.at)[0]
        self.at += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.u("Q")
        s = self.buf[self.at:self.at + n].decode("utf-8", "replace")
        self.at += n
        return s

    def value(self, t):
        if t in SCALARS:
            return self.u(SCALARS[t])
        if t == 8:
            return self.string()
        assert t == 9, "metadata type %d" % t
        et, n = self.u("I"), self.u("Q")
        return [self.value(et) for _ in range(n)]


# ---- the model ----

class Model:
    def __init__(self, path):
        g = Gguf(path)
        self.arch = a = g.kv["general.architecture"]
        assert a in ("llama", "qwen2", "qwen3"), a
        kv = lambda k, d=None: g.kv.get("%s.%s" % (a, k), d)
        self.n_layer, self.n_head = kv("block_count"), kv("attention.head_count")
        self.n_kv = kv("attention.head_count_kv", self.n_head)
        self.hd = kv("attention.key_length", kv("embedding_length") // self.n_head)
        self.n_rot = kv("rope.dimension_count", self.hd)
        self.base = kv("rope.freq_base", 10000.0)
        self.eps = kv("attention.layer_norm_rms_epsilon", 1e-5)
        self.neox = a != "llama"  # Qwen's RoPE rotates halves; llama's GGUF, adjacent pairs
        self.t = g.tensors
        self.stop = {g.kv[k] for k in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id")
                     if k in g.kv}
        self.embd = self.t["token_embd.weight"]
        self.out = self.t.get("output.weight", self.embd)  # tied in small Qwen models

    def rope(self, x, pos):
        """x: [tokens, heads, hd] rotated in place by the positions pos."""
        half = self.n_rot // 2
        theta = pos[:, None] * self.base ** (-2.0 * np.arange(half) / self.n_rot)
        c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        if self.neox:
            a, b = x[..., :half].copy(), x[..., half:self.n_rot].copy()
            x[..., :half], x[..., half:self.n_rot] = a * c - b * s, a * s + b * c
        else:
            a, b = x[..., 0:self.n_rot:2].copy(), x[..., 1:self.n_rot:2].copy()
            x[..., 0:self.n_rot:2], x[..., 1:self.n_rot:2] = a * c - b * s, a * s + b * c

    def norm(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def hidden(self, tokens):
        """The final-normed hidden states of every position (one causal batch)."""
        n = len(tokens)
        pos = np.arange(n, dtype=np.float64)
        x = self.embd[tokens]
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for l in range(self.n_layer):
            w = lambda s: self.t["blk.%d.%s" % (l, s)]
            h = self.norm(x, w("attn_norm.weight"))
            q, k, v = h @ w("attn_q.weight").T, h @ w("attn_k.weight").T, h @ w("attn_v.weight").T
            if self.arch == "qwen2":
                q, k, v = q + w("attn_q.bias"), k + w("attn_k.bias"), v + w("attn_v.bias")
            q = q.reshape(n, self.n_head, self.hd)
            k = k.reshape(n, self.n_kv, self.hd)
            v = v.reshape(n, self.n_kv, self.hd)
            if self.arch == "qwen3":
                q, k = self.norm(q, w("attn_q_norm.weight")), self.norm(k, w("attn_k_norm.weight"))
            self.rope(q, pos)
            self.rope(k, pos)
            group = self.n_head // self.n_kv
            att = np.empty((n, self.n_head, self.hd))
            for hh in range(self.n_head):
                s = q[:, hh] @ k[:, hh // group].T / np.sqrt(self.hd) + mask
                p = np.exp(s - s.max(-1, keepdims=True))
                att[:, hh] = (p / p.sum(-1, keepdims=True)) @ v[:, hh // group]
            x = x + att.reshape(n, -1) @ w("attn_output.weight").T
            h = self.norm(x, w("ffn_norm.weight"))
            g, u = h @ w("ffn_gate.weight").T, h @ w("ffn_up.weight").T
            x = x + (g / (1 + np.exp(-g)) * u) @ w("ffn_down.weight").T
        return self.norm(x, self.t["output_norm.weight"])

    def logits(self, tokens, positions):
        return self.hidden(tokens)[positions] @ self.out.T

    def greedy(self, tokens, n, stop):
        out = []
        for _ in range(n):
            out.append(int(np.argmax(self.logits(list(tokens) + out, [len(tokens) + len(out) - 1])[0])))
            if stop and out[-1] in self.stop:
                break
        return out


def ids(path):
    return [int(t) for t in open(path).read().split()]


def main(argv):
    cmd = argv[1]
    if cmd == "logits":
        m = Model(argv[2])
        m.logits(ids(argv[3]), ids(argv[4])).astype("<f4").tofile(argv[5])
    elif cmd == "greedy":
        stop = argv[5:] == ["stop"]
        print(" ".join(map(str, Model(argv[2]).greedy(ids(argv[3]), int(argv[4]), stop))))
    elif cmd == "compare":
        ours, ref = np.fromfile(argv[2], "<f4"), np.fromfile(argv[3], "<f4")
        vocab, tol = int(argv[4]), float(argv[5])
        assert ours.size == ref.size and ref.size % vocab == 0, (ours.size, ref.size)
        ours, ref = ours.reshape(-1, vocab).astype(np.float64), ref.reshape(-1, vocab)
        worst = float(np.max(np.linalg.norm(ours - ref, axis=1) / np.linalg.norm(ref, axis=1)))
        print("%s vs %s: worst relative L2 %.3g over %d positions (tolerance %g)"
              % (argv[2], argv[3], worst, len(ref), tol))
        return 0 if worst <= tol else 1
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
