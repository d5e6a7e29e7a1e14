import { describe, expect, it } from 'vitest';
import { parseCsv, parseExtraMetadataTable, readExtraMetadataTable } from '../../src/domain/extra-metadata-table.js';
import { parseExtraMetadata } from '../../src/domain/subject-metadata.js';
import { toCsv } from '../../src/domain/csv.js';
import { ValidationError } from '../../src/domain/errors.js';

describe("the PI's extra-metadata table (CSV)", () => {
  it('reads objects by image id, dataset:stamp or stamp, numbers as numbers, empty cells left off', () => {
    const table = '\uFEFFobject,ml_score,#priority,note\r\n3f1c2b9e-0000-4000-8000-000000000001,0.93,5,\r\nabc123:12,0.41,,"faint, ""check"""\r\n7,1e-3,1,007\r\n';
    expect(parseExtraMetadataTable(table)).toEqual({
      '3f1c2b9e-0000-4000-8000-000000000001': { ml_score: 0.93, '#priority': 5 },
      'abc123:12': { ml_score: 0.41, note: 'faint, "check"' },
      '7': { ml_score: 0.001, '#priority': 1, note: '007' },
    });
  });

  it('round-trips what the bridge itself writes as CSV, line breaks inside values included', () => {
    const rows = [['1', 'two\nlines', ' padded '], ['2', '', 'x,y']];
    expect(parseCsv(toCsv(['object', 'a', 'b'], rows))).toEqual([['object', 'a', 'b'], ...rows]);
  });

  it.each([
    ['', /the table is empty/],
    ['id,score\n1,2\n', /line 1: the first column must be "object"/],
    ['object\n1\n', /no metadata columns/],
    ['object,a,a\n1,2,3\n', /column "a" appears twice/],
    ['object,a\n1,2,3\n', /line 2: 3 values for 2 columns/],
    ['object,a\n1,2\n1,3\n', /line 3: object "1" already has a row on line 2/],
    ['object,a\n,2\n', /line 2: the object column is empty/],
    ['object,a\n1,"open\n', /never closed/],
    ['object,a\n1,ab"c\n', /line 2: a quote inside an unquoted value/],
  ])('refuses %j naming the line and rule', (csv, message) => {
    const e = (() => {
      try {
        parseExtraMetadataTable(csv);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as Error).message).toMatch(message);
  });

  it('leaves the checks on names and values to the metadata rules, which name the object', () => {
    const objects = parseExtraMetadataTable('object,#priority,#bridge_image_id\n1,2,x\n');
    expect(() => parseExtraMetadata({ objects })).toThrow(/extra_metadata\.objects\["1"\]: "#bridge_image_id" is set by the bridge/);
    const priority = parseExtraMetadataTable('object,#priority\n1,high\n');
    expect(() => parseExtraMetadata({ objects: priority })).toThrow(/\["#priority"\] must be a number/);
  });
});

describe('large extra-metadata tables', () => {
  const table = (rows: number) => ['object,ml_score,#priority,note', ...Array.from({ length: rows }, (_, i) => `${i},0.${i},${i % 10},"note, ${i}"`)].join('\n');

  it('are refused over the byte or row limit, naming the limit', async () => {
    await expect(readExtraMetadataTable(table(100), { bytes: 1000, rows: 20_000 })).rejects.toThrow(/bytes is over the limit of 1000 bytes/);
    await expect(readExtraMetadataTable(table(101), { bytes: 1e9, rows: 100 })).rejects.toThrow(/line 102: more than 100 rows/);
    expect(Object.keys(await readExtraMetadataTable(table(100), { bytes: 1e9, rows: 100 }))).toHaveLength(100);
  });

  it('refuses a bad row in a large table by line, exactly as the small reader does', async () => {
    const text = `${table(5000)}\n5000,high,x`;
    await expect(readExtraMetadataTable(text)).rejects.toThrow(/line 5002: 3 values for 4 columns/);
  });
});
