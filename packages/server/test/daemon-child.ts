/**
 * A daemon process for integration tests, like `virtos --port 0 --no-open`, whose egress proxies
 * resolve every `*.test` name to the stand-in upstream `$VIRTOS_TEST_UPSTREAM` (and may reach only
 * it), so allowlist environments can be tested without leaving the machine. Run with
 * `node --import tsx daemon-child.ts`; prints "VirtOS is running at <url>/".
 */
import { runDaemon } from '../src/index.js';

const home = process.env['VIRTOS_HOME'];
if (!home) throw new Error('VIRTOS_HOME is required');
const upstream = process.env['VIRTOS_TEST_UPSTREAM'];
const running = await runDaemon({
  home,
  port: 0,
  open: false,
  say: (t) => process.stdout.write(t),
  ...(upstream && {
    builtins: {
      network: {
        resolver: { resolve4: async (h: string) => (h.endsWith('.test') ? [upstream] : []) },
        isForbiddenUpstream: (ip: string) => ip !== upstream,
      },
    },
  }),
});
await running.stopped;
process.exit(0);
