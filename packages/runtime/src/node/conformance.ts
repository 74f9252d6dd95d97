/**
 * The ONE conformance suite every RuntimeDriver must pass. It registers tests with the test API it is
 * given (Vitest's `describe`/`it`/...), so this module does not depend on a test framework and
 * drivers in other packages can run it too. A driver that truly lacks a part skips named cases with a
 * stated reason (never silently).
 *
 * Scripts passed to `makeRequest` are POSIX `sh -c` scripts from a tiny set: `exit <n>`,
 * `sleep 1000`, `echo <text>`; the fake driver understands exactly these (and, for exec, the few
 * forms its doc comment lists).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { VirtosError } from '@virtos/core';
import {
  canExec,
  canExecStream,
  canOpenPty,
  canPause,
  hasDisplay,
  isDriverKind,
  type CreateRequest,
  type DriverContext,
  type PtySession,
  type RuntimeDriver,
} from '../common/driver.js';
import { waitForFileScript } from '../common/fake-driver.js';

/** The parts of a test framework the suite uses (Vitest's `it`, `describe`, hooks fit). */
export interface ConformanceTestApi {
  readonly describe: (name: string, fn: () => void) => void;
  readonly it: {
    (name: string, fn: () => Promise<void>, timeoutMs?: number): void;
    skip: (name: string, fn: () => Promise<void>) => void;
  };
  readonly beforeAll: (fn: () => Promise<void>, timeoutMs?: number) => void;
  readonly afterAll: (fn: () => Promise<void>, timeoutMs?: number) => void;
}

/** The case names, so a driver can skip some with a reason. */
export const CONFORMANCE_CASES = [
  'kind is namespaced and versioned',
  'create then start runs the process',
  'wait reports the exit code',
  'stop ends a running environment and is idempotent',
  'start twice is an invalid_state error',
  'unknown ids are not_found',
  'duplicate create is already_exists',
  'delete removes every trace',
  'an aborted signal cancels the call',
  'aborting wait does not stop the environment',
  'pause and resume',
  'exec runs inside the environment',
  'streamed exec delivers output while the command runs',
  'a PTY runs a shell with its size, resize and exit code',
  'display requires a desktop',
] as const;

/** A conformance case name. */
export type ConformanceCase = (typeof CONFORMANCE_CASES)[number];

/** How to run the suite against one driver. */
export interface ConformanceOptions {
  /** Shown in the describe block, e.g. `oci.runc/v1`. */
  readonly name: string;
  readonly makeDriver: () => RuntimeDriver | Promise<RuntimeDriver>;
  /** A create request for `id` whose process runs `sh -c script`. */
  readonly makeRequest: (id: string, script: string) => CreateRequest | Promise<CreateRequest>;
  /** Throws when anything of the environment remains after delete (mounts, cgroups, processes). */
  readonly assertGone?: (id: string) => Promise<void>;
  /** Cases to skip, each with its reason. */
  readonly skip?: readonly {
    readonly reason: string;
    readonly tests: readonly ConformanceCase[];
  }[];
  /** Per-test timeout in ms (default 30 000). */
  readonly timeoutMs?: number;
  /** Runs after the suite (e.g. remove a temporary root filesystem). */
  readonly cleanup?: () => Promise<void>;
}

