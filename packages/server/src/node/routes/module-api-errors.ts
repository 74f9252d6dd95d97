/**
 * Error codes of the routes behind the module system (`modules.<code>`): module installs, frame
 * tickets and file uploads. Vault errors (`vault.no_such_item`, `vault.locked`…) pass through.
 */
import { defineErrors } from '@virtos/core';

/** Errors raised by the notes, files, settings, audit and module routes. */
export const ModuleApiErrors = defineErrors('modules', {
  /** The manifest does not match the schema (id, name, version, entry, capabilities). */
  invalid_manifest: 'invalid_argument',
  /** Grants must be a subset of the capabilities the manifest requests. */
  grant_not_requested: 'invalid_argument',
  /** No module with this id is installed. */
  not_installed: 'not_found',
  /** A module with this id is installed already. */
  already_installed: 'already_exists',
  /** No built-in module with this id (or the built-ins were not built). */
  no_such_builtin: 'not_found',
  /** The module is disabled; enable it first. */
  disabled: 'failed_precondition',
  /** The frame ticket is unknown, used or expired. */
  bad_ticket: 'permission_denied',
  /** An uploaded file is larger than the limit. */
  file_too_large: 'invalid_argument',
});
