/**
 * A Hugging Face Llama folder (config.json, tokenizer.json, tokenizer_config.json,
 * model.safetensors) as a GGUF file llama.cpp runs: architecture `llama` with the config's
 * hyperparameters, the weights under llama.cpp's tensor names with Q and K rows permuted to its
 * RoPE layout, and the tokenizer as a GPT-2 style BPE vocabulary.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeAtomically } from '../../internal/files.js';
import {
  bool,
  f32,
  GgufError,
  i32s,
  str,
  strings,
  u32,
  writeGguf,
  type GgufTensor,
  type MetadataValue,
  type TensorTypeName,
} from './gguf.js';
import { SafetensorsFile } from './safetensors.js';

/** What `--type` chooses: the type of the matrices (norms stay F32). */
export type GgufWeightType = 'f32' | 'f16' | 'q8_0';
/** The weight types `threadweaver gguf --type` writes. */
export const GGUF_WEIGHT_TYPES = ['f32', 'f16', 'q8_0'] as const;

/** A conversion to GGUF: the Hugging Face model folder, the output file and the weight type. */
export interface GgufConvertOptions {
  /** The Hugging Face folder. */
  model: string;
  out: string;
  /** Default f16. */
  type?: GgufWeightType;
  /**
   * Write Q and K in the Hugging Face layout, unpermuted. Only for tests: the file loads and runs
   * but its RoPE pairs the wrong dimensions (the negative control of the permutation).
   */
  skipRopePermutation?: boolean;
}

/** What a conversion wrote: the GGUF file, its weight type, tensor count and size. */
export interface GgufConvertResult {
  out: string;
  bytes: number;
  tensors: number;
  type: GgufWeightType;
  vocab: number;
}

const configSchema = z.looseObject({
  model_type: z.literal('llama', { error: 'must be "llama" (a Llama-architecture checkpoint)' }),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  head_dim: z.number().int().positive().optional(),
  max_position_embeddings: z.number().int().positive(),
  rope_theta: z.number().positive().default(10000),
  rms_norm_eps: z.number().positive(),
  hidden_act: z.literal('silu', { error: 'must be "silu"' }).default('silu'),
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.literal(false, { error: 'attention biases do not convert' }).default(false),
  mlp_bias: z.literal(false, { error: 'MLP biases do not convert' }).default(false),
  rope_scaling: z.null({ error: 'RoPE scaling does not convert' }).optional(),
  bos_token_id: z.number().int().nonnegative().nullable().optional(),
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).optional(),
  pad_token_id: z.number().int().nonnegative().nullable().optional(),
});
type LlamaConfig = z.infer<typeof configSchema>;

const addedTokenSchema = z.looseObject({ id: z.number().int(), content: z.string(), special: z.boolean() });
const tokenizerSchema = z.looseObject({
  added_tokens: z.array(addedTokenSchema).default([]),
  normalizer: z.null({ error: 'normalizers do not convert' }).optional(),
  pre_tokenizer: z.null({ error: 'pre-tokenizers do not convert' }).optional(),
  model: z.looseObject({
    type: z.literal('BPE', { error: 'must be "BPE"' }),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    merges: z.array(z.unknown()).max(0, 'merges do not convert (a character-level vocabulary has none)').default([]),
    unk_token: z.string().nullable().optional(),
    byte_fallback: z.literal(false, { error: 'byte fallback does not convert' }).nullable().optional(),
  }),
});
const tokenizerConfigSchema = z.looseObject({
  chat_template: z.string().optional(),
  bos_token: z.union([z.string(), z.null(), z.looseObject({ content: z.string() })]).optional(),
  eos_token: z.union([z.string(), z.null(), z.looseObject({ content: z.string() })]).optional(),
});

/** What a folder must hold to convert. */
const NEEDED = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'] as const;

/** Convert a Hugging Face Llama folder to a GGUF file (written atomically). */
export async function convertToGguf(options: GgufConvertOptions): Promise<GgufConvertResult> {
  const dir = path.resolve(options.model);
  const missing = NEEDED.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length > 0) {
    const onlyOnnx = missing.length === 1 && missing[0] === 'model.safetensors';
    throw new GgufError(
      `${dir} has no ${missing.join(', ')}` +
        (onlyOnnx
          ? ': the converter reads the Hugging Face weights (model.safetensors), not ONNX graphs; the bundled folder ships ' +
            'ONNX only, so point --model at a copy of the full model folder'
          : ''),
    );
  }
  const type = options.type ?? 'f16';
  const config = readJson(dir, 'config.json', configSchema);
  const vocab = tokenizerVocabulary(
    readJson(dir, 'tokenizer.json', tokenizerSchema),
    readJson(dir, 'tokenizer_config.json', tokenizerConfigSchema),
    config,
  );
  const weights = await SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  try {
    const tensors = llamaTensors(weights, config, type, options.skipRopePermutation ?? false);
    const metadata = new Map<string, MetadataValue>([
      ['general.architecture', str('llama')],
      ['general.name', str(path.basename(dir))],
      ['general.file_type', u32({ f32: 0, f16: 1, q8_0: 7 }[type])],
      ['general.quantization_version', u32(2)],
      ...llamaHyperparameters(config),
      ...vocab.metadata,
    ]);
    const { bytes } = await writeAtomically(options.out, (out) => writeGguf(out, metadata, tensors));
    return { out: options.out, bytes, tensors: tensors.length, type, vocab: vocab.size };
  } finally {
    await weights.close();
  }
}

