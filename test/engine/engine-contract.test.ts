import type { Engine } from '../../src/engine/types.js';
import {
  engineContract,
  openaiOverServe,
  routedOverServe,
  scriptedReference,
  type EngineFactory,
} from '../support/engine-contract.js';

// The engine contract on the engines that need no model: the scripted engine writing the bundled
// model's reference trajectories, and the remote engines against `threadweaver serve` over it on
// 127.0.0.1. The embedded engine runs it in engine-contract.real.test.ts; a new engine is one line.
const scripted = (): Promise<Engine> => Promise.resolve(scriptedReference());

const engines: EngineFactory[] = [
  { name: 'scripted', make: async () => ({ engine: await scripted(), samples: false }) },
  openaiOverServe('scripted', scripted, false),
  routedOverServe('scripted', scripted, false),
];

engineContract(engines);
