import { afterEach, describe, expect, it, vi } from 'vitest';
import serve from '../src/cli/commands/serve.js';
import { UsageError } from '../src/cli/command.js';
import { getJson } from './server-http.js';

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
    expect(stderr).toHaveBeenCalledWith('threadweaver serve: SIGTERM, closing (requests in flight get 5 s; signal again to exit now)\n');
    // One log line per request on stderr.
    expect(stderr.mock.calls.map((c) => String(c[0])).filter((l) => / GET \/v1\/models (401|200) \d+ms\n$/.test(l))).toHaveLength(2);
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore);
    await expect(fetch(`${baseURL}/models`)).rejects.toThrow();
  });

  it('bad flags are usage errors', async () => {
    await expect(serve.run(['--port', 'http'])).rejects.toThrow(UsageError);
    await expect(serve.run(['--port', '70000'])).rejects.toThrow(/--port/);
    await expect(serve.run(['--max-concurrent', '0'])).rejects.toThrow(/--max-concurrent/);
    await expect(serve.run(['extra'])).rejects.toThrow(/unexpected argument 'extra'/);
  });
});
