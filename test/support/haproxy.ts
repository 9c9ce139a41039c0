import { findHaproxy } from '../../bench/fleet.js';

// HAProxy from the system's package (Debian's `haproxy`), as users run it in front of a fleet.
export const haproxyPath = findHaproxy();
if (!haproxyPath) {
  // CI installs it (.ci/run); a missing haproxy there is a failure, not a skip.
  if (process.env.CI || process.env.THREADWEAVER_REQUIRE_SHARED === '1')
    throw new Error(
      'scale-out tests: no haproxy at /usr/sbin/haproxy (set HAPROXY_PATH); .ci/run installs it with apt',
    );
  console.warn('[tests] no haproxy found (apt-get install haproxy, or set HAPROXY_PATH): scale-out tests are skipped');
}
