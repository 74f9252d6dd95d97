import { describe, expect, it } from 'vitest';
import { recognizeIntent } from './intent.js';

describe('intent', () => {
  it('modifies when a base is given, unless a new environment is asked for', () => {
    expect(recognizeIntent(' add gimp ', true)).toEqual({ intent: 'modify', editLike: true });
    expect(recognizeIntent(' make it offline ', true).intent).toBe('modify');
    expect(recognizeIntent(' a new environment with gimp ', true).intent).toBe('create');
  });

  it('creates without a base, noting edit-like requests', () => {
    expect(recognizeIntent(' add gimp ', false)).toEqual({ intent: 'create', editLike: true });
    expect(recognizeIntent(' a debian desktop ', false)).toEqual({
      intent: 'create',
      editLike: false,
    });
  });
});
