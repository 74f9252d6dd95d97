/**
 * @module @virtos/composer
 * Natural language -> EnvironmentSpec + findings.
 */
import type { EnvironmentSpec, Finding } from '@virtos/spec';
import { finding } from '@virtos/spec';

/** What the composer made of a request. */
export interface ComposeResult {
  readonly ok: boolean;
  readonly intent: 'create' | 'modify';
  readonly spec: EnvironmentSpec | null;
  readonly findings: readonly Finding[];
}

/** Options of a compose call. */
export interface ComposeOptions {
  /** The spec to modify. */
  readonly base?: EnvironmentSpec;
}

/** The composer (pipeline in progress). */
export class Composer {
  compose(_text: string, options: ComposeOptions = {}): ComposeResult {
    return {
      ok: false,
      intent: options.base ? 'modify' : 'create',
      spec: null,
      findings: [finding('unsupported', 'request', 'The composer pipeline is being built.')],
    };
  }
}
