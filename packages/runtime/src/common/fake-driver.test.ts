import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeDriverConformance } from '../node/conformance.js';
import { FakeDriver } from './fake-driver.js';

const spec = {
  display: 'none',
  security: {
    isolation: 'standard',
    capabilities: [],
    seccompProfile: 'default',
    readOnlyRoot: true,
  },
  resources: { cpus: 1, memoryMiB: 128, diskMiB: 256, gpus: 0 },
} as const;

describeDriverConformance(
  { describe, it, beforeAll, afterAll },
  {
    name: 'fake/v1',
    makeDriver: () => new FakeDriver(),
    makeRequest: (id, script) => ({
      id,
      spec: { ...spec, security: { ...spec.security, capabilities: [] } },
      rootfs: '/nonexistent',
      process: { args: ['/bin/sh', '-c', script] },
    }),
  },
);
