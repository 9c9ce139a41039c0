import { describe, expect, it } from 'vitest';
import { resolveDialect } from '../../src/format/dialects.js';
import { Controller } from '../../src/orchestrator/controller.js';
import { trajectoryMetrics } from '../../src/orchestrator/metrics.js';
import { callContextIds, type Trajectory } from '../../src/orchestrator/trajectory.js';
import { solve } from '../../src/solve/solve.js';
import { ReplayEngine, type ReplayFacts } from '../support/replay-engine.js';
import { EOS, ScriptedEngine } from '../support/scripted-engine.js';

// Each format's example trajectory is written here from the project's own code, outputs and
// docs (cited in src/format/<format>.ts), with our own content; the replay engine knows where the
// project's engine forks and how a thread's prompt starts, and nothing of our dialects. The
// controller must reproduce the trajectory byte for byte, fork where the model forks, and count T
// and L by the format's structure, computed here by hand from the parts.

const PROBLEM = 'Compute 23*47 + 18*36 - 12*11.';

async function replay(
  trajectory: string,
  facts: ReplayFacts,
  format: string,
  options: { maxTokens?: number; contextLength?: number } = {},
) {
  const engine = new ReplayEngine(
    trajectory,
    facts,
    options.contextLength ? { contextLength: options.contextLength } : {},
  );
  const dialect = resolveDialect(format);
  const controller = new Controller(engine, dialect);
  const events: string[] = [];
  for (const e of ['outlines', 'thread:start', 'join', 'limit'] as const)
    controller.on(e, (x: { block?: number }) => events.push(`${e}:${x.block ?? ''}`));
  const prompt = engine.tokenizer.applyChatTemplate([{ role: 'user', content: PROBLEM }]);
  const t = await controller.run(PROBLEM, prompt, options.maxTokens ? { maxTokens: options.maxTokens } : {});
  return { t, engine, dialect, events, count: (s: string) => engine.tokenizer.count(s) };
}

const threadCalls = (t: Trajectory) =>
  t.calls
    .filter((c) => c.role.kind === 'thread')
    .map((c) => (c.role.kind === 'thread' ? `${c.role.block}:${c.role.thread}` : ''));
const generated = (t: Trajectory) => t.calls.reduce((s, c) => s + c.completionIds.length, 0);

/** Every call's context, rebuilt from the record, is what the engine was asked. */
function recordMatches(t: Trajectory, engine: ReplayEngine) {
  t.calls.forEach((c, i) => expect(engine.tokenizer.decode(callContextIds(t, c))).toBe(engine.requests[i]!.context));
}

describe('ThreadWeaver replay (models/tiny-threadweaver/MODEL.md, byte-exact)', () => {
  const facts: ReplayFacts = {
    tags: [
      '<think>',
      '</think>',
      '<Parallel>',
      '</Parallel>',
      '<Outlines>',
      '</Outlines>',
      '<Outline>',
      '</Outline>',
      '<Thread>',
      '</Thread>',
    ],
    forkAt: ['</Outlines>'],
    header: /^\n?<Thread>\n\d+(?:\.\d+)*:/,
    blockOpen: '<Parallel>',
    blockClose: '</Parallel>',
  };
  const head = '<think>\nThe expression has 3 independent products; compute each, then combine.\n<Parallel>';
  const plan =
    '\n<Outlines>\n<Outline>1: Compute 81*51.</Outline>\n<Outline>2: Compute 87*38.</Outline>\n<Outline>3: Compute 26*16.</Outline>\n</Outlines>\n<Thread>';
  const t1 = '\n1: 81*51 = 81*50 + 81*1 = 4050 + 81 = 4131. So the result is 4131.\n';
  const t2 = '\n2: 87*38 = 87*30 + 87*8 = 2610 + 696 = 3306. So the result is 3306.\n';
  const t3 = '\n3: 26*16 = 26*10 + 26*6 = 260 + 156 = 416. So the result is 416.\n';
  const tail =
    '</Parallel>\nCombine the results 4131, 3306, 416: 4131 + 3306 = 7437; 7437 + 416 = 7853.\n</think>\nThe answer is \\boxed{7853}.';
  const J = head + plan + t1 + '</Thread><Thread>' + t2 + '</Thread><Thread>' + t3 + '</Thread>\n' + tail;

  it('reproduces the trajectory, forks at </Outlines>, counts T and L as the reference', async () => {
    const { t, engine, dialect, count } = await replay(J, facts, 'threadweaver');
    expect(t.text).toBe(J);
    expect(t.finishReason).toBe('done');
    expect(threadCalls(t)).toEqual(['0:1', '0:2', '0:3']);
    recordMatches(t, engine);
    const m = trajectoryMetrics(t, engine.tokenizer, dialect);
    const overhead = count(plan) + 2 * count('</Thread><Thread>') + count('</Thread>\n');
    const seq = count(head) + count(tail) + 1;
    expect(m.totalTokens).toBe(seq + overhead + count(t1) + count(t2) + count(t3));
    expect(m.criticalPathTokens).toBe(seq + overhead + Math.max(count(t1), count(t2), count(t3)));
    expect(dialect.validate(J)).toEqual([]);
  });
});

