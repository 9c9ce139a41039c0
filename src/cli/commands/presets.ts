import { z } from 'zod';
import { DIALECT_NAMES } from '../../format/dialect.js';
import { builtinPresets, loadPreset, presetFormatSpec, type Preset } from '../../solve/preset.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { bold, dim } from '../render.js';

const usage = `Usage: threadweaver presets [NAME|FILE] [--json] [--format NAME|all]

List the shipped presets with their settings, or print one preset (a name or a .json file) in full.
A preset pins what a checkpoint was trained with; pass it to solve, eval, rollout, sft, gateway
or prompt as --preset NAME|FILE (explicit flags override its values).

Options:
  --json                 print JSON (the list as an array)
  --format NAME|all      the presets of another trajectory format's checkpoints (multiverse,
                         parallel-r1, npr), or of all formats (default: threadweaver's)`;

const sampling = (s: { temperature: number; topP: number }) => `T ${s.temperature} · top-p ${s.topP}`;

/** A preset's settings in a few lines. */
export function describePreset(p: Preset): string {
  const evalSampling = p.sampling.eval.singleSample
    ? `${sampling(p.sampling.eval)} (k=1: ${sampling(p.sampling.eval.singleSample)})`
    : sampling(p.sampling.eval);
  const kwargs = Object.entries(p.prompt.chatTemplateKwargs).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const lines = [
    `${bold(p.name)}  ${dim(p.engine === 'embedded' ? '(in-process)' : '(vLLM / SGLang, --base-url)')}`,
    `  ${p.description}`,
    `  format       ${presetFormatSpec(p)}`,
    `  model        ${p.engine === 'embedded' ? (p.model ?? 'the bundled tiny-threadweaver') : 'the served checkpoint'}`,
    `  tokenizer    ${p.tokenizer.id ?? "the model's"}${p.tokenizer.addedTokens.length ? `; ${p.tokenizer.addedTokens.length} added special tokens: ${p.tokenizer.addedTokens.join(' ')}` : ''}`,
    `  prompt       ${p.prompt.style}; chat template ${p.chatTemplate === 'model' ? "the tokenizer's" : 'none'}${kwargs.length ? ` (${kwargs.join(', ')})` : ''}; suffix ${JSON.stringify(p.prompt.suffix)}; system message ${p.prompt.style === 'instructed' ? 'the format instructions' : p.prompt.sequentialSystem ? 'in sequential mode only' : 'none'}`,
    `  stop         ${p.stop.vendorParams ? 'stop strings and special tokens kept (include_stop_str_in_output, skip_special_tokens false)' : 'no vendor fields'}; unreported stop = ${p.stop.unreportedStop}`,
    `  context      ${p.contextLength ?? "the engine's"}; response budget ${p.maxTokens ?? 'the context length'}${Object.keys(p.extraBody).length ? `; request fields ${JSON.stringify(p.extraBody)}` : ''}`,
    `  sampling     solve ${sampling(p.sampling.solve)} | eval ${evalSampling} | rollout ${sampling(p.sampling.rollout)} | sft ${sampling(p.sampling.sft)}`,
  ];
  return lines.join('\n');
}

const command: Command = {
  name: 'presets',
  summary: 'list the presets (settings a checkpoint was trained with)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      { json: { type: 'boolean' }, format: { type: 'string' } },
      z.object({ json: z.boolean().optional(), format: z.enum([...DIALECT_NAMES, 'all']).optional() }),
    );
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const [one] = positionals;
    if (one !== undefined) {
      const preset = loadPreset(one);
      process.stdout.write(values.json ? JSON.stringify(preset, null, 2) + '\n' : describePreset(preset) + '\n');
      return 0;
    }
    const format = values.format ?? 'threadweaver';
    const presets =
      format === 'threadweaver'
        ? builtinPresets()
        : builtinPresets('all').filter((p) => format === 'all' || presetFormatSpec(p).split(':')[0] === format);
    if (values.json) {
      process.stdout.write(JSON.stringify(presets, null, 2) + '\n');
      return 0;
    }
    const others =
      format === 'threadweaver' ? builtinPresets('all').filter((p) => !presets.some((q) => q.name === p.name)) : [];
    const more = others.length
      ? `\n\n${dim(`Other formats: ${others.map((p) => `${p.name} (${presetFormatSpec(p)})`).join(', ')}; threadweaver presets --format all`)}`
      : '';
    process.stdout.write(presets.map(describePreset).join('\n\n') + more + '\n');
    return 0;
  },
};

export default command;
