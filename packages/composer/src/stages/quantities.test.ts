import { describe, expect, it } from 'vitest';
import { Tokens } from './phrases.js';
import { extractDurations, extractQuantities } from './quantities.js';

const q = (text: string) => extractQuantities(new Tokens(text, new Set()));
const d = (text: string) => extractDurations(new Tokens(text, new Set()));

describe('quantities', () => {
  it('reads sizes with units and the resource they are for', () => {
    expect(q('8gb of ram and a 50 gb disk')).toEqual([
      expect.objectContaining({ target: 'memory', op: 'set', value: 8192, guessed: false }),
      expect.objectContaining({ target: 'disk', op: 'set', value: 51200, guessed: false }),
    ]);
    expect(q('memory 512 mib')[0]).toMatchObject({ target: 'memory', value: 512 });
    expect(q('four gigabytes of memory')[0]).toMatchObject({ target: 'memory', value: 4096 });
    expect(q('half a gig of ram')[0]).toMatchObject({ target: 'memory', value: 512 });
    expect(q('1 tb of storage')[0]).toMatchObject({ target: 'disk', value: 1024 * 1024 });
  });

  it('guesses memory for small sizes and disk for large ones, and says so', () => {
    expect(q('with 16 gb')[0]).toMatchObject({ target: 'memory', guessed: true });
    expect(q('with 200 gb')[0]).toMatchObject({ target: 'disk', guessed: true });
  });

  it('reads CPUs and GPUs', () => {
    expect(q('4 cores')[0]).toMatchObject({ target: 'cpus', value: 4 });
    expect(q('two vcpus')[0]).toMatchObject({ target: 'cpus', value: 2 });
    expect(q('a quad-core box')[0]).toMatchObject({ target: 'cpus', value: 4 });
    expect(q('2 gpus')[0]).toMatchObject({ target: 'gpus', value: 2 });
    expect(q('-2 cpus')[0]).toMatchObject({ target: 'cpus', value: -2 });
  });

  it('reads relative changes', () => {
    expect(q('give it 4 more gb of ram')[0]).toMatchObject({
      target: 'memory',
      op: 'add',
      value: 4096,
    });
    expect(q('add 2 cpus')[0]).toMatchObject({ target: 'cpus', op: 'add', value: 2 });
    expect(q('reduce memory by 1 gb')[0]).toMatchObject({
      target: 'memory',
      op: 'sub',
      value: 1024,
    });
    expect(q('double the memory')[0]).toMatchObject({ target: 'memory', op: 'mul', value: 2 });
  });

  it('ignores numbers that are not resources', () => {
    expect(q('debian 12 with python 3.11')).toEqual([]);
  });
});

describe('durations', () => {
  it('separates the time-to-live from the idle time', () => {
    const out = d('a desktop that suspends after 5 minutes idle and expires in 4 hours');
    expect(out).toContainEqual(expect.objectContaining({ kind: 'idle', minutes: 5 }));
    expect(out).toContainEqual(expect.objectContaining({ kind: 'ttl', minutes: 240 }));
  });

  it('reads words and never', () => {
    expect(d('for the next two hours')[0]).toMatchObject({ kind: 'ttl', minutes: 120 });
    expect(d('delete it after 3 days')[0]).toMatchObject({ kind: 'ttl', minutes: 4320 });
    expect(d('never suspend it')[0]).toMatchObject({ kind: 'idle', minutes: null });
  });
});