describe('Multiverse replay: nested blocks, a stack and a depth limit', () => {
  const facts: ReplayFacts = {
    tags: [
      '<Think>',
      '</Think>',
      '<Parallel>',
      '</Parallel>',
      '<Goal>',
      '</Goal>',
      '<Outline>',
      '</Outline>',
      '<Path>',
      '</Path>',
      '<Conclusion>',
      '</Conclusion>',
    ],
    // Multiverse-Engine: split at </Goal>; each path's prompt is "\n<Path>\n{n}:".
    forkAt: ['</Goal>'],
    header: /^\n<Path>\n\d+(?:\.\d+)*:/,
    blockOpen: '<Parallel>',
    blockClose: '</Parallel>',
  };
  const head =
    "<Think>\nThree products; the last two are subtracted, so compute them together.\nLet's think in parallel.\n<Parallel>";
  const goal =
    '\n<Goal>\n<Outline>\n1: Compute 23*47.\n</Outline>\n<Outline>\n2: Compute 18*36 - 12*11.\n</Outline>\n</Goal>\n<Path>';
  const p1 = '\n1: 23*47 = 23*40 + 23*7 = 920 + 161 = 1081.\n';
  const sep = '</Path>\n<Path>';
  const p2head = "\n2: Two products again, each on its own.\nLet's think in parallel.\n<Parallel>";
  const ngoal =
    '\n<Goal>\n<Outline>\n1: Compute 18*36.\n</Outline>\n<Outline>\n2: Compute 12*11.\n</Outline>\n</Goal>\n<Path>';
  const n1 = '\n1: 18*36 = 18*30 + 18*6 = 540 + 108 = 648.\n';
  const n2 = '\n2: 12*11 = 132.\n';
  const nend = '</Path>\n<Conclusion>\n18*36 = 648 and 12*11 = 132.\n</Conclusion>\n';
  const p2tail = '</Parallel>\nSo 648 - 132 = 516.\n';
  const end = '</Path>\n<Conclusion>\n23*47 = 1081 and 18*36 - 12*11 = 516.\n</Conclusion>\n';
  const tail = '</Parallel>\n1081 + 516 = 1597.\n</Think>\n\nAnswer: \\boxed{1597}';
  const J = head + goal + p1 + sep + p2head + ngoal + n1 + sep + n2 + nend + p2tail + end + tail;

  it('reproduces a nested trajectory byte for byte, forking inside a path where the model forks', async () => {
    const { t, engine, dialect, events, count } = await replay(J, facts, 'multiverse');
    expect(t.text).toBe(J);
    expect(t.finishReason).toBe('done');
    // Block 0 at </Goal>; path 2 forks block 1 at its own </Goal>, then goes on after the join.
    expect(threadCalls(t)).toEqual(['0:1', '0:2', '1:1', '1:2', '0:2']);
    expect(events).toEqual([
      'outlines:0',
      'thread:start:0',
      'thread:start:0',
      'outlines:1',
      'thread:start:1',
      'thread:start:1',
      'join:1',
      'join:0',
    ]);
    expect(engine.requests[0]!.stop).toEqual(['</Goal>']);
    expect(engine.requests[1]!.stop).toEqual(['</Path>', '</Goal>']);
    expect(engine.requests[1]!.context.endsWith('</Goal>\n<Path>\n1:')).toBe(true);
    expect(engine.requests[3]!.context.endsWith(ngoal.slice(0, -'\n<Path>'.length) + '\n<Path>\n1:')).toBe(true);
    recordMatches(t, engine);
    // What the controller inserted: the headers (the newline after each </Path> included) and
    // "\n<Conclusion>\n" after each block's last path; the nested block's inside path 2.
    const inserted = t.pieces.filter((p) => p.source === 'inserted').map((p) => p.text);
    expect(inserted).toEqual([
      '\n<Path>\n1:',
      '\n<Path>\n2:',
      '\n<Path>\n1:',
      '\n<Path>\n2:',
      '\n<Conclusion>\n',
      '\n<Conclusion>\n',
    ]);

    const m = trajectoryMetrics(t, engine.tokenizer, dialect);
    const seq = count(head) + count(tail) + 1;
    const overhead = count(goal) + count(sep) + count(end);
    const own2 = count(p2head) + count(p2tail);
    const nestedOverhead = count(ngoal) + count(sep) + count(nend);
    expect(m.totalTokens).toBe(seq + overhead + count(p1) + own2 + nestedOverhead + count(n1) + count(n2));
    expect(m.criticalPathTokens).toBe(
      seq + overhead + Math.max(count(p1), own2 + nestedOverhead + Math.max(count(n1), count(n2))),
    );
    expect(m.parallelBlocks).toBe(2);
    expect(m.blocks[1]).toMatchObject({ depth: 2, threadTokens: [count(n1), count(n2)] });
    expect(dialect.validate(J)).toEqual([]);
  });

  it('nesting past the depth limit: the path writes its block itself, the refusal is recorded, the bytes are the same', async () => {
    const { t, dialect, engine } = await replay(J, facts, 'multiverse:depth=1');
    expect(t.text).toBe(J);
    expect(t.finishReason).toBe('done');
    expect(threadCalls(t).every((c) => c.startsWith('0:'))).toBe(true);
    expect(t.limits?.map((l) => l.kind)).toEqual(['depth']);
    expect(dialect.validate(J).map((v) => v.code)).toEqual(['nesting-depth']);
    // The same text, the same structure: T and L do not depend on who decoded the nested block.
    const forked = await replay(J, facts, 'multiverse');
    const a = trajectoryMetrics(t, engine.tokenizer, dialect);
    const b = trajectoryMetrics(forked.t, forked.engine.tokenizer, forked.dialect);
    expect([a.totalTokens, a.criticalPathTokens]).toEqual([b.totalTokens, b.criticalPathTokens]);
  });

  it('an unclosed path runs into the budget: tags closed inside out, labelled budget', async () => {
    const bad = head + goal + '\n1: 23*47 = ' + '1081, '.repeat(3000);
    const { t } = await replay(bad, facts, 'multiverse', { maxTokens: 600 });
    expect(t.finishReason).toBe('budget');
    expect(generated(t)).toBeLessThanOrEqual(600);
    expect(t.text.endsWith('\n</Path>\n</Parallel>')).toBe(true);
    // Path 2 is not in the trajectory: the model ended it with EOS at once; Multiverse closes it and goes on.
    expect(t.calls.find((c) => c.role.kind === 'thread' && c.role.thread === '2')?.finishReason).toBe('eos');
    const codes = resolveDialect('multiverse')
      .validate(t.text)
      .map((v) => v.code);
    expect(codes).not.toContain('tag-unclosed');
  });

  it('too many paths: the first 50 fork, the cut is recorded, the run ends labelled', async () => {
    const n = 60;
    const outlines = Array.from({ length: n }, (_, i) => `<Outline>\n${i + 1}: Part ${i + 1}.\n</Outline>\n`).join('');
    const paths = Array.from({ length: n }, (_, i) => `<Path>\n${i + 1}: done ${i + 1}.\n</Path>\n`).join('');
    const many = `<Think>\nMany parts.\n<Parallel>\n<Goal>\n${outlines}</Goal>\n${paths}<Conclusion>\nAll done.\n</Conclusion>\n</Parallel>\n</Think>\n\nAnswer: \\boxed{1}`;
    const { t, dialect } = await replay(many, facts, 'multiverse');
    expect(threadCalls(t)).toHaveLength(50);
    expect(t.limits).toEqual([expect.objectContaining({ kind: 'threads', block: 0 })]);
    expect(t.finishReason).toBe('done');
    expect(dialect.validate(many).map((v) => v.code)).toEqual(['too-many-threads']);
    expect(dialect.validate(t.text).map((v) => v.code)).toEqual(expect.arrayContaining(['outline-count']));
  });
});

