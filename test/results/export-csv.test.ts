import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { extractClassification, ExportReadError, ExportRowError, readClassificationExport, type RawClassification } from '../../src/results/index.js';
import { EXPORT_COLUMNS, exportCsvLine, exportCsvText, generateClassifications, TASKS } from '../support/classifications.js';

async function readAll(chunks: Iterable<Buffer | string> | AsyncIterable<Buffer | string>, onError?: (e: ExportRowError) => void): Promise<RawClassification[]> {
  const out: RawClassification[] = [];
  const input = Symbol.asyncIterator in Object(chunks) ? (chunks as AsyncIterable<Buffer | string>) : Readable.from(chunks as Iterable<Buffer | string>);
  for await (const c of readClassificationExport(input, onError ? { onError } : {})) out.push(c);
  return out;
}

/** Splits text into chunks of n bytes (UTF-8 boundaries included). */
const bytes = (text: string, n: number): Buffer[] => {
  const b = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
};

const HEADER = EXPORT_COLUMNS.join(',');
const row = (over: Partial<Record<(typeof EXPORT_COLUMNS)[number], string>>) => {
  const d: Record<string, string> = {
    classification_id: '11',
    user_name: 'ada',
    user_id: '42',
    user_ip: 'c0ffee',
    workflow_id: '7',
    workflow_name: 'w',
    workflow_version: '1.2',
    created_at: '2025-03-04 05:06:07 UTC',
    gold_standard: '',
    expert: '',
    metadata: '"{""classifier_version"":""2.0""}"',
    annotations: '"[{""task"":""T0"",""value"":""Yes""}]"',
    subject_data: '"{""9"":{""retired"":null,""#bridge_image_id"":""img-9""}}"',
    subject_ids: '9',
    ...over,
  };
  return EXPORT_COLUMNS.map((k) => d[k]).join(',');
};

