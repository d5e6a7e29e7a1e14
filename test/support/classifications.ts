// Moved to src/demo/volunteers.ts (the simulated volunteers of `bridge demo`); the tests keep importing it from here.
export * from '../../src/demo/volunteers.js';
