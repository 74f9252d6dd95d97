import { describe, expect, it } from 'vitest';
import {
  PTY_FRAME_CONTROL,
  PTY_FRAME_DATA,
  PTY_MAX_PAYLOAD,
  PtyFrameDecoder,
  encodePtyFrame,
  encodePtyResize,
  parseClientResize,
} from './pty-protocol.js';
import { renderPrometheus } from './prometheus.js';

describe('PTY bridge framing', () => {
  it('round-trips frames split at every byte', () => {
    const a = encodePtyFrame(PTY_FRAME_DATA, new TextEncoder().encode('ls -l\n'));
    const b = encodePtyResize(120, 40);
    const all = new Uint8Array([...a, ...b]);
    const d = new PtyFrameDecoder();
    const frames = [];
    for (const byte of all) frames.push(...d.feed(Uint8Array.of(byte)));
    expect(frames.map((f) => f.type)).toEqual([PTY_FRAME_DATA, PTY_FRAME_CONTROL]);
    expect(new TextDecoder().decode(frames[0]!.payload)).toBe('ls -l\n');
    expect(JSON.parse(new TextDecoder().decode(frames[1]!.payload))).toEqual({
      type: 'resize',
      cols: 120,
      rows: 40,
    });
    expect(d.pendingBytes).toBe(0);
  });

  it('refuses an oversized frame instead of buffering it', () => {
    const d = new PtyFrameDecoder();
    const head = Uint8Array.of(0, 0xff, 0xff, 0xff, 0xff);
    expect(() => d.feed(head)).toThrow(/exceeds/);
    expect(() => encodePtyFrame(0, new Uint8Array(PTY_MAX_PAYLOAD + 1))).toThrow();
  });

  it('accepts only well-formed resize requests from clients', () => {
    expect(parseClientResize('{"type":"resize","cols":80,"rows":24}')).toEqual({
      type: 'resize',
      cols: 80,
      rows: 24,
    });
    expect(parseClientResize('{"type":"resize","cols":80,"rows":24,"extra":"/tmp"}')).toEqual({
      type: 'resize',
      cols: 80,
      rows: 24,
    });
    for (const bad of [
      '{"type":"resize","cols":"80","rows":24}',
      '{"type":"resize","cols":0,"rows":24}',
      '{"type":"resize","cols":80}',
      '[]',
      'null',
      '{',
      '{"type":"exec"}',
      `{"type":"resize","cols":80,"rows":24,"p":"${'x'.repeat(300)}"}`,
    ]) {
      expect(parseClientResize(bad)).toBeUndefined();
    }
  });
});

describe('renderPrometheus', () => {
  it('writes HELP, TYPE and escaped label values', () => {
    const text = renderPrometheus([
      {
        name: 'x_total',
        help: 'An x.',
        type: 'counter',
        samples: [{ value: 3 }, { labels: { env: 'a"b\\c' }, value: 1.5 }],
      },
    ]);
    expect(text).toBe(
      '# HELP x_total An x.\n# TYPE x_total counter\nx_total 3\nx_total{env="a\\"b\\\\c"} 1.5\n',
    );
  });
});
