/**
 * Registers every route behind the module system in one call: notes, files, search and settings,
 * audit and security status, and modules. The shell's module broker forwards capability-checked
 * module calls to these routes with the session token.
 */
import type { FastifyInstance } from 'fastify';
import type { PersonalState, UnlockedService } from '../personal-state.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerFilesRoutes } from './files-routes.js';
import { registerModulesRoutes } from './modules-routes.js';
import { registerNotesRoutes } from './notes-routes.js';
import { registerSearchRoutes } from './search-routes.js';

/** Options of {@link registerModuleApiRoutes}. */
export interface ModuleApiRouteOptions {
  /** Directory of built-in module packages (default: packages/modules/dist). */
  readonly builtinModulesDir?: string;
}

/** Registers the notes, files, search, settings, audit, security and module routes. */
export function registerModuleApiRoutes(
  app: FastifyInstance,
  state: Pick<PersonalState<UnlockedService>, 'currentVault' | 'onDidLock'>,
  options: ModuleApiRouteOptions = {},
): void {
  const access = { currentVault: () => state.currentVault() };
  registerNotesRoutes(app, access);
  registerFilesRoutes(app, access);
  registerSearchRoutes(app, access);
  registerAuditRoutes(app, access);
  registerModulesRoutes(app, {
    ...access,
    state,
    ...(options.builtinModulesDir !== undefined && { builtinDir: options.builtinModulesDir }),
  });
}
