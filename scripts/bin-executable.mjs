// Marks the package's bins executable after a build, for `npx threadweaver` in this checkout. npm
// marks a dependency's bins when it installs them, and this package's own after its `prepare`;
// installs here run no scripts (.npmrc), and tsc writes new files without the executable bit.
import { chmodSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
for (const file of Object.values(pkg.bin ?? {})) chmodSync(new URL(file, root), 0o755);