function readJson<S extends z.ZodType>(dir: string, file: string, schema: S): z.infer<S> {
  const where = path.join(dir, file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(where, 'utf8'));
  } catch (err) {
    throw new GgufError(`${where}: not valid JSON`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new GgufError(`${where}: ${issues}`);
  }
  return parsed.data;
}

function headDim(c: LlamaConfig): number {
  return c.head_dim ?? c.hidden_size / c.num_attention_heads;
}

function llamaHyperparameters(c: LlamaConfig): [string, MetadataValue][] {
  const hd = headDim(c);
  return [
    ['llama.context_length', u32(c.max_position_embeddings)],
    ['llama.embedding_length', u32(c.hidden_size)],
    ['llama.block_count', u32(c.num_hidden_layers)],
    ['llama.feed_forward_length', u32(c.intermediate_size)],
    ['llama.attention.head_count', u32(c.num_attention_heads)],
    ['llama.attention.head_count_kv', u32(c.num_key_value_heads ?? c.num_attention_heads)],
    ['llama.attention.key_length', u32(hd)],
    ['llama.attention.value_length', u32(hd)],
    ['llama.rope.dimension_count', u32(hd)],
    ['llama.rope.freq_base', f32(c.rope_theta)],
    ['llama.attention.layer_norm_rms_epsilon', f32(c.rms_norm_eps)],
    ['llama.vocab_size', u32(c.vocab_size)],
  ];
}

/** The Hugging Face → llama.cpp tensor names of one layer. */
const LAYER_TENSORS: [hf: string, gguf: string][] = [
  ['input_layernorm', 'attn_norm'],
  ['self_attn.q_proj', 'attn_q'],
  ['self_attn.k_proj', 'attn_k'],
  ['self_attn.v_proj', 'attn_v'],
  ['self_attn.o_proj', 'attn_output'],
  ['post_attention_layernorm', 'ffn_norm'],
  ['mlp.gate_proj', 'ffn_gate'],
  ['mlp.up_proj', 'ffn_up'],
  ['mlp.down_proj', 'ffn_down'],
];

function llamaTensors(
  weights: SafetensorsFile,
  c: LlamaConfig,
  type: GgufWeightType,
  skipRopePermutation: boolean,
): GgufTensor[] {
  const matrixType: TensorTypeName = type === 'f32' ? 'F32' : type === 'f16' ? 'F16' : 'Q8_0';
  const used = new Set<string>();
  const tensor = (hf: string, name: string, rope?: number): GgufTensor => {
    const entry = weights.tensors.get(hf);
    if (!entry) throw new GgufError(`${weights.file}: no tensor ${hf}`);
    used.add(hf);
    const dims = [...entry.shape].reverse();
    const ttype = dims.length === 1 ? 'F32' : matrixType;
    return {
      name,
      dims,
      type: ttype,
      data: async () => {
        const values = await weights.read(hf);
        return rope === undefined || skipRopePermutation ? values : permuteRope(values, entry.shape, rope);
      },
    };
  };
  const tensors = [tensor('model.embed_tokens.weight', 'token_embd.weight')];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    for (const [hf, gguf] of LAYER_TENSORS) {
      const rope =
        gguf === 'attn_q'
          ? c.num_attention_heads
          : gguf === 'attn_k'
            ? (c.num_key_value_heads ?? c.num_attention_heads)
            : undefined;
      tensors.push(tensor(`model.layers.${i}.${hf}.weight`, `blk.${i}.${gguf}.weight`, rope));
    }
  }
  tensors.push(tensor('model.norm.weight', 'output_norm.weight'));
  // Tied embeddings: llama.cpp reads the output projection from token_embd when `output` is absent.
  if (weights.tensors.has('lm_head.weight') && !c.tie_word_embeddings)
    tensors.push(tensor('lm_head.weight', 'output.weight'));
  else if (!c.tie_word_embeddings)
    throw new GgufError(`${weights.file}: no lm_head.weight and tie_word_embeddings is false`);
  const rest = [...weights.tensors.keys()].filter(
    (k) => !used.has(k) && !k.endsWith('rotary_emb.inv_freq') && k !== 'lm_head.weight',
  );
  if (rest.length > 0) throw new GgufError(`${weights.file}: tensors a Llama model does not have: ${rest.join(', ')}`);
  return tensors;
}