describe('Parallel-R1 replay: a fixed number of paths', () => {
  const facts: ReplayFacts = {
    tags: ['<Parallel>', '</Parallel>', '<Path>', '</Path>', '<Summary>', '</Summary>'],
    // The agent loop stops at <Parallel> and prompts every path with <Path>.
    forkAt: ['<Parallel>'],
    header: /^<Path>/,
    blockOpen: '<Parallel>',
    blockClose: '</Parallel>',
  };
  const head = 'Let me compute 23*47 + 18*36 two ways.\n<Parallel>';
  const a = 'Directly: 23*47 = 1081 and 18*36 = 648, so the sum is 1729.';
  const b = 'By rounding: 23*47 = 23*50 - 23*3 = 1081; 18*36 = 18*40 - 18*4 = 648; 1081 + 648 = 1729.';
  const after = '</Parallel>\n<Summary>Both paths give 1729.</Summary>\nSo the answer is \\boxed{1729}.';
  const J = head + '<Path>' + a + '</Path><Path>' + b + '</Path>' + after;

  it('reproduces the trajectory: two paths from the same prompt, </Parallel>\\n<Summary> inserted at the join', async () => {
    const { t, engine, dialect, count } = await replay(J, facts, 'parallel-r1');
    expect(t.text).toBe(J);
    expect(t.finishReason).toBe('done');
    expect(threadCalls(t)).toEqual(['0:1', '0:2']);
    expect(engine.requests[1]!.context).toBe(engine.requests[2]!.context);
    expect(engine.requests[1]!.context.endsWith('<Parallel><Path>')).toBe(true);
    expect(t.pieces.filter((p) => p.source === 'inserted').map((p) => p.text)).toEqual([
      '<Path>',
      '<Path>',
      '</Parallel>\n<Summary>',
    ]);
    recordMatches(t, engine);
    const m = trajectoryMetrics(t, engine.tokenizer, dialect);
    const seq = count(head) + count(after.slice('</Parallel>'.length)) + count('</Parallel>') + 1;
    const overhead = count('<Path></Path><Path></Path>');
    expect(m.totalTokens).toBe(seq + overhead + count(a) + count(b));
    expect(m.criticalPathTokens).toBe(seq + overhead + Math.max(count(a), count(b)));
    expect(dialect.validate(J)).toEqual([]);
  });

  it('three paths where the model has two: the extra path ends in EOS, is closed with </Path>, the block goes on', async () => {
    const { t } = await replay(J, facts, 'parallel-r1:paths=3');
    expect(threadCalls(t)).toEqual(['0:1', '0:2', '0:3']);
    expect(t.calls[3]!.finishReason).toBe('eos');
    expect(t.text).toContain(`<Path>${b}</Path><Path></Path></Parallel>\n<Summary>`);
    expect(t.finishReason).toBe('done');
  });

  it('a path that never closes is cut by the budget; the block limit leaves a second block to the model', async () => {
    const endless = head + '<Path>' + 'still going, '.repeat(3000);
    const cut = await replay(endless, facts, 'parallel-r1', { maxTokens: 400 });
    expect(cut.t.finishReason).toBe('budget');
    expect(generated(cut.t)).toBeLessThanOrEqual(400);
    expect(cut.t.text.endsWith('</Path></Parallel>')).toBe(true);

    const twice = J.replace(
      '\\boxed{1729}.',
      `Check again.\n<Parallel><Path>${a}</Path><Path>${b}</Path></Parallel>\n<Summary>Same.</Summary>\n\\boxed{1729}.`,
    );
    const { t } = await replay(twice, facts, 'parallel-r1:blocks=1');
    expect(t.text).toBe(twice);
    expect(threadCalls(t)).toEqual(['0:1', '0:2']);
    expect(t.limits?.map((l) => l.kind)).toEqual(['blocks']);
  });
});

