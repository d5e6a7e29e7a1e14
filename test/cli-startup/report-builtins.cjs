// Preloaded with `node --require` by bundled-launcher.test.ts: at exit, writes one "builtin <id>" line on stderr for
// every Node built-in module the process loaded after start-up (CommonJS requires included, which the ESM load hook
// in report-loaded-modules.mjs does not see).
const before = new Set(process.moduleLoadList);
process.on('exit', () => {
  const lines = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => `builtin ${m.slice('NativeModule '.length)}\n`);
  require('node:fs').writeSync(2, lines.join(''));
});
