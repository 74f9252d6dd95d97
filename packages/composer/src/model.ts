/**
 * The seam for a local language model. A model may propose a spec for a request the deterministic
 * path did not understand, or repair one with findings; whatever it proposes is validated and
 * checked exactly like a composed spec. Nothing calls a model unless one is configured.
 */
import type { EnvironmentSpec, Finding } from '@virtos/spec';

/** What the model is asked. */
export interface ModelProposalRequest {
  readonly request: string;
  /** The deterministic composer's draft and findings, if it made one. */
  readonly draft: EnvironmentSpec | null;
  readonly findings: readonly Finding[];
  /** JSON Schema of the spec, for constrained generation. */
  readonly schema: Record<string, unknown>;
}

/** A provider of spec proposals (e.g. a llama.cpp model behind the `ai` package). */
export interface ComposerModel {
  /** A stable id such as `llama.cpp/qwen2.5-1.5b`. */
  readonly id: string;
  /** Proposes a spec as plain JSON (validated by the caller), or null when it has nothing. */
  propose(req: ModelProposalRequest, signal?: AbortSignal): Promise<unknown>;
}
