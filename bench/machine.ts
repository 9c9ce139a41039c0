/**
 * The machine a benchmark ran on, as every result records it: CPU model, cores, and the CPU
 * features onnxruntime's kernels (MLAS) pick their code paths by. Timings, and even sampled tokens,
 * depend on them: an int8 MatMul runs VNNI dot products where the CPU has them and a slower
 * AVX2 sequence where it does not.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * The features looked for (x86 `flags`, ARM `Features` of /proc/cpuinfo): what MLAS dispatches its
 * GEMM and quantization kernels on (AVX2/FMA, AVX-512, VNNI in its AVX-512 and AVX forms, AMX;
 * NEON dot products, i8mm, SVE).
 */
export const KERNEL_FLAGS = [
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx512_bf16',
  'avx_vnni',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
  'asimd',
  'asimddp',
  'i8mm',
  'sve',
  'sve2',
  'bf16',
] as const;

export interface Machine {
  cpu: string;
  /** x86 family and model numbers (null elsewhere, or where /proc/cpuinfo is not readable). */
  cpuFamily: number | null;
  cpuModel: number | null;
  cores: number;
  memoryGiB: number;
  arch: string;
  platform: string;
  node: string;
  /**
   * Which of KERNEL_FLAGS the CPU has (`present`), from where (`source`); `present` is null when
   * they could not be read (not Linux), so an absent flag in a list always means absent.
   */
  kernelFlags: { source: string | null; checked: readonly string[]; present: string[] | null };
}

/** One `key : value` field of the first processor in /proc/cpuinfo's text. */
const cpuinfoField = (text: string, key: string): string | undefined =>
  new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();

/** The machine, read from `os` and (on Linux) /proc/cpuinfo; `cpuinfo` for tests and other hosts' copies. */
export function machineInfo(cpuinfo?: string): Machine {
  let text = cpuinfo;
  if (text === undefined && os.platform() === 'linux') {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = undefined;
    }
  }
  const flags = text === undefined ? undefined : (cpuinfoField(text, 'flags') ?? cpuinfoField(text, 'Features'));
  const have = new Set(flags?.split(/\s+/) ?? []);
  const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  return {
    cpu: os.cpus()[0]?.model ?? (text && cpuinfoField(text, 'model name')) ?? 'unknown',
    cpuFamily: text === undefined ? null : int(cpuinfoField(text, 'cpu family')),
    cpuModel: text === undefined ? null : int(cpuinfoField(text, 'model')),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    arch: os.arch(),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    kernelFlags: {
      source: flags === undefined ? null : '/proc/cpuinfo',
      checked: KERNEL_FLAGS,
      present: flags === undefined ? null : KERNEL_FLAGS.filter((f) => have.has(f)),
    },
  };
}

/** What a result records of a machine; older results lack everything but the CPU name and cores. */
export type RecordedMachine = Pick<Machine, 'cpu' | 'cores'> & Partial<Omit<Machine, 'cpu' | 'cores'>>;

/** NEON-era flags, named only on ARM machines (and the x86 ones only on x86). */
const ARM_FLAGS = new Set<string>(['asimd', 'asimddp', 'i8mm', 'sve', 'sve2', 'bf16']);

/** "AMD EPYC (family 26, model 2), 2 cores; kernel flags: avx avx2 …; without amx_tile …". */
export function describeMachine(m: RecordedMachine): string {
  const id = m.cpuFamily != null ? ` (family ${m.cpuFamily}, model ${m.cpuModel ?? '?'})` : '';
  const present = m.kernelFlags?.present;
  if (!present) return `${m.cpu}${id}, ${m.cores} cores (CPU flags not recorded)`;
  const arm = present.some((f) => ARM_FLAGS.has(f));
  const absent = m.kernelFlags!.checked.filter((f) => !present.includes(f) && ARM_FLAGS.has(f) === arm);
  return `${m.cpu}${id}, ${m.cores} cores; kernel flags: ${present.join(' ') || 'none'}${absent.length ? `; without ${absent.join(' ')}` : ''}`;
}

/**
 * Whether two results were measured on the same kind of machine: same CPU model, family, model
 * number, cores and kernel flags. A result without flags matches nothing but itself by name.
 */
export function sameMachine(a: RecordedMachine, b: RecordedMachine): boolean {
  const flags = (m: RecordedMachine) => m.kernelFlags?.present?.join(' ') ?? null;
  return (
    a.cpu === b.cpu &&
    a.cores === b.cores &&
    (a.cpuFamily ?? null) === (b.cpuFamily ?? null) &&
    (a.cpuModel ?? null) === (b.cpuModel ?? null) &&
    flags(a) !== null &&
    flags(a) === flags(b)
  );
}

/**
 * The line a section of bench/RESULTS.md states its machine with, against the machine of the
 * results it sits beside (`reference`): empty when they are the same; otherwise the section's
 * machine, and that its times do not carry across (a comparison across machines, or one that may be).
 */
export function machineNote(m: RecordedMachine, reference: RecordedMachine): string {
  if (sameMachine(m, reference)) return '';
  const what = m.kernelFlags?.present
    ? 'another machine than the decoding run above: compare its ratios, not its times with those above (a comparison across machines)'
    : 'not known to be the machine of the decoding run above (its result predates the recorded CPU flags): compare its ratios, not its times with those above';
  return `Machine: ${describeMachine(m)}; ${what}.\n\n`;
}
