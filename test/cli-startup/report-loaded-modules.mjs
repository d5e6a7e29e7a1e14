// Loaded with `node --import` by lazy-loading.test.ts: reports every module the process loads, one
// "loaded <url>" line on stderr each, so the test can say which modules a command pulled in.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent('export async function load(url, context, next) { process.stderr.write(`loaded ${url}\\n`); return next(url, context); }'),
);