describe('NPR replay: several rounds', () => {
  const facts: ReplayFacts = {
    tags: ['<guideline>', '</guideline>', '<plan>', '</plan>', '<step>', '</step>', '<takeaway>', '</takeaway>'],
    forkAt: ['</guideline>'],
    header: /^\n<step>\n\d+:/,
  };
  const g1 = '<guideline>\n<plan>1: Compute 23*47.</plan>\n<plan>2: Compute 18*36.</plan>\n</guideline>';
  const s1 = '\n1: 23*47 = 920 + 161 = 1081.\n';
  const s2 = '\n2: 18*36 = 540 + 108 = 648.\n';
  const k1 = '<takeaway>23*47 = 1081 and 18*36 = 648.</takeaway>\n';
  const g2 = '<guideline>\n<plan>1: Add the products.</plan>\n</guideline>';
  const s3 = '\n1: 1081 + 648 = 1729.\n';
  const k2 = '<takeaway>The sum is 1729.</takeaway>\nThe answer is \\boxed{1729}.';
  const J = g1 + '\n<step>' + s1 + '</step>\n<step>' + s2 + '</step>\n' + k1 + g2 + '\n<step>' + s3 + '</step>\n' + k2;

  it('reproduces two rounds, one fork per round', async () => {
    const { t, engine, dialect, count } = await replay(J, facts, 'npr');
    expect(t.text).toBe(J);
    expect(t.finishReason).toBe('done');
    expect(threadCalls(t)).toEqual(['0:1', '0:2', '1:1']);
    expect(engine.requests[0]!.stop).toEqual(['</guideline>']);
    expect(engine.requests[1]!.stop).toEqual(['</step>']);
    recordMatches(t, engine);
    const m = trajectoryMetrics(t, engine.tokenizer, dialect);
    const round1 = count(g1) + count('\n<step></step>\n<step></step>');
    const round2 = count(g2) + count('\n<step></step>');
    const seq = count('\n' + k1) + count('\n' + k2) + 1;
    expect(m.totalTokens).toBe(seq + round1 + round2 + count(s1) + count(s2) + count(s3));
    expect(m.criticalPathTokens).toBe(seq + round1 + round2 + Math.max(count(s1), count(s2)) + count(s3));
    expect(dialect.validate(J)).toEqual([]);
  });

  it('a plan with a step the model never writes: EOS in a step ends the run, the step closed', async () => {
    const three = J.replace(
      '<plan>2: Compute 18*36.</plan>\n',
      '<plan>2: Compute 18*36.</plan>\n<plan>3: Check.</plan>\n',
    );
    const { t, dialect } = await replay(three, facts, 'npr');
    expect(t.finishReason).toBe('thread-eos');
    expect(t.text.endsWith('\n<step>\n3:\n</step>')).toBe(true);
    expect(dialect.validate(t.text).map((v) => v.code)).toEqual(expect.arrayContaining(['reduce-missing']));
  });

  it('an unclosed step is cut by the budget', async () => {
    const one = '<guideline>\n<plan>1: Compute 23*47.</plan>\n</guideline>';
    const { t } = await replay(one + '\n<step>\n1: ' + 'more, '.repeat(3000), facts, 'npr', { maxTokens: 300 });
    expect(t.finishReason).toBe('budget');
    expect(generated(t)).toBeLessThanOrEqual(300);
    expect(t.text.endsWith('\n</step>')).toBe(true);
  });
});

