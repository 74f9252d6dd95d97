import { describe, expect, it } from 'vitest';
import { MIN_W, WindowManager } from './window-manager.js';

const opts = { title: 't' };

describe('WindowManager', () => {
  it('opens windows in front and focuses by raising z', () => {
    const wm = new WindowManager({ width: 1000, height: 600 });
    const a = wm.open('app:a', opts);
    const b = wm.open('app:b', opts);
    expect(wm.focused()?.id).toBe(b.id);
    wm.focus(a.id);
    expect(wm.focused()?.id).toBe(a.id);
    const [wa, wb] = wm.list();
    expect(wa!.z).toBeGreaterThan(wb!.z);
  });

  it('moves and resizes within the viewport and never below the minimum size', () => {
    const wm = new WindowManager({ width: 1000, height: 600 });
    const a = wm.open('app:a', { ...opts, x: 10, y: 10, w: 400, h: 300 });
    wm.move(a.id, 5000, -50);
    let w = wm.list()[0]!;
    expect(w.x).toBe(1000 - 60);
    expect(w.y).toBe(0);
    wm.move(a.id, 100, 100);
    wm.resize(a.id, 10, 10);
    w = wm.list()[0]!;
    expect(w.w).toBe(MIN_W);
    wm.resize(a.id, 5000, 5000);
    w = wm.list()[0]!;
    expect(w.x + w.w).toBe(1000);
    expect(w.y + w.h).toBe(600);
  });

  it('snaps to halves, maximises, minimises; moving leaves those states', () => {
    const wm = new WindowManager({ width: 1001, height: 600 });
    const a = wm.open('app:a', opts);
    wm.snap(a.id, 'left');
    expect(wm.rect(wm.list()[0]!)).toEqual({ x: 0, y: 0, w: 500, h: 600 });
    wm.snap(a.id, 'right');
    expect(wm.rect(wm.list()[0]!)).toEqual({ x: 500, y: 0, w: 501, h: 600 });
    wm.snap(a.id, 'right');
    expect(wm.list()[0]!.snap).toBeNull();
    wm.toggleMaximise(a.id);
    expect(wm.rect(wm.list()[0]!)).toEqual({ x: 0, y: 0, w: 1001, h: 600 });
    wm.move(a.id, 20, 20);
    expect(wm.list()[0]!.isMaximised).toBe(false);
    wm.minimise(a.id);
    expect(wm.focused()).toBeUndefined();
    wm.focus(a.id);
    expect(wm.list()[0]!.isMinimised).toBe(false);
  });

  it('saves and restores a layout, skipping apps that no longer exist', () => {
    const wm = new WindowManager({ width: 1000, height: 600 });
    const a = wm.open('app:a', { ...opts, x: 50, y: 60, w: 300, h: 200 });
    const b = wm.open('app:b', opts);
    wm.snap(b.id, 'left');
    wm.focus(a.id);
    const saved = JSON.parse(JSON.stringify(wm.layout()));
    const wm2 = new WindowManager({ width: 1000, height: 600 });
    const n = wm2.restore(saved, (id) => (id === 'app:gone' ? undefined : { title: id }));
    expect(n).toBe(2);
    expect(wm2.layout()).toEqual(saved);
    expect(wm2.focused()?.appId).toBe('app:a');
    expect(wm2.restore({ version: 2 }, () => opts)).toBe(0);
    expect(wm2.restore({ version: 1, windows: [{ appId: 'x', x: 'a' }] }, () => opts)).toBe(0);
  });

  it('runs every content cleanup on closeAll (lock) and forwards keyboard keys', () => {
    const wm = new WindowManager();
    const cleaned: string[] = [];
    const keys: string[] = [];
    const el = {} as HTMLElement;
    const a = wm.open('module:notes', {
      ...opts,
      mount: () => () => cleaned.push('a'),
      onKeyboard: (k) => keys.push(k),
    });
    wm.open('module:files', { ...opts, mount: () => () => cleaned.push('b') });
    for (const w of wm.list()) wm.mountContent(w.id, el);
    expect(wm.list()[0]!.hasKeyboard).toBe(true);
    wm.sendKey(a.id, 'x');
    wm.closeAll();
    expect(cleaned.sort()).toEqual(['a', 'b']);
    expect(wm.list()).toEqual([]);
    expect(keys).toEqual(['x']);
  });
});
