import { PanoptesRefused, type PanoptesClient, type PanoptesSubject, type SubjectQuery } from './ports/panoptes-client.js';

/*
 * The Panoptes client renews its token ahead of expiry and once more when a
 * request meets a 401; a second 401 in the same request it reports as
 * refused credentials (PanoptesRefused, reason 'credentials'). During an upload
 * with many requests in flight that can also be a race: a token dies while
 * another request is already carrying its successor, which dies in turn.
 * Failing a whole batch for good on that would be wrong, so the upload
 * engine asks again a few times: a 401 is answered before anything runs, so
 * every call (creates included) is safe to send again after one. Credentials
 * that are really refused still fail within a few requests.
 */

const ATTEMPTS = 3;

export function isTokenRefusal(e: unknown): boolean {
  return e instanceof PanoptesRefused && e.reason === 'credentials';
}

async function again<T>(fn: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTokenRefusal(e) || n >= ATTEMPTS) throw e;
    }
  }
}

/** Listings restart from the first page; subjects already yielded are not yielded again. */
async function* listAgain(p: PanoptesClient, q: SubjectQuery): AsyncIterable<PanoptesSubject> {
  const seen = new Set<string>();
  for (let n = 1; ; n++) {
    try {
      for await (const s of p.findSubjects(q)) {
        if (seen.has(s.id)) continue;
        seen.add(s.id);
        yield s;
      }
      return;
    } catch (e) {
      if (!isTokenRefusal(e) || n >= ATTEMPTS) throw e;
    }
  }
}

/** `p` with calls repeated after a token refusal. createSubject is left alone: the engine counts those refusals itself. */
export function withTokenRetry(p: PanoptesClient): PanoptesClient {
  return {
    me: () => again(() => p.me()),
    getProject: (id) => again(() => p.getProject(id)),
    createSubjectSet: (input) => again(() => p.createSubjectSet(input)),
    getSubjectSet: (id) => again(() => p.getSubjectSet(id)),
    findSubjectSets: (q) => again(() => p.findSubjectSets(q)),
    createSubject: (input) => p.createSubject(input),
    getSubject: (id) => again(() => p.getSubject(id)),
    findSubjects: (q) => listAgain(p, q),
    linkSubjects: (setId, ids) => again(() => p.linkSubjects(setId, ids)),
    unlinkSubjects: (setId, ids) => again(() => p.unlinkSubjects(setId, ids)),
    deleteSubject: (id) => again(() => p.deleteSubject(id)),
    createSubjectSetImport: (input) => again(() => p.createSubjectSetImport(input)),
    getSubjectSetImport: (id) => again(() => p.getSubjectSetImport(id)),
    findSubjectSetImports: (q) => again(() => p.findSubjectSetImports(q)),
  };
}
