/**
 * npm run bench:results — the results benchmark of issue 14.
 *
 * 1. Generates two gzipped classification exports of BENCH_CLASSIFICATIONS
 *    (default 1,000,000) rows from the same draws, with the long browser
 *    metadata real exports carry, streamed row by row into temp files
 *    (never held in memory): a question (T0) and a survey (T1), the
 *    workflows the speed target is set for; and the same with a point tool
 *    (T2) whose marks are clustered too.
 * 2. Measures, each in its own child process (so peak RSS is that run's
 *    alone, as a user would see it):
 *    (a) the library: file -> createGunzip -> readClassificationExportBatches
 *        -> RunningReducer.apply (extract, repeats "first", counts, marks,
 *        SWAP on T0); then every subject's reduction (DBSCAN included).
 *        Twice: parsing every JSON column, and skipping metadata/subject_data
 *        (which reduction does not need).
 *    (b) "notebook style": the whole file gunzipped into memory, split into
 *        lines, a naive CSV split, JSON.parse, first-per-volunteer filter and
 *        dict counting of T0 answers and T1 choices; single-threaded, what a
 *        notebook does with pandas-free Python, in JS.
 *    (c) incremental: the state of (a) saved as NDJSON (one line per subject,
 *        the way it sits in the reductions table, one row per subject) plus
 *        an index subject -> byte offset (the table's primary key). In a
 *        fresh process, as the service does (src/domain/results-reduce.ts),
 *        only the shared part (totals, SWAP volunteers) and the subjects the
 *        10,000 new classifications (API stored form) touch are read by the
 *        index and parsed; the classifications are applied, the touched
 *        subjects re-reduced and their state re-serialised. The timed total
 *        is load-touched + apply + reduce + serialise. Loading the whole
 *        state is printed afterwards for reference only (the service never
 *        does it).
 * Prints a table against the targets: >= 100,000 classifications/s per core
 * for question/survey, peak RSS < 400 MB, incremental 10k <= 1 s (on the
 * export with points); the export with points is printed beside it.
 *
 * Every measured child runs JavaScript compiled by tsc, as the bridge runs
 * (bin/bridge.js loads dist/): the parent compiles the project into the
 * temp directory first. Run through tsx instead, the same children measured
 * about a quarter slower here, which is not what users get.
 *
 * Options (env): BENCH_CLASSIFICATIONS (1000000), BENCH_KEEP (keep the temp dir).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, openSync, readFileSync, readSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip, gunzipSync } from 'node:zlib';
import { readClassificationExportBatches, RunningReducer, subjectKey, type ReduceOptions, type RunningState } from '../src/results/index.js';
import { EXPORT_COLUMNS, exportCsvLine, generateClassifications, TASKS, WORKFLOW_ID, type GeneratorOptions } from '../test/support/classifications.js';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_CLASSIFICATIONS ?? 1_000_000);
const PER_SUBJECT = 20;
const GEN: GeneratorOptions = { seed: 14, subjects: Math.ceil(N / (PER_SUBJECT * 1.05)), perSubject: PER_SUBJECT, volunteers: 20_000, repeats: 0.05, anonymous: 0.1 };
const OPTIONS: ReduceOptions = {
  workflows: { [WORKFLOW_ID]: TASKS },
  swap: { task: 'T0', yes: 'Yes', no: 'No', prior: 0.3, goldTruth: (s) => (Number(s) % 50 === 0 ? Number(s) % 100 === 0 : undefined) },
};
const T = { rate: 100_000, rssMB: 400, incrementalS: 1 };

/** What a real export's metadata looks like (about 700 characters). */
function richMetadata(id: number, base: Record<string, unknown> | undefined): Record<string, unknown> {
  const t = 1735689600000 + id * 1000;
  return {
    ...base,
    session: `${(id * 2654435761).toString(16)}f3a9c1d2e4b5a6978c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b`,
    viewport: { width: 1512, height: 823 },
    started_at: new Date(t - 14_000).toISOString(),
    finished_at: new Date(t).toISOString(),
    live_project: true,
    interventions: { opt_in: true, messageShown: false },
    user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    utc_offset: '-3600',
    user_language: 'en',
    subject_dimensions: [{ clientWidth: 512, clientHeight: 512, naturalWidth: 400, naturalHeight: 400 }],
    subject_selection_state: { retired: false, selected_at: new Date(t - 20_000).toISOString(), already_seen: false, selection_state: 'normal', finished_workflow: false, user_has_finished_workflow: false },
    workflow_version: '12.3',
    workflow_translation_id: '98765',
    feedback: {},
  };
}

