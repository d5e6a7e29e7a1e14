// Kept while branches that import the old single file land; new code imports from ./ports/.
export * from './ports/object-store.js';
export * from './ports/butler-source.js';
export * from './ports/clock.js';
export * from './ports/logger.js';
