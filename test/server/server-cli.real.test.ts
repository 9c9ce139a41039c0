import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import serve from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';
import { repoRoot } from '../support/helpers.js';
import { getJson, parseRawResponse, RawConnection, rawRequest } from '../support/server-http.js';

// `threadweaver serve` in-process: flags, the API key from the environment, the printed URL,
// and a graceful stop on SIGTERM.
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.THREADWEAVER_API_KEY;
});

describe('threadweaver serve', () => {
  it('prints its URL, serves with the env API key and the served name, and closes on SIGTERM', async () => {
    process.env.THREADWEAVER_API_KEY = 'env-key';
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const listenersBefore = process.listenerCount('SIGTERM');
    const running = serve.run(['--port', '0', '--served-model-name', 'cli-model', '--max-tokens-limit', '64']);
    const deadline = Date.now() + 60_000;
    while (!printed.join('').includes('http://') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const line = printed.join('');
    expect(line).toMatch(/^threadweaver serve: cli-model at http:\/\/127\.0\.0\.1:\d+\/v1 \(API key required\)\n$/);
    const baseURL = /(http:\S+)/.exec(line)![1]!;
    expect((await getJson(`${baseURL}/models`)).status).toBe(401);
    const models = await getJson(`${baseURL}/models`, { authorization: 'Bearer env-key' });
    expect(models.body.data[0].id).toBe('cli-model');

    process.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(0);
    expect(stderr).toHaveBeenCalledWith(
      'threadweaver serve: SIGTERM, closing (requests in flight get 5 s; signal again to exit now)\n',
    );
    // One log line per request on stderr.
    expect(
      stderr.mock.calls.map((c) => String(c[0])).filter((l) => / GET \/v1\/models (401|200) \d+ms\n$/.test(l)),
    ).toHaveLength(2);
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore);
    await expect(fetch(`${baseURL}/models`)).rejects.toThrow();
  });

  it('SIGTERM while a client trickles its body: the built CLI answers it 503 and exits when the grace period ends', async () => {
    const cli = path.join(repoRoot, 'dist/src/cli/main.js');
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--shutdown-grace', '1.5'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let drip: NodeJS.Timeout | undefined;
    try {
      const deadline = Date.now() + 60_000;
      while (!/http:\S+/.test(stdout) && Date.now() < deadline && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 20));
      const url = new URL(/(http:\S+)/.exec(stdout)![1]!).origin;
      expect((await getJson(`${url}/health`)).status).toBe(200);

      const body = JSON.stringify({ prompt: 'Compute 2*3.', max_tokens: 4, pad: 'x'.repeat(1000) });
      const trickler = await RawConnection.open(url);
      trickler.write(
        rawRequest('POST', '/v1/completions', {
          'content-type': 'application/json',
          'content-length': String(body.length),
        }),
      );
      let sent = 0;
      drip = setInterval(() => {
        if (sent < body.length && !trickler.socket.destroyed) trickler.write(body[sent++]!);
      }, 20);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
      const waited = performance.now() - t0;
      expect(code).toBe(0);
      await trickler.closed;
      // The trickled request held the shutdown open until the grace period ran out, no longer.
      expect(waited).toBeGreaterThanOrEqual(1400);
      expect(sent).toBeLessThan(body.length);
      const reply = parseRawResponse(trickler.data);
      expect(reply?.status).toBe(503);
      expect(JSON.parse(reply!.body).error.code).toBe('shutting_down');
      expect(stderr).toContain(
        'threadweaver serve: SIGTERM, closing (requests in flight get 1.5 s; signal again to exit now)',
      );
      expect(stderr).toMatch(/ POST \/v1\/completions 503 \d+ms\n/);
    } finally {
      clearInterval(drip);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('bad flags are usage errors', async () => {
    await expect(serve.run(['--port', 'http'])).rejects.toThrow(UsageError);
    await expect(serve.run(['--port', '70000'])).rejects.toThrow(/--port/);
    await expect(serve.run(['--max-concurrent', '0'])).rejects.toThrow(/--max-concurrent/);
    await expect(serve.run(['extra'])).rejects.toThrow(/unexpected argument 'extra'/);
    await expect(serve.run(['--shutdown-grace', '-1'])).rejects.toThrow(/--shutdown-grace/);
  });
});
