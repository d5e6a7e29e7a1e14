import { z } from 'zod';
import { registrationSchema } from './collections-routes.js';

/** OpenAPI 3.1 description of /api/v1, the request schema generated from the same zod schema the route uses. */
export function openApiDocument(): Record<string, unknown> {
  const problem = { $ref: '#/components/schemas/Problem' };
  const errors = {
    '400': { description: 'Invalid request (names the field)', content: { 'application/problem+json': { schema: problem } } },
    '401': { description: 'Not authenticated', content: { 'application/problem+json': { schema: problem } } },
    '403': { description: 'Not allowed', content: { 'application/problem+json': { schema: problem } } },
    '404': { description: 'Not found', content: { 'application/problem+json': { schema: problem } } },
  };
  const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }];
  const page = [
    { name: 'after', in: 'query', schema: { type: 'string', format: 'uuid' } },
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
    { name: 'state', in: 'query', schema: { type: 'string' } },
  ];
  return {
    openapi: '3.1.0',
    info: { title: 'RSP-to-Zooniverse bridge', version: '1' },
    servers: [{ url: '/api/v1' }],
    components: {
      schemas: {
        Registration: z.toJSONSchema(registrationSchema, { io: 'input' }),
        Problem: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' }, title: { type: 'string' }, detail: { type: 'string' }, field: { type: 'string' }, requestId: { type: 'string' } } },
      },
    },
    paths: {
      '/collections': {
        post: { summary: 'Register a collection under u/<you>/', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Registration' } } } }, responses: { '201': { description: 'Registered' }, '409': { description: 'Already registered' }, ...errors } },
        get: { summary: 'My collections (all=true for reviewers/admins)', responses: { '200': { description: 'List' }, ...errors } },
      },
      '/collections/{id}': { get: { summary: 'A collection with counts per state', parameters: idParam, responses: { '200': { description: 'Collection' }, ...errors } } },
      '/collections/{id}/pause': { post: { summary: 'Stop polling', parameters: idParam, responses: { '200': { description: 'Paused' }, ...errors } } },
      '/collections/{id}/resume': { post: { summary: 'Resume polling', parameters: idParam, responses: { '200': { description: 'Active' }, ...errors } } },
      '/collections/{id}/retire': { post: { summary: 'Retire for good', parameters: idParam, responses: { '200': { description: 'Retired' }, ...errors } } },
      '/collections/{id}/artifacts': { get: { summary: 'Artifacts, each failed one with its reason', parameters: [...idParam, ...page], responses: { '200': { description: 'Page' }, ...errors } } },
      '/collections/{id}/images': { get: { summary: 'Images', parameters: [...idParam, ...page], responses: { '200': { description: 'Page' }, ...errors } } },
    },
  };
}
