import { describe, expect, it } from 'vitest';
import { describeMachine, machineInfo, machineNote, sameMachine } from '../../bench/machine.js';

// What every benchmark result records of its machine (bench/machine.ts), read from /proc/cpuinfo text.
const x86 = (family: number, model: number, flags: string) =>
  `processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: ${family}\nmodel\t\t: ${model}\nmodel name\t: AMD EPYC\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
const zen5 = x86(
  26,
  2,
  'fpu sse2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx_vnni avx512_bf16 avx512_vnni',
);
const zen1 = x86(23, 1, 'fpu sse2 avx avx2 fma f16c bmi2');
const arm =
  'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes crc32 atomics asimddp sve i8mm bf16\nCPU part\t: 0xd40\n';

describe('the machine a benchmark records', () => {
  it('names the kernel flags an x86 CPU has, and which it lacks', () => {
    const m = machineInfo(zen5);
    expect([m.cpuFamily, m.cpuModel]).toEqual([26, 2]);
    expect(m.kernelFlags).toMatchObject({
      source: '/proc/cpuinfo',
      present: [
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
      ],
    });
    expect(describeMachine(machineInfo(zen1))).toMatch(
      /\(family 23, model 1\), \d+ cores; kernel flags: avx avx2 fma f16c; without avx512f .*avx512_vnni .*avx_vnni amx_tile/,
    );
  });

  it('reads ARM features, naming only ARM flags as absent', () => {
    const m = machineInfo(arm);
    expect(m.cpuFamily).toBeNull();
    expect(m.kernelFlags.present).toEqual(['asimd', 'asimddp', 'i8mm', 'sve', 'bf16']);
    expect(describeMachine(m)).toMatch(/kernel flags: asimd asimddp i8mm sve bf16; without sve2$/);
  });

  it('labels a result from another machine, or from before the flags were recorded, and not one from the same', () => {
    const here = machineInfo(zen5);
    expect(sameMachine(here, machineInfo(zen5))).toBe(true);
    expect(machineNote(here, machineInfo(zen5))).toBe('');
    expect(sameMachine(machineInfo(zen1), here)).toBe(false);
    expect(machineNote(machineInfo(zen1), here)).toMatch(
      /^Machine: .*family 23.*another machine .*a comparison across machines\)\.\n\n$/,
    );
    const old = { cpu: here.cpu, cores: here.cores };
    expect(sameMachine(old, here)).toBe(false);
    expect(machineNote(old, here)).toMatch(/CPU flags not recorded.*not known to be the machine/);
  });
});
