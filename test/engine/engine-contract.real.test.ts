import { embeddedEngine } from '../../src/engine/load.js';
import type { Engine } from '../../src/engine/types.js';
import { engineContract, openaiOverServe, routedOverServe, type EngineFactory } from '../support/engine-contract.js';

// The engine contract (test/support/engine-contract.ts) on the bundled model: the embedded engine
// itself, and the remote engines against `threadweaver serve` over it on 127.0.0.1. The engines
// that need no model run it in engine-contract.test.ts; a new engine is one line here or there.
const embedded = (): Promise<Engine> => embeddedEngine();

const engines: EngineFactory[] = [
  { name: 'embedded', make: async () => ({ engine: await embedded(), samples: true }) },
  openaiOverServe('embedded', embedded, true),
  routedOverServe('embedded', embedded, true),
];

engineContract(engines);
