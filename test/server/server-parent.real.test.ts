import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../support/cli-process.js';
import { getJson, until } from '../support/server-http.js';

// `threadweaver serve` started by a parent process that then dies (as npm does at a SIGTERM to
// `npx threadweaver serve`): with the parent watch the server closes; without it, it runs on.
let dir: string;
const leftover: number[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tw-parent-'));
});
afterAll(async () => {
  for (const pid of leftover) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A parent that starts `threadweaver serve ARGS` (its output to a file, which outlives the
 * parent), prints the server's PID, and is then killed. Resolves once the server answers.
 */
async function orphanedServe(name: string, args: string[], env: Record<string, string> = {}) {
  const log = path.join(dir, `${name}.log`);
  const script = `
    const { spawn } = require('node:child_process');
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(log)}, 'a');
    const child = spawn(process.execPath, ${JSON.stringify([cliPath, 'serve', '--port', '0', ...args])}, { stdio: ['ignore', fd, fd] });
    process.stdout.write(String(child.pid) + '\\n');
    setInterval(() => {}, 1000);
  `;
  const { npm_execpath: _a, npm_command: _b, ...base } = process.env;
  const parent = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...base, ...env },
  });
  const pid = Number(
    await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d).trim()))),
  );
  leftover.push(pid);
  let url = '';
  await until(
    'the server to listen',
    async () => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(await readFile(log, 'utf8').catch(() => ''));
      if (m) url = m[1]!;
      return url !== '';
    },
    120_000,
  );
  expect((await getJson(`${url}/health`)).status).toBe(200);
  parent.kill('SIGKILL');
  await new Promise((r) => parent.once('exit', r));
  return { pid, log, url };
}

describe('serve when its parent dies', () => {
  it('--exit-with-parent on: closes as on SIGTERM, and exits', async () => {
    const s = await orphanedServe('on', ['--exit-with-parent', 'on']);
    await until('the server to exit', () => !alive(s.pid), 30_000);
    expect(await readFile(s.log, 'utf8')).toContain('threadweaver serve: its parent process exited, closing');
  });

  it('auto: closes when npm started it (npm_execpath set), runs on when something else did', async () => {
    const byNpm = await orphanedServe('npm', [], { npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js' });
    await until('the server to exit', () => !alive(byNpm.pid), 30_000);
    const direct = await orphanedServe('direct', []);
    await new Promise((r) => setTimeout(r, 2_000)); // four looks of the watch, had it been on
    expect(alive(direct.pid)).toBe(true);
    expect((await getJson(`${direct.url}/health`)).status).toBe(200);
    process.kill(direct.pid, 'SIGTERM');
    await until('the server to exit', () => !alive(direct.pid), 30_000);
  });
});
