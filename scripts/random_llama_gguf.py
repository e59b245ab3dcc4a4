"""A random-weight Llama GGUF of mm1j's `bench decode` reference shape (hidden 512, FFN 1376, 8 layers, 8 heads,
vocab 4096), for a side-by-side decode benchmark with llama.cpp (scripts/llamacpp-decode-compare.sh).

usage: python3 random_llama_gguf.py OUT.gguf   (needs numpy and llama.cpp's gguf-py on PYTHONPATH)
"""
import sys
import types
import numpy as np

try:
    import sentencepiece  # noqa: F401  (gguf-py imports it at load; writing a GGUF does not use it)
except ImportError:
    stub = types.ModuleType("sentencepiece")
    stub.SentencePieceProcessor = object
    sys.modules["sentencepiece"] = stub
import gguf
d, f, L, H, V = 512, 1376, 8, 8, 4096
w = gguf.GGUFWriter(sys.argv[1], "llama")
w.add_name("mm1j-d512-random")
w.add_context_length(1024); w.add_embedding_length(d); w.add_block_count(L); w.add_feed_forward_length(f)
w.add_head_count(H); w.add_head_count_kv(H); w.add_rope_dimension_count(d // H)
w.add_layer_norm_rms_eps(1e-5); w.add_file_type(gguf.LlamaFileType.ALL_F32)
toks, scores, types = [], [], []
for i, t in enumerate(["<unk>", "<s>", "</s>"]):
    toks.append(t.encode()); scores.append(0.0); types.append(gguf.TokenType.CONTROL if i else gguf.TokenType.UNKNOWN)
for b in range(256):
    toks.append(("<0x%02X>" % b).encode()); scores.append(0.0); types.append(gguf.TokenType.BYTE)
while len(toks) < V:
    toks.append(("tok%d" % len(toks)).encode()); scores.append(-float(len(toks))); types.append(gguf.TokenType.NORMAL)
w.add_tokenizer_model("llama"); w.add_token_list(toks); w.add_token_scores(scores); w.add_token_types(types)
w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
rng = np.random.default_rng(0)
r = lambda *s: (rng.standard_normal(s) * 0.02).astype(np.float32)
w.add_tensor("token_embd.weight", r(V, d)); w.add_tensor("output_norm.weight", np.ones(d, np.float32))
w.add_tensor("output.weight", r(V, d))
for i in range(L):
    p = "blk.%d." % i
    w.add_tensor(p + "attn_norm.weight", np.ones(d, np.float32)); w.add_tensor(p + "ffn_norm.weight", np.ones(d, np.float32))
    for n in ["attn_q", "attn_k", "attn_v", "attn_output"]:
        w.add_tensor(p + n + ".weight", r(d, d))
    w.add_tensor(p + "ffn_gate.weight", r(f, d)); w.add_tensor(p + "ffn_up.weight", r(f, d)); w.add_tensor(p + "ffn_down.weight", r(d, f))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print("wrote", sys.argv[1])
