import { ValidationError } from './errors.js';

/*
 * A registered collection name is a Butler run path, and it is also where a
 * retrieve-artifacts tree is looked for on disk and what a delegated prefix
 * is matched against. So only one spelling of each name is accepted:
 * `u/<username>/<segment>[/<segment>...]`, segments of letters, digits, `.`,
 * `_` and `-`, none empty, none `.` or `..`. `u/alien/../bob/x` would pass
 * a prefix check for `u/alien/` while naming bob's tree; `u/alien//x` and a
 * trailing slash would be a second name for the same run.
 */
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]*$/;

/** The name as given, when it is canonical; otherwise a 400 naming the field and the rule it breaks. */
export function checkCollectionName(name: string): string {
  const refuse = (why: string): never => {
    throw new ValidationError(`collection ${JSON.stringify(name.slice(0, 210))}: ${why}`, { field: 'collection' });
  };
  if (name.length > 200) refuse('must be at most 200 characters');
  const parts = name.split('/');
  if (parts[0] !== 'u' || parts.length < 3) refuse('must be a user run collection u/<username>/<name>');
  if (!USERNAME.test(parts[1])) refuse('the username segment must be an RSP username');
  for (const p of parts.slice(2)) {
    if (p === '') refuse('has an empty segment (// or a trailing /)');
    if (p === '.' || p === '..') refuse('may not contain . or .. segments');
    if (!SEGMENT.test(p)) refuse('segments are letters, digits, ".", "_" and "-" only');
  }
  return name;
}
