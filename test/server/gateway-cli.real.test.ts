import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import gateway from '../../src/cli/commands/gateway.js';
import view from '../../src/cli/commands/view.js';
import { startServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { makeEvalRun } from '../support/run-fixtures.js';
import { getJson, postJson } from '../support/server-http.js';

// `threadweaver gateway` and `threadweaver view` in-process: flags, the printed URL, SIGTERM.
afterEach(() => {
  vi.restoreAllMocks();
});

async function started(run: Promise<number>, printed: string[]): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (!printed.join('').includes('http://') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return printed.join('');
}

function capture() {
  const printed: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { printed, stderr };
}

describe('threadweaver gateway', () => {
  it('in front of a server (--base-url, --upstream-api-key), with its own --api-key; closes on SIGTERM within --shutdown-grace', async () => {
    const upstream = await startServer({ engine: await embeddedEngine(), apiKey: 'up' });
    try {
      const { printed, stderr } = capture();
      const running = gateway.run([
        '--port',
        '0',
        '--base-url',
        upstream.baseURL,
        '--upstream-api-key',
        'up',
        '--api-key',
        'gw',
        '--shutdown-grace',
        '2.5',
      ]);
      const line = await started(running, printed);
      expect(line).toMatch(
        /^threadweaver gateway: openai:\S+ at http:\/\/127\.0\.0\.1:\d+\/v1 \(API key required\); live view at http:\/\/127\.0\.0\.1:\d+\/\n$/,
      );
      const baseURL = /(http:\S+\/v1)/.exec(line)![1]!;
      expect(
        (await postJson(`${baseURL}/chat/completions`, { messages: [{ role: 'user', content: 'Compute 71*52.' }] }))
          .status,
      ).toBe(401);
      const r = await postJson(
        `${baseURL}/chat/completions`,
        { messages: [{ role: 'user', content: 'Compute 71*52.' }] },
        { authorization: 'Bearer gw' },
      );
      expect(r.body.threadweaver.answer).toBe('3692');
      process.emit('SIGTERM', 'SIGTERM');
      expect(await running).toBe(0);
      expect(stderr).toHaveBeenCalledWith(
        'threadweaver gateway: SIGTERM, closing (requests in flight get 2.5 s; signal again to exit now)\n',
      );
    } finally {
      await upstream.close();
    }
  });

  it("the tiny preset drops a chat client's system prompt (its model was trained without one); --reasoning-field", async () => {
    const { printed } = capture();
    const running = gateway.run(['--port', '0', '--quiet', '--reasoning-field', 'reasoning']);
    const baseURL = /(http:\S+\/v1)/.exec(await started(running, printed))![1]!;
    const ask = (messages: object[]) => postJson(`${baseURL}/chat/completions`, { messages });
    const problem = { role: 'user', content: 'Compute 37*24 + 18*53 - 29*11.' };
    const plain = await ask([problem]);
    const withSystem = await ask([{ role: 'system', content: 'You are a helpful assistant.' }, problem]);
    expect(withSystem.status).toBe(200);
    expect(withSystem.body.choices[0].message).toEqual(plain.body.choices[0].message);
    expect(withSystem.body.usage.prompt_tokens).toBe(plain.body.usage.prompt_tokens);
    expect(plain.body.choices[0].message.reasoning).toContain('<Parallel>');
    expect(plain.body.choices[0].message).not.toHaveProperty('reasoning_content');
    process.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(0);
  });

  it('bad flags are usage errors', async () => {
    await expect(gateway.run(['--client-system', 'replace'])).rejects.toThrow(/--system-text/);
    await expect(gateway.run(['--system-text', 'x'])).rejects.toThrow(/--client-system replace/);
    await expect(gateway.run(['--reasoning-field', 'thoughts'])).rejects.toThrow(/--reasoning-field/);
    await expect(gateway.run(['--port', '70000'])).rejects.toThrow(/--port/);
    await expect(gateway.run(['--upstream-api-key', 'k'])).rejects.toThrow(/only applies with --base-url/);
    await expect(gateway.run(['extra'])).rejects.toThrow(UsageError);
    await expect(gateway.run(['--shutdown-grace', '-1'])).rejects.toThrow(/--shutdown-grace/);
  });
});

describe('threadweaver view', () => {
  it('serves a run folder and closes on SIGTERM', async () => {
    const run = await makeEvalRun(path.join(await mkdtemp(path.join(tmpdir(), 'tw-view-cli-')), 'run'), 2);
    const { printed } = capture();
    const running = view.run([run, '--port', '0', '--quiet']);
    const line = await started(running, printed);
    const url = /(http:\S+)\/\n/.exec(line)![1]!;
    expect((await getJson(`${url}/api/run`)).body.problems).toHaveLength(2);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(0);
    await expect(view.run([])).rejects.toThrow(/give the run folder/);
    await expect(view.run([path.join(run, 'missing')])).rejects.toThrow(/no such run folder/);
  });
});
