import type { ProjectBinding } from '../model.js';

export interface NewProjectBinding {
  username: string;
  /** Zooniverse project id (digits). */
  projectId: string;
  approvedBy: string;
}

/** The Zooniverse projects an admin approved for each PI (see domain/project-bindings.ts). */
export interface ProjectBindingsRepository {
  /** Oldest first. */
  list(): Promise<ProjectBinding[]>;
  isApproved(username: string, projectId: string): Promise<boolean>;
  /** Undefined when the PI already has that project. */
  approve(b: NewProjectBinding): Promise<ProjectBinding | undefined>;
  /** Removes the binding and returns what it was; undefined when there was none. */
  revoke(username: string, projectId: string): Promise<ProjectBinding | undefined>;
}
