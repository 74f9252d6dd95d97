/**
 * The orchestrator sees the runtime only through `@virtos/runtime`'s Provisioner interface (never a
 * driver); re-exported here so the daemon can name every type of the orchestrator's options from
 * one package.
 */
export type {
  ProvisionPhase,
  ProvisionProgress,
  ProvisionRequest,
  ProvisionedEnvironment,
  Provisioner,
  RuntimeChoice,
} from '@virtos/runtime';
