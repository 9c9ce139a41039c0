import path from 'node:path';
import { z } from 'zod';
import { convertToGguf, GGUF_WEIGHT_TYPES } from '../../engine/llama-cpp/convert.js';
import { bundledModelDir } from '../../engine/model-source.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';

const schema = z.object({
  model: z.string().min(1).optional(),
  out: z.string({ error: 'is required' }).min(1),
  type: z.enum(GGUF_WEIGHT_TYPES, { error: `must be one of ${GGUF_WEIGHT_TYPES.join(', ')}` }).optional(),
});

const usage = `Usage: threadweaver gguf [--model DIR] --out FILE.gguf [--type f32|f16|q8_0]

Convert a Llama-architecture Hugging Face folder (config.json, tokenizer.json,
tokenizer_config.json, model.safetensors) with a character-level tokenizer, such as
tiny-threadweaver, to a GGUF file for --engine llama-cpp (docs/llama-cpp.md).
  --model DIR    the folder (default: the bundled model, whose folder ships ONNX graphs only:
                 point it at a copy with model.safetensors)
  --out FILE     the GGUF file to write
  --type T       the matrices' type: f16 (default), f32 or q8_0; norms stay f32`;

const command: Command = {
  name: 'gguf',
  summary: 'convert a Hugging Face Llama folder to a GGUF file for llama.cpp',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      { model: { type: 'string' }, out: { type: 'string' }, type: { type: 'string' } },
      schema,
    );
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (!values.out.toLowerCase().endsWith('.gguf')) throw new UsageError('--out: the file name must end in .gguf');
    const r = await convertToGguf({
      model: values.model ?? bundledModelDir(),
      out: values.out,
      ...(values.type ? { type: values.type } : {}),
    });
    const mb = (r.bytes / 1e6).toFixed(1);
    process.stderr.write(
      `gguf: ${r.tensors} tensors (${r.type}), ${r.vocab} tokens → ${path.resolve(r.out)} (${mb} MB)\n`,
    );
    return 0;
  },
};

export default command;