/**
 * Q or K rows from the Hugging Face layout to llama.cpp's. Hugging Face rotates half-splits of
 * each head (dimension i pairs with i + d/2); llama.cpp rotates adjacent pairs (2i with 2i + 1).
 * So row `h·d + half·d/2 + i` moves to `h·d + 2i + half`.
 */
export function permuteRope(values: Float32Array, shape: readonly number[], heads: number): Float32Array {
  const [rows, cols] = shape as [number, number];
  const d = rows / heads;
  if (!Number.isInteger(d) || d % 2 !== 0) throw new GgufError(`cannot split ${rows} rows into ${heads} RoPE heads`);
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < d / 2; i++) {
        const from = (h * d + half * (d / 2) + i) * cols;
        const to = (h * d + 2 * i + half) * cols;
        out.set(values.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** llama.cpp's token types (llama.h `llama_token_type`). */
const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4 } as const;

/**
 * The tokenizer as llama.cpp's `gpt2` BPE with no merges. Each normal token's text in GPT-2's
 * byte-to-unicode alphabet (llama.cpp byte-encodes text before looking tokens up), special added
 * tokens as control tokens, the unknown token as such, other added tokens (the tags) as
 * user-defined tokens, which llama.cpp matches in any text, as tokenizer.json does.
 */
function tokenizerVocabulary(
  tok: z.infer<typeof tokenizerSchema>,
  cfg: z.infer<typeof tokenizerConfigSchema>,
  config: LlamaConfig,
): { size: number; metadata: [string, MetadataValue][] } {
  const size = config.vocab_size;
  const texts = new Array<string | undefined>(size);
  const types = new Array<number>(size).fill(TokenType.normal);
  const put = (id: number, text: string, type: number) => {
    if (id >= size) throw new GgufError(`tokenizer.json: token id ${id} is outside the vocabulary of ${size}`);
    texts[id] = text;
    types[id] = type;
  };
  const added = new Map(tok.added_tokens.map((t) => [t.id, t]));
  const unk = tok.model.unk_token ?? undefined;
  for (const [text, id] of Object.entries(tok.model.vocab))
    if (!added.has(id)) put(id, byteEncode(text), TokenType.normal);
  for (const t of tok.added_tokens) {
    put(t.id, t.content, t.content === unk ? TokenType.unknown : t.special ? TokenType.control : TokenType.userDefined);
  }
  const holes = texts.flatMap((t, id) => (t === undefined ? [id] : []));
  if (holes.length > 0) throw new GgufError(`tokenizer.json: no token for ids ${holes.slice(0, 10).join(', ')}`);
  const idOf = (text: string | undefined) => {
    if (text === undefined) return undefined;
    const t = tok.added_tokens.find((a) => a.content === text);
    return t?.id ?? tok.model.vocab[text];
  };
  const named = (v: (typeof cfg)['eos_token']) => (typeof v === 'string' ? v : (v?.content ?? undefined));
  const eos =
    idOf(named(cfg.eos_token)) ?? (Array.isArray(config.eos_token_id) ? config.eos_token_id[0] : config.eos_token_id);
  if (eos === undefined)
    throw new GgufError('tokenizer_config.json names no eos_token and config.json no eos_token_id');
  const bos = idOf(named(cfg.bos_token)) ?? config.bos_token_id ?? eos;
  const unkId = idOf(unk);
  const metadata: [string, MetadataValue][] = [
    ['tokenizer.ggml.model', str('gpt2')],
    // Without merges the split changes nothing; of llama.cpp's pre-tokenizers this one decodes
    // spaces as they are (its `default` drops a space before `.`, `,`, `!` and `?`).
    ['tokenizer.ggml.pre', str('qwen2')],
    ['tokenizer.ggml.tokens', strings(texts as string[])],
    ['tokenizer.ggml.token_type', i32s(types)],
    ['tokenizer.ggml.merges', strings([])],
    ['tokenizer.ggml.bos_token_id', u32(bos)],
    ['tokenizer.ggml.eos_token_id', u32(eos)],
    ['tokenizer.ggml.add_bos_token', bool(false)],
    ['tokenizer.ggml.add_eos_token', bool(false)],
  ];
  if (unkId !== undefined) metadata.push(['tokenizer.ggml.unknown_token_id', u32(unkId)]);
  if (config.pad_token_id != null) metadata.push(['tokenizer.ggml.padding_token_id', u32(config.pad_token_id)]);
  if (cfg.chat_template) metadata.push(['tokenizer.chat_template', str(cfg.chat_template)]);
  return { size, metadata };
}

/** GPT-2's byte-to-unicode alphabet: printable bytes stand for themselves, the others for code points from 256 on. */
const BYTE_TO_UNICODE: string[] = (() => {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(keep(b) ? b : next++));
  return out;
})();

export function byteEncode(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += BYTE_TO_UNICODE[b];
  return out;
}
