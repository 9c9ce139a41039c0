/** RL: rewards, group advantages, rollouts, and training exports of rollout rows. */
export * from './reward.js';
export * from './advantage.js';
export * from './calls.js';
export * from './rollout-row.js';
export * from './rollout.js';
export * from './summary.js';
export * from './export.js';