describe('classification export reader', () => {
  const gen = [...generateClassifications({ seed: 21, subjects: 8, perSubject: 5, volunteers: 12, anonymous: 0.3 }, 'export')];
  const text = exportCsvText(gen);

  it('reads back what was written, with ISO times and no user_ip anywhere', async () => {
    const got = await readAll([text]);
    expect(got).toHaveLength(gen.length);
    for (let i = 0; i < gen.length; i++) {
      expect(got[i]).toEqual({ ...gen[i], createdAt: gen[i].createdAt.replace(' ', 'T').replace(' UTC', 'Z'), goldStandard: undefined, expert: undefined });
    }
    expect(JSON.stringify(got)).not.toMatch(/ip-|user_ip/);
    expect(got.some((c) => c.userName?.startsWith('not-logged-in-'))).toBe(true);
    expect(got[0].subjectData![got[0].subjectIds[0]]['#bridge_image_id']).toBe(`img-${got[0].subjectIds[0]}`);
  });

  it('is indifferent to chunk boundaries, down to one byte at a time (multi-byte characters split)', async () => {
    const t = `${HEADER}\r\n${row({ user_name: '"Zoë, the ""expert"""' })}\r\n${row({ classification_id: '12', workflow_name: '"two\nlines"' })}`;
    const whole = await readAll([t]);
    expect(whole.map((c) => c.userName)).toEqual(['Zoë, the "expert"', 'ada']);
    expect(await readAll(bytes(t, 1))).toEqual(whole);
    expect(await readAll(bytes(t, 7))).toEqual(whole);
    expect(await readAll(bytes(text, 3))).toEqual(await readAll([text]));
  });

  it('finds columns by name: any order, extra columns, BOM', async () => {
    const cols = ['extra_one', ...[...EXPORT_COLUMNS].reverse(), 'extra_two'];
    const t = '\uFEFF' + exportCsvText(gen.slice(0, 5), cols);
    expect(await readAll([t])).toEqual((await readAll([text])).slice(0, 5));
  });

  it('reads flags, multi-subject ids and empty optional fields', async () => {
    const t = `${HEADER}\n${row({ gold_standard: 'true', expert: '17', subject_ids: '9;10', metadata: '', subject_data: '', user_id: '', user_name: 'not-logged-in-abc' })}\n`;
    const [c] = await readAll([t]);
    expect(c).toMatchObject({ goldStandard: true, expert: true, subjectIds: ['9', '10'], userId: null, userName: 'not-logged-in-abc', createdAt: '2025-03-04T05:06:07Z' });
    expect(c.metadata).toBeUndefined();
  });

  it('names the line and column of a malformed row, and goes on when asked to', async () => {
    const lines = [
      HEADER,
      row({}), // line 2
      row({ classification_id: '12', workflow_name: '"multi\nline"' }), // lines 3-4
      row({ classification_id: '13', annotations: '"[{""task"":""T0"",""value"":}]"' }), // line 5: bad JSON
      row({ classification_id: '14' }) + ',surplus', // line 6: too many fields
      row({ classification_id: '15', user_name: 'bad"quote' }), // line 7
      row({ classification_id: '16', user_name: '"closed"early' }), // line 8
      row({ classification_id: 'x17' }), // line 9
      row({ classification_id: '18', annotations: '"{}"' }), // line 10
      row({ classification_id: '19' }), // line 11
    ];
    const t = lines.join('\n') + '\n';
    await expect(readAll([t])).rejects.toThrow('export line 5, column annotations: invalid JSON');
    const errors: ExportRowError[] = [];
    const got = await readAll(bytes(t, 5), (e) => errors.push(e));
    expect(got.map((c) => c.id)).toEqual(['11', '12', '19']);
    expect(errors.map((e) => [e.line, e.column])).toEqual([
      [5, 'annotations'],
      [6, undefined],
      [7, 'user_name'],
      [8, 'user_name'],
      [9, 'classification_id'],
      [10, 'annotations'],
    ]);
    expect(errors[1].message).toBe('export line 6: 15 fields, the header has 14');
    expect(errors[2].message).toMatch(/quote inside an unquoted field/);
  });

  it('an unterminated quote at the end of the input is an error naming its line', async () => {
    const t = `${HEADER}\n${row({})}\n${row({ classification_id: '12' }).split('retired')[0]}`;
    await expect(readAll([t])).rejects.toThrow(/export line 3, column subject_data: unterminated quoted field \(the input ends inside it\)/);
  });

  it('rejects a file that is not an export', async () => {
    await expect(readAll(['a,b,c\n1,2,3\n'])).rejects.toThrow(/not a classification export: no classification_id, workflow_id, annotations, subject_ids column/);
    await expect(readAll([''])).rejects.toThrow(ExportReadError);
  });

  it('a truncated gzip piped through createGunzip gives a clear error', async () => {
    const gz = gzipSync(Buffer.from(text));
    const cut = gz.subarray(0, Math.floor(gz.length * 0.6));
    const gunzip = Readable.from([cut]).pipe(createGunzip());
    const err = await readAll(gunzip).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportReadError);
    expect((err as Error).message).toMatch(/^reading the export failed after line \d+: unexpected end of file$/);
    // And an intact one reads fully.
    expect(await readAll(Readable.from([gz]).pipe(createGunzip()))).toHaveLength(gen.length);
  });

  it('export rows extract like the API pull of the same classifications (labels == indices + tasks)', async () => {
    const opts = { seed: 4, subjects: 5, perSubject: 4, volunteers: 9, anonymous: 0 };
    const api = [...generateClassifications(opts, 'api')];
    const rows = await readAll([exportCsvText(generateClassifications(opts, 'export'))]);
    const strip = (c: RawClassification) => extractClassification(c, { tasks: TASKS }).extracts.map(({ createdAt: _c, ...e }) => e);
    expect(rows.map(strip)).toEqual(api.map(strip));
  });

  it('exportCsvLine writes a quoted, doubled-quote line the reader undoes', async () => {
    const c = gen[0];
    expect(exportCsvLine(c)).toContain('""task""');
  });
});
