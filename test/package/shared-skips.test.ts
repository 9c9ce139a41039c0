import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hasSharedFile, repoRoot } from '../support/helpers.js';

// Tests that need ../shared skip without it, saying which path they checked; CI sets
// THREADWEAVER_REQUIRE_SHARED=1, which turns such a skip into a failure.
describe('tests that need ../shared', () => {
  const saved = process.env.THREADWEAVER_REQUIRE_SHARED;
  afterEach(() => {
    if (saved === undefined) delete process.env.THREADWEAVER_REQUIRE_SHARED;
    else process.env.THREADWEAVER_REQUIRE_SHARED = saved;
    vi.restoreAllMocks();
  });
  const root = path.join(repoRoot, 'test/fixtures');

  it('skip with a message naming the path checked when it is absent', () => {
    delete process.env.THREADWEAVER_REQUIRE_SHARED;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(hasSharedFile('no/such.jsonl', 'the example checks', root)).toBe(false);
    expect(warn).toHaveBeenCalledWith(
      `[tests] ${path.join(root, 'no/such.jsonl')} is absent: skipping the example checks`,
    );
    expect(hasSharedFile('public-grader-cases.jsonl', 'the example checks', root)).toBe(true);
  });

  it('fail instead under THREADWEAVER_REQUIRE_SHARED=1, which .ci/run sets before the tests', () => {
    process.env.THREADWEAVER_REQUIRE_SHARED = '1';
    expect(() => hasSharedFile('no/such.jsonl', 'the example checks', root)).toThrow(
      `${path.join(root, 'no/such.jsonl')} is absent, and THREADWEAVER_REQUIRE_SHARED=1`,
    );
    const ci = readFileSync(path.join(repoRoot, '.ci/run'), 'utf8');
    expect(ci.indexOf('export THREADWEAVER_REQUIRE_SHARED=1')).toBeGreaterThan(-1);
    expect(ci.indexOf('export THREADWEAVER_REQUIRE_SHARED=1')).toBeLessThan(ci.indexOf('npm test'));
    // Then the suite again as a fresh clone without ../shared: the variable unset, the skips taken.
    const fresh = ci.indexOf('unset THREADWEAVER_REQUIRE_SHARED');
    expect(fresh).toBeGreaterThan(ci.indexOf('npm test'));
    expect(ci.indexOf('npm test', fresh)).toBeGreaterThan(fresh);
  });
});
