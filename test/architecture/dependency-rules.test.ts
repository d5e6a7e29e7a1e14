import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { checkDependencies, LONG_FILE_MARKER, projectSources, unexplainedLongFiles } from './dependency-rules.js';

const ROOT = join(import.meta.dirname, '../..');

describe('dependency rules (ARCHITECTURE.md)', () => {
  const sources = projectSources(ROOT);

  it('reads the whole tree', () => {
    expect(sources.some((f) => f.path === 'src/domain/review.ts')).toBe(true);
    expect(sources.length).toBeGreaterThan(100);
  });

  it('the code keeps every rule', () => {
    expect(checkDependencies(sources)).toEqual([]);
  });

  it('files over 400 lines say why in their header', () => {
    expect(unexplainedLongFiles(sources)).toEqual([]);
  });

  describe('fails when a rule is broken', () => {
    const cases: [string, string, string][] = [
      ['src/imaging/convert.ts', "import { x } from '../domain/model.js';", 'imaging imports nothing outside src/imaging'],
      ['src/imaging/convert.ts', "import express from 'express';", 'imaging imports nothing outside src/imaging'],
      ['src/results/running.ts', "import { x } from '../domain/model.js';", 'results imports nothing outside src/results'],
      ['src/results/running.ts', "import { Pool } from 'pg';", 'results imports nothing outside src/results'],
      ['src/results/export-csv.ts', "import { parse } from 'yaml';", 'results imports nothing outside src/results'],
      ['src/results/index.ts', "export { convert } from '../imaging/convert.js';", 'results imports nothing outside src/results'],
      ['src/domain/review.ts', "import { createRepositories } from '../db/repositories/index.js';", 'the domain depends on ports, not on adapters, api, cli or processes'],
      ['src/domain/review.ts', "import type { Kysely } from 'kysely';", 'the domain depends on ports, not on adapter packages'],
      ['src/domain/review.ts', "import { Queue } from 'bullmq';", 'the domain depends on ports, not on adapter packages'],
      ['src/domain/review.ts', "import { S3Client } from '@aws-sdk/client-s3';", 'the domain depends on ports, not on adapter packages'],
      ['src/domain/review.ts', "import { Router } from 'express';", 'the domain depends on ports, not on adapter packages'],
      ['src/domain/notify.ts', "export async function go() { await fetch('https://example.org'); }", 'the domain depends on ports, not on adapters'],
      ['src/domain/notify.ts', "export const m = () => import('../adapters/storage/s3-store.js');", 'the domain depends on ports, not on adapters, api, cli or processes'],
      ['src/api/review-routes.ts', "import { s3Store } from '../adapters/storage/s3-store.js';", 'api talks to services and ports, not to adapters or workers'],
      ['src/api/review-routes.ts', "export { imagesRepository } from '../db/repositories/images.js';", 'api talks to services and ports, not to adapters or workers'],
      ['workers/publish.ts', "import { createApi } from '../src/api/app.js';", 'workers do not import the api or the cli'],
      ['src/domain/export.ts', "import { main } from '../cli/main.js';", 'nothing imports the cli'],
    ];
    it.each(cases)('%s: %s', (path, line, rule) => {
      const violations = checkDependencies([{ path, text: `${line}\nexport const ok = 1;\n` }]);
      expect(violations.map((v) => v.rule)).toContain(rule);
    });

    it('but allows what the rules allow', () => {
      const fine = [
        { path: 'src/domain/review.ts', text: "import type { Repositories } from './ports/repositories.js';\nimport { createHash } from 'node:crypto';\nimport { z } from 'zod';\nconst o = { fetch: 1 }; o.fetch;\n" },
        { path: 'src/imaging/convert.ts', text: "import { deflateSync } from 'node:zlib';\nimport { readFits } from './fits/fits-file.js';\n" },
        { path: 'src/results/export-csv.ts', text: "import { StringDecoder } from 'node:string_decoder';\nimport { CsvSplitter } from './csv.js';\n" },
        { path: 'src/api/review-routes.ts', text: "import { decide } from '../domain/review.js';\n" },
        { path: 'workers/publish.ts', text: "import { publishImage } from '../src/domain/publish.js';\n" },
        { path: 'src/cli/main.ts', text: "import { exportCommand } from './export-command.js';\n" },
      ];
      expect(checkDependencies(fine)).toEqual([]);
    });

    it('a long file without a reason is named, one with a reason is not', () => {
      const body = 'export const x = 1;\n'.repeat(450);
      expect(unexplainedLongFiles([{ path: 'src/domain/big.ts', text: body }])).toEqual([{ file: 'src/domain/big.ts', lines: 451 }]);
      expect(unexplainedLongFiles([{ path: 'src/domain/big.ts', text: `/* ${LONG_FILE_MARKER} it is one state machine. */\n${body}` }])).toEqual([]);
    });
  });
});