/**
 * Writes both exports in one pass over the same draws: `mixed` has every task (question, survey, points),
 * `questionSurvey` the same classifications without the point tool (the target is set for question/survey
 * workflows; clustering points is measured beside it).
 */
async function generate(files: { mixed: string; questionSurvey: string }): Promise<{ rows: number; bytes: number; questionSurveyBytes: number; lastId: string }> {
  const open = (file: string) => {
    const gz = createGzip({ level: 6 });
    const out = createWriteStream(file);
    gz.pipe(out);
    return { gz, out, lines: [] as string[] };
  };
  const sinks = [open(files.mixed), open(files.questionSurvey)];
  const flush = async (sink: (typeof sinks)[number]) => {
    if (!sink.lines.length) return;
    if (!sink.gz.write(sink.lines.join('\n') + '\n')) await once(sink.gz, 'drain');
    sink.lines = [];
  };
  for (const sink of sinks) sink.lines.push(EXPORT_COLUMNS.join(','));
  let rows = 0;
  let lastId = '';
  for (const c of generateClassifications(GEN, 'export')) {
    if (rows === N) break;
    c.metadata = richMetadata(Number(c.id), c.metadata);
    sinks[0].lines.push(exportCsvLine(c));
    sinks[1].lines.push(exportCsvLine({ ...c, annotations: c.annotations.filter((a) => (a as { task?: string }).task !== 'T2') }));
    rows++;
    lastId = c.id;
    if (sinks[0].lines.length === 1000) for (const sink of sinks) await flush(sink);
  }
  for (const sink of sinks) {
    await flush(sink);
    sink.gz.end();
    await once(sink.out, 'finish');
  }
  return { rows, bytes: (await stat(files.mixed)).size, questionSurveyBytes: (await stat(files.questionSurvey)).size, lastId };
}

const rssMB = () => process.resourceUsage().maxRSS / 1024;

// ---- children ---------------------------------------------------------------

async function childLibrary(file: string, parseAll: boolean, stateFile: string | undefined): Promise<Record<string, number>> {
  const reducer = new RunningReducer(OPTIONS);
  const t0 = performance.now();
  let n = 0;
  const input = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 20 }));
  for await (const batch of readClassificationExportBatches(input, parseAll ? {} : { parse: { metadata: false, subjectData: false } })) {
    for (const c of batch) reducer.feed(c);
    n += batch.length;
  }
  const tRead = performance.now();
  let clusters = 0;
  for (const k of reducer.subjectKeys()) {
    const r = reducer.reduction(k)!;
    const t2 = r.tasks.T2;
    if (t2?.kind === 'drawing') clusters += t2.tools.reduce((s, t) => s + t.clusters.length, 0);
  }
  const tReduce = performance.now();
  if (stateFile) {
    const { subjects, ...meta } = reducer.state;
    const out = createWriteStream(stateFile);
    const w = async (s: string) => {
      if (!out.write(s)) await once(out, 'drain');
    };
    // Beside the state, an index key -> [byte offset, length], as the reductions table's primary key would be.
    const index: Record<string, [number, number]> = {};
    let offset = 0;
    const line = (s: string) => {
      const bytes = Buffer.byteLength(s) + 1;
      offset += bytes;
      return w(s + '\n');
    };
    const metaText = JSON.stringify(meta);
    index[''] = [0, Buffer.byteLength(metaText)]; // the shared part (reduction_progress's row)
    await line(metaText);
    for (const k of Object.keys(subjects)) {
      const text = JSON.stringify([k, subjects[k]]);
      index[k] = [offset, Buffer.byteLength(text)];
      await line(text);
    }
    out.end();
    await once(out, 'finish');
    writeFileSync(`${stateFile}.index.json`, JSON.stringify(index));
  }
  return { n, readApplyS: (tRead - t0) / 1000, reduceAllS: (tReduce - tRead) / 1000, subjects: reducer.subjectKeys().length, clusters, skipped: reducer.state.totals.skipped, maxRssMB: rssMB() };
}

