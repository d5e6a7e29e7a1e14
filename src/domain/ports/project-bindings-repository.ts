import type { ProjectBinding, ProjectBindingRequest } from '../model.js';

export interface NewProjectBinding {
  username: string;
  /** Zooniverse project id (digits). */
  projectId: string;
  approvedBy: string;
}

export interface NewProjectBindingRequest {
  username: string;
  /** Zooniverse project id (digits). */
  projectId: string;
  reason: string;
}

/** The Zooniverse projects an admin approved for each PI, and the PIs' requests waiting for an admin (see domain/project-bindings.ts). */
export interface ProjectBindingsRepository {
  /** Oldest first. */
  list(): Promise<ProjectBinding[]>;
  /** One PI's approved projects, oldest first. */
  listFor(username: string): Promise<ProjectBinding[]>;
  isApproved(username: string, projectId: string): Promise<boolean>;
  /** Undefined when the PI already has that project. */
  approve(b: NewProjectBinding): Promise<ProjectBinding | undefined>;
  /** Removes the binding and returns what it was; undefined when there was none. */
  revoke(username: string, projectId: string): Promise<ProjectBinding | undefined>;
  /** Requests waiting for an admin, oldest first; only `username`'s when given. */
  requests(username?: string): Promise<ProjectBindingRequest[]>;
  /** Undefined when the PI already asked for that project (the request stands as it was). */
  request(r: NewProjectBindingRequest): Promise<ProjectBindingRequest | undefined>;
  /** Removes the request and returns what it was; undefined when there was none. */
  dropRequest(username: string, projectId: string): Promise<ProjectBindingRequest | undefined>;
}
