// Moved to src/demo (the demo Panoptes server of `bridge demo`); the tests keep importing it from here.
export * from '../../src/demo/panoptes-double/panoptes-server.js';