/** The notebook way: all in memory, split, parse, count. */
function childNotebook(file: string): Record<string, number> {
  const t0 = performance.now();
  const buf = gunzipSync(readFileSync(file));
  const naive = (line: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (q) {
        if (ch === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (ch === '"') q = false;
        else cur += ch;
      } else if (ch === '"') q = true;
      else if (ch === ',') {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  let start = buf.indexOf(10) + 1;
  const header = naive(buf.toString('utf8', 0, start - 1));
  const col = (k: string) => header.indexOf(k);
  const [iId, iUser, iName, iAnn, iSd, iSub, iMeta] = ['classification_id', 'user_id', 'user_name', 'annotations', 'subject_data', 'subject_ids', 'metadata'].map(col);
  const seen = new Set<string>();
  const answers = new Map<string, Record<string, number>>();
  const choices = new Map<string, Record<string, number>>();
  let n = 0;
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    if (end === -1) end = buf.length;
    const f = naive(buf.toString('utf8', start, end));
    start = end + 1;
    n++;
    const ann = JSON.parse(f[iAnn]) as { task: string; value: unknown }[];
    JSON.parse(f[iSd]);
    JSON.parse(f[iMeta]);
    const subject = f[iSub];
    const key = `${subject}|${f[iUser] || f[iName] || f[iId]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const a of ann) {
      if (a.task === 'T0') {
        const d = answers.get(subject) ?? {};
        d[String(a.value)] = (d[String(a.value)] ?? 0) + 1;
        answers.set(subject, d);
      } else if (a.task === 'T1') {
        const d = choices.get(subject) ?? {};
        for (const m of a.value as { choice: string }[]) d[m.choice] = (d[m.choice] ?? 0) + 1;
        choices.set(subject, d);
      }
    }
  }
  return { n, seconds: (performance.now() - t0) / 1000, subjects: answers.size, maxRssMB: rssMB() };
}

async function childIncremental(stateFile: string, lastId: string): Promise<Record<string, number>> {
  // As the service does (src/domain/results-reduce.ts): load the shared part (totals, SWAP volunteers) and only the
  // touched subjects' rows, here by the saved index (the table's primary key), not the whole state.
  const index = JSON.parse(readFileSync(`${stateFile}.index.json`, 'utf8')) as Record<string, [number, number]>;
  const fd = openSync(stateFile, 'r');
  const readAt = (offset: number, length: number) => {
    const b = Buffer.allocUnsafe(length);
    readSync(fd, b, 0, length, offset);
    return b.toString('utf8');
  };
  /** One incremental step on 10,000 new classifications (API stored form) with ids after `from`; seconds per phase. */
  const step = (seed: number, from: number) => {
    const fresh = [...generateClassifications({ ...GEN, seed, perSubject: 1, subjects: 10_000, volunteers: 20_000, firstId: from })].slice(0, 10_000);
    const t0 = performance.now();
    const state = JSON.parse(readAt(0, index[''][1])) as RunningState;
    const subjects: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    let loaded = 0;
    for (const c of fresh) {
      for (const sid of c.subjectIds) {
        const k = subjectKey(c.workflowId, sid);
        if (k in subjects || !index[k] || k === '') continue;
        subjects[k] = (JSON.parse(readAt(index[k][0], index[k][1])) as [string, unknown])[1];
        loaded++;
      }
    }
    const reducer = RunningReducer.adopt({ ...state, subjects }, OPTIONS);
    const tLoad = performance.now();
    reducer.takeDirty();
    for (const c of fresh) reducer.feed(c);
    const dirty = reducer.takeDirty();
    let bytes = 0;
    for (const k of dirty) {
      reducer.reduction(k);
      bytes += JSON.stringify(reducer.state.subjects[k]).length;
    }
    bytes += JSON.stringify(reducer.state.swapVolunteers).length;
    const t2 = performance.now();
    return { loadS: (tLoad - t0) / 1000, loaded, applyReduceSaveS: (t2 - tLoad) / 1000, totalS: (t2 - t0) / 1000, dirty: dirty.length, savedMB: bytes / 1e6 };
  };
  // The first step in a fresh process also pays for compiling the code; the service's workers are long-running,
  // so each later step is what a pull costs. Both are printed; the target is checked on the second.
  const cold = step(15, Number(lastId) + 1);
  const warm = step(16, Number(lastId) + 20_001);
  closeSync(fd);
  const incRssMB = rssMB();
  // For reference only: what loading the whole state (every subject) costs.
  const t3 = performance.now();
  const all: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let first = true;
  let meta: RunningState | undefined;
  for await (const text of createInterface({ input: createReadStream(stateFile), crlfDelay: Infinity })) {
    if (first) {
      first = false;
      meta = JSON.parse(text) as RunningState;
    } else {
      const [k, st] = JSON.parse(text) as [string, unknown];
      all[k] = st;
    }
  }
  RunningReducer.adopt({ ...meta!, subjects: all }, OPTIONS);
  const fullLoadS = (performance.now() - t3) / 1000;
  return { ...warm, coldTotalS: cold.totalS, maxRssMB: incRssMB, fullLoadS };
}

// ---- parent -----------------------------------------------------------------

/** The bench compiled by tsc (with the library and the generator it imports), as a user's build would be. */
let compiled = '';
function compile(dir: string): void {
  const out = join(dir, 'build');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json'), '--outDir', out, '--noEmit', 'false', '--sourceMap', 'false'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling the bench failed: ${r.stdout}${r.stderr}`);
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  compiled = join(out, 'bench', 'results.js');
}

function child(args: string[]): Record<string, number> {
  const r = spawnSync(process.execPath, [compiled, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child ${args[0]} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'library') return void console.log(JSON.stringify(await childLibrary(rest[0], rest[1] === 'all', rest[2])));
  if (mode === 'notebook') return void console.log(JSON.stringify(childNotebook(rest[0])));
  if (mode === 'incremental') return void console.log(JSON.stringify(await childIncremental(rest[0], rest[1])));

  const dir = await mkdtemp(join(tmpdir(), 'bench-results-'));
  try {
    compile(dir);
    const file = join(dir, 'classifications.csv.gz');
    const qsFile = join(dir, 'question-survey.csv.gz');
    const stateFile = join(dir, 'state.ndjson');
    let t = performance.now();
    const g = await generate({ mixed: file, questionSurvey: qsFile });
    console.log(`generated ${g.rows.toLocaleString()} classifications twice (${(g.bytes / 1e6).toFixed(0)} MB gzipped with points, ${(g.questionSurveyBytes / 1e6).toFixed(0)} MB without) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    const qsLean = child(['library', qsFile, 'lean']);
    const qsAll = child(['library', qsFile, 'all']);
    const qsNb = child(['notebook', qsFile]);
    const libAll = child(['library', file, 'all', stateFile]);
    const libLean = child(['library', file, 'lean']);
    const nb = child(['notebook', file]);
    const inc = child(['incremental', stateFile, g.lastId]);
    const stateMB = (await stat(stateFile)).size / 1e6;
    const rate = (n: number, s: number) => Math.round(n / s);
    const ok = (b: boolean) => (b ? 'yes' : 'NO');
    const lib = (name: string, r: Record<string, number>, target: boolean): [string, string, string, string] => [name, rate(r.n, r.readApplyS).toLocaleString(), r.maxRssMB.toFixed(0), target ? ok(rate(r.n, r.readApplyS) >= T.rate && r.maxRssMB < T.rssMB) : r.maxRssMB < T.rssMB ? 'RSS yes' : 'RSS NO'];
    const rows: [string, string, string, string][] = [
      ['run', 'classifications/s (1 core)', 'peak RSS MB', 'meets target'],
      ['question + survey (the target\'s workflows):', '', '', ''],
      lib('(a) library, metadata/subject_data skipped', qsLean, true),
      lib('(a) library, all JSON columns parsed', qsAll, true),
      ['(b) notebook style (whole file in memory)', rate(qsNb.n, qsNb.seconds).toLocaleString(), qsNb.maxRssMB.toFixed(0), '-'],
      ['question + survey + points (DBSCAN):', '', '', ''],
      lib('(a) library, metadata/subject_data skipped', libLean, false),
      lib('(a) library, all JSON columns parsed', libAll, false),
      ['(b) notebook style (whole file in memory)', rate(nb.n, nb.seconds).toLocaleString(), nb.maxRssMB.toFixed(0), '-'],
    ];
    console.log('');
    for (const r of rows) console.log(`${r[0].padEnd(46)} ${r[1].padStart(26)} ${r[2].padStart(12)} ${r[3].padStart(13)}`);
    console.log('');
    console.log(`ratios in this run: question + survey ${(rate(qsLean.n, qsLean.readApplyS) / rate(qsNb.n, qsNb.seconds)).toFixed(1)}x the notebook style (metadata skipped), ${(rate(qsAll.n, qsAll.readApplyS) / rate(qsNb.n, qsNb.seconds)).toFixed(1)}x (all parsed, as the notebook does); with points ${(rate(libAll.n, libAll.readApplyS) / rate(nb.n, nb.seconds)).toFixed(1)}x (all parsed)`);
    console.log(`(a) ${libAll.n.toLocaleString()} rows, ${libAll.subjects.toLocaleString()} subjects, read+apply ${libAll.readApplyS.toFixed(1)} s; every subject's reduction (DBSCAN included) ${libAll.reduceAllS.toFixed(1)} s, ${libAll.clusters.toLocaleString()} clusters; skipped annotations ${libAll.skipped}`);
    console.log(`(c) incremental, a running worker's step: ${inc.loaded.toLocaleString()} touched subjects' state loaded by index (of ${stateMB.toFixed(0)} MB NDJSON) in ${inc.loadS.toFixed(2)} s; 10,000 new classifications applied, ${inc.dirty.toLocaleString()} subjects re-reduced and re-serialised (${inc.savedMB.toFixed(1)} MB) in ${inc.applyReduceSaveS.toFixed(2)} s; total ${inc.totalS.toFixed(2)} s (target <= ${T.incrementalS} s: ${ok(inc.totalS <= T.incrementalS)}); peak RSS ${inc.maxRssMB.toFixed(0)} MB`);
    console.log(`    (the first step in a fresh process, compiling the code as it goes, took ${inc.coldTotalS.toFixed(2)} s)`);
    console.log(`    (reference: loading the whole state, every subject, takes ${inc.fullLoadS.toFixed(1)} s; the service never does that)`);
    console.log(`targets: >= ${T.rate.toLocaleString()} classifications/s per core for question/survey, peak RSS < ${T.rssMB} MB, incremental 10k <= ${T.incrementalS} s`);
  } finally {
    if (!process.env.BENCH_KEEP) await rm(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

await main();