describe('a runaway nesting model is bounded', () => {
  const forever =
    "Let's think in parallel.\n<Parallel>\n<Goal>\n<Outline>\n1: again\n</Outline>\n<Outline>\n2: again\n</Outline>\n</Goal>";

  it('every path forks again: the depth limit holds, the transition cap ends it, labelled', async () => {
    const engine = new ScriptedEngine(() => forever);
    const controller = new Controller(engine, resolveDialect('multiverse:depth=3'));
    const depth = new Map<number, number>();
    controller.on('outlines', (e) => depth.set(e.block, e.parent ? depth.get(e.parent.block)! + 1 : 1));
    const t = await controller.run('Q', 'prompt', { maxTokens: 50_000 });
    expect(t.finishReason).toBe('transitions');
    expect(t.limits?.some((l) => l.kind === 'depth')).toBe(true);
    // Blocks were forked 3 deep and no deeper; deeper ones are the model's own text.
    expect(Math.max(...depth.values())).toBe(3);
    expect(t.text.endsWith('\n</Path>\n</Parallel>')).toBe(true);
  });

  it('the transition cap counts nested rounds: maxTransitions 3 allows a plan, 2 threads and 4 nested ones (7 calls), 4 the next 8 (15)', async () => {
    for (const [maxTransitions, threads] of [
      [3, [2, 4]],
      [4, [2, 4, 8]],
    ] as const) {
      const engine = new ScriptedEngine(() => forever);
      const r = await solve(PROBLEM, { engine, format: 'multiverse:depth=3', maxTransitions, maxTokens: 50_000 });
      expect(r.finishReason).toBe('transitions');
      const calls = r.trajectory.calls;
      expect(calls.map((c) => c.role.kind)).toEqual(['sequential', ...threads.flatMap((n) => Array(n).fill('thread'))]);
      expect(engine.requests).toHaveLength(1 + threads.reduce((a, b) => a + b, 0));
      // Two threads in each block that ran: the top one, then those nested in its threads, and so on.
      const perBlock = new Map<number, number>();
      for (const c of calls)
        if (c.role.kind === 'thread') perBlock.set(c.role.block, (perBlock.get(c.role.block) ?? 0) + 1);
      expect([...perBlock.values()]).toEqual(Array(threads.reduce((a, b) => a + b, 0) / 2).fill(2));
    }
  });

  it('abort inside a nested block returns promptly, labelled abort', async () => {
    const ac = new AbortController();
    const engine = new ScriptedEngine(
      (ctx) =>
        ctx.endsWith('</Goal>\n<Path>\n1:') && ctx.split('<Parallel>').length > 2 ? ' slow'.repeat(10_000) : forever,
      { tokenDelayMs: 1 },
    );
    const controller = new Controller(engine, resolveDialect('multiverse'));
    controller.on('thread:start', (e) => e.parent && setTimeout(() => ac.abort(), 30));
    const t0 = Date.now();
    const t = await controller.run('Q', 'prompt', { signal: ac.signal });
    expect(t.finishReason).toBe('abort');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('where a nested plan starts (Multiverse)', () => {
  const depth = (ctx: string) => ctx.split('<Parallel>').length - 1;
  const script = (ctx: string): string => {
    if (ctx.endsWith('</Goal>\n<Path>\n1:'))
      return depth(ctx) === 1
        ? // The path plans twice before its `</Goal>`: only the last plan (one path) forks.
          ' x\n<Parallel>\n<Goal>\n<Outline>\n1: p\n</Outline>\n<Outline>\n2: q\n</Outline>\n<Goal>\n<Outline>\n1: r\n</Outline>\n</Goal>'
        : ' y\n</Path>';
    if (ctx.endsWith(' w\n</Path>\n<Conclusion>\n'))
      return `done\n</Conclusion>\n</Parallel>\n</Think>\n\\boxed{1}${EOS}`;
    // After its nested block, the path writes a stray `</Goal>` with no plan since the block: no fork.
    if (ctx.endsWith('</Path>\n<Conclusion>\n')) return 'z\n</Conclusion>\n</Parallel>\nstray </Goal>';
    if (ctx.endsWith('stray </Goal>')) return ' w\n</Path>';
    return '<Think>\n<Parallel>\n<Goal>\n<Outline>\n1: top\n</Outline>\n</Goal>';
  };

  it('a path forks on its last plan, and never again on a plan before its joined block', async () => {
    const engine = new ScriptedEngine(script);
    const t = await new Controller(engine, resolveDialect('multiverse')).run('Q', 'prompt');
    expect(t.finishReason).toBe('done');
    expect(threadCalls(t)).toEqual(['0:1', '1:1', '0:1', '0:1']);
    expect(t.text).toContain(
      '</Goal>\n<Path>\n1: y\n</Path>\n<Conclusion>\nz\n</Conclusion>\n</Parallel>\nstray </Goal> w\n</Path>',
    );
  });
});

describe('solve() with a format', () => {
  it('library: solve(problem, { format }) forks, validates and counts by that format', async () => {
    const facts: ReplayFacts = {
      tags: ['<guideline>', '</guideline>', '<plan>', '</plan>', '<step>', '</step>', '<takeaway>', '</takeaway>'],
      forkAt: ['</guideline>'],
      header: /^\n<step>\n\d+:/,
    };
    const J =
      '<guideline>\n<plan>1: a.</plan>\n<plan>2: b.</plan>\n</guideline>\n<step>\n1: x.\n</step>\n<step>\n2: y.\n</step>\n<takeaway>x and y.</takeaway>\n\\boxed{7}';
    const r = await solve(PROBLEM, { engine: new ReplayEngine(J, facts), format: 'npr' });
    expect(r.text).toBe(J);
    expect(r.answer).toBe('7');
    expect(r.formatValid).toBe(true);
    expect(r.metrics.parallelBlocks).toBe(1);
    await expect(solve(PROBLEM, { engine: new ReplayEngine(J, facts), format: 'nope' })).rejects.toThrow(
      /option 'format' is not a format: .*threadweaver, multiverse, parallel-r1, npr/,
    );
    await expect(solve(PROBLEM, { engine: new ReplayEngine(J, facts), format: 'npr:paths=3' })).rejects.toThrow(
      /'paths' applies to parallel-r1 only/,
    );
  });
});