function ctx(): DriverContext {
  return { signal: new AbortController().signal };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VirtosError, `expected a VirtosError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** Registers the conformance suite for one driver. */
export function describeDriverConformance(t: ConformanceTestApi, opts: ConformanceOptions): void {
  const skipped = new Map<string, string>();
  for (const s of opts.skip ?? []) for (const name of s.tests) skipped.set(name, s.reason);
  const timeout = opts.timeoutMs ?? 30_000;
  const created = new Set<string>();
  let driver: RuntimeDriver;

  const newEnvId = (): string => `ct-${randomBytes(5).toString('hex')}`;
  const make = async (script: string): Promise<string> => {
    const id = newEnvId();
    created.add(id);
    await driver.create(ctx(), await opts.makeRequest(id, script));
    return id;
  };
  const test = (name: ConformanceCase, fn: () => Promise<void>): void => {
    const reason = skipped.get(name);
    if (reason !== undefined) t.it.skip(`${name} (skipped: ${reason})`, fn);
    else t.it(name, fn, timeout);
  };

  t.describe(`RuntimeDriver conformance: ${opts.name}`, () => {
    t.beforeAll(async () => {
      driver = await opts.makeDriver();
    });
    t.afterAll(async () => {
      for (const id of created) await driver?.delete(ctx(), id).catch(() => undefined);
      await opts.cleanup?.();
    }, 60_000);

    test('kind is namespaced and versioned', async () => {
      assert.ok(isDriverKind(driver.kind), driver.kind);
    });

    test('create then start runs the process', async () => {
      const id = await make('sleep 1000');
      assert.equal((await driver.status(ctx(), id)).state, 'created');
      const st = await driver.start(ctx(), id);
      assert.equal(st.state, 'running');
      assert.equal((await driver.status(ctx(), id)).state, 'running');
      assert.ok((await driver.list(ctx())).includes(id));
      await driver.delete(ctx(), id);
    });

    test('wait reports the exit code', async () => {
      const id = await make('exit 7');
      await driver.start(ctx(), id);
      assert.deepEqual(await driver.wait(ctx(), id), { exitCode: 7 });
      const st = await driver.status(ctx(), id);
      assert.equal(st.state, 'stopped');
      assert.equal(st.exitCode, 7);
      await driver.delete(ctx(), id);
    });

    test('stop ends a running environment and is idempotent', async () => {
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      const waiting = driver.wait(ctx(), id);
      const ex = await driver.stop(ctx(), id, { graceMs: 500 });
      assert.ok(ex.exitCode === 143 || ex.exitCode === 137, `exit ${ex.exitCode}`);
      assert.deepEqual(await waiting, ex);
      assert.equal((await driver.status(ctx(), id)).state, 'stopped');
      assert.deepEqual(await driver.stop(ctx(), id), ex);
      await driver.delete(ctx(), id);
    });

    test('start twice is an invalid_state error', async () => {
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      await expectCode(driver.start(ctx(), id), 'runtime.invalid_state');
      await driver.delete(ctx(), id);
    });

    test('unknown ids are not_found', async () => {
      const id = newEnvId();
      await expectCode(driver.status(ctx(), id), 'runtime.not_found');
      await expectCode(driver.start(ctx(), id), 'runtime.not_found');
      await driver.delete(ctx(), id); // idempotent
    });

    test('duplicate create is already_exists', async () => {
      const id = await make('sleep 1000');
      await expectCode(
        Promise.resolve(opts.makeRequest(id, 'sleep 1000')).then((r) => driver.create(ctx(), r)),
        'runtime.already_exists',
      );
      await driver.delete(ctx(), id);
    });

    test('delete removes every trace', async () => {
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      await driver.delete(ctx(), id);
      await expectCode(driver.status(ctx(), id), 'runtime.not_found');
      assert.ok(!(await driver.list(ctx())).includes(id));
      await opts.assertGone?.(id);
    });

    test('an aborted signal cancels the call', async () => {
      const ac = new AbortController();
      ac.abort();
      const id = newEnvId();
      await expectCode(
        Promise.resolve(opts.makeRequest(id, 'sleep 1000')).then((r) =>
          driver.create({ signal: ac.signal }, r),
        ),
        'core.cancelled',
      );
      await expectCode(driver.status(ctx(), id), 'runtime.not_found');
      await opts.assertGone?.(id);
    });

    test('aborting wait does not stop the environment', async () => {
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      const ac = new AbortController();
      const w = driver.wait({ signal: ac.signal }, id);
      ac.abort();
      await expectCode(w, 'core.cancelled');
      assert.equal((await driver.status(ctx(), id)).state, 'running');
      await driver.delete(ctx(), id);
    });

    test('pause and resume', async () => {
      assert.ok(canPause(driver), 'the driver lacks the pause capability');
      const id = await make('sleep 1000');
      await expectCode(driver.pause(ctx(), id), 'runtime.invalid_state');
      await driver.start(ctx(), id);
      assert.equal((await driver.pause(ctx(), id)).state, 'paused');
      assert.equal((await driver.status(ctx(), id)).state, 'paused');
      assert.equal((await driver.resume(ctx(), id)).state, 'running');
      assert.equal((await driver.status(ctx(), id)).state, 'running');
      await driver.delete(ctx(), id);
    });

    test('exec runs inside the environment', async () => {
      assert.ok(canExec(driver), 'the driver lacks the exec capability');
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      const r = await driver.exec(ctx(), id, { args: ['/bin/sh', '-c', 'echo hello'] });
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, 'hello\n');
      const r2 = await driver.exec(ctx(), id, { args: ['/bin/sh', '-c', 'exit 3'] });
      assert.equal(r2.exitCode, 3);
      await driver.delete(ctx(), id);
    });

    test('streamed exec delivers output while the command runs', async () => {
      assert.ok(canExecStream(driver), 'the driver lacks the exec-stream capability');
      assert.ok(canExec(driver), 'the driver lacks the exec capability');
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      // The command prints 'a', then waits for a file only the test creates, and only after it saw
      // 'a': so 'a' reached the sink while the command still ran (events, no timing).
      const go = `/tmp/go-${randomBytes(4).toString('hex')}`;
      const seen: string[] = [];
      const exec = driver;
      let touched: Promise<unknown> | undefined;
      const result = await exec.execStream(
        ctx(),
        id,
        { args: ['/bin/sh', '-c', `echo a; ${waitForFileScript(go)}; echo b; exit 4`] },
        {
          onStdout: (c) => {
            const text = new TextDecoder().decode(c);
            seen.push(text);
            if (text.includes('a') && !touched) {
              touched = exec.execStream(ctx(), id, { args: ['/bin/sh', '-c', `touch ${go}`] }, {});
            }
          },
        },
      );
      await touched;
      assert.ok(touched, 'no output arrived before the command finished');
      assert.equal(seen.join(''), 'a\nb\n');
      assert.deepEqual(result, { exitCode: 4, truncated: false });
      await driver.delete(ctx(), id);
    });

    test('a PTY runs a shell with its size, resize and exit code', async () => {
      assert.ok(canOpenPty(driver), 'the driver lacks the pty capability');
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      const pty: PtySession = await driver.openPty(ctx(), id, { cols: 100, rows: 30 });
      let out = '';
      const waiters: { re: RegExp; resolve: () => void }[] = [];
      pty.onData((d) => {
        out += new TextDecoder().decode(d);
        for (const w of waiters.splice(0)) {
          if (w.re.test(out)) w.resolve();
          else waiters.push(w);
        }
      });
      const until = (re: RegExp): Promise<void> =>
        re.test(out) ? Promise.resolve() : new Promise((resolve) => waiters.push({ re, resolve }));
      pty.write('stty size\r');
      await until(/30 100/);
      await pty.resize(120, 40);
      pty.write('stty size\r');
      await until(/40 120/);
      pty.write('echo hi\r');
      await until(/\r\nhi\r\n/);
      pty.write('exit 3\r');
      assert.deepEqual(await pty.exit, { exitCode: 3 });
      await driver.delete(ctx(), id);
    });

    test('display requires a desktop', async () => {
      if (!hasDisplay(driver)) return;
      const id = await make('sleep 1000');
      await driver.start(ctx(), id);
      await expectCode(driver.display(ctx(), id, { timeoutMs: 1000 }), 'runtime.invalid_request');
      await driver.delete(ctx(), id);
    });
  });
}
