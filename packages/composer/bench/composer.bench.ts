/**
 * `npm run bench:composer`: accuracy of the composer on the evaluation set (fully right requests,
 * field-level accuracy, per category) and latency per request (p50, p99). `--failures` lists what
 * went wrong; `--json` prints the figures as one object.
 */
import { Composer } from '../src/index.js';
import { evaluate, loadEvalSet } from './evaluate.js';

const args = new Set(process.argv.slice(2));
const cases = loadEvalSet();
const composer = new Composer();

// Warm up (JIT), then time several rounds so p99 is not one cold call.
evaluate(composer, cases);
const ROUNDS = 5;
const times: number[] = [];
let outcomes = evaluate(composer, cases);
for (let i = 0; i < ROUNDS; i++) {
  outcomes = evaluate(composer, cases);
  times.push(...outcomes.map((o) => o.micros));
}
times.sort((a, b) => a - b);
const pct = (p: number) =>
  times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] ?? 0;

const fully = outcomes.filter((o) => o.ok).length;
const keys = outcomes.flatMap((o) => o.keys);
const byField = new Map<string, { ok: number; all: number }>();
for (const k of keys) {
  const f = byField.get(k.key) ?? { ok: 0, all: 0 };
  f.all++;
  if (k.ok) f.ok++;
  byField.set(k.key, f);
}
const byCategory = new Map<string, { ok: number; all: number }>();
for (const o of outcomes) {
  const c = byCategory.get(o.case.category) ?? { ok: 0, all: 0 };
  c.all++;
  if (o.ok) c.ok++;
  byCategory.set(o.case.category, c);
}
const percent = (a: number, b: number) => (b ? (100 * a) / b : 100).toFixed(1);
const figures = {
  requests: outcomes.length,
  fullyRight: fully,
  fullyRightPercent: Number(percent(fully, outcomes.length)),
  fieldAccuracyPercent: Number(percent(keys.filter((k) => k.ok).length, keys.length)),
  latencyMs: { p50: pct(50) / 1000, p99: pct(99) / 1000, max: (times.at(-1) ?? 0) / 1000 },
  byField: Object.fromEntries([...byField].map(([k, v]) => [k, Number(percent(v.ok, v.all))])),
  byCategory: Object.fromEntries([...byCategory].map(([k, v]) => [k, `${v.ok}/${v.all}`])),
};

if (args.has('--json')) {
  console.log(JSON.stringify(figures, null, 2));
} else {
  console.log(`composer on ${figures.requests} requests`);
  console.log(
    `  fully right:     ${fully}/${outcomes.length} (${figures.fullyRightPercent}%)   target >= 95%`,
  );
  console.log(
    `  field accuracy:  ${figures.fieldAccuracyPercent}% over ${keys.length} expected fields`,
  );
  console.log(
    `  latency:         p50 ${figures.latencyMs.p50.toFixed(3)} ms, p99 ${figures.latencyMs.p99.toFixed(3)} ms   target p50 <= 2 ms`,
  );
  console.log(
    '  by category:     ' + [...byCategory].map(([k, v]) => `${k} ${v.ok}/${v.all}`).join(', '),
  );
  console.log(
    '  by field:        ' +
      [...byField]
        .sort((a, b) => a[1].ok / a[1].all - b[1].ok / b[1].all)
        .map(([k, v]) => `${k} ${percent(v.ok, v.all)}%`)
        .join(', '),
  );
}
if (args.has('--failures')) {
  for (const o of outcomes.filter((x) => !x.ok)) {
    console.log(
      `\n${o.case.id} [${o.case.category}] ${JSON.stringify(o.case.request.slice(0, 160))}`,
    );
    for (const k of o.keys.filter((x) => !x.ok)) {
      console.log(
        `   ${k.key}: expected ${JSON.stringify(k.expected)}, got ${JSON.stringify(k.actual)}`,
      );
    }
  }
}
