import { describe, expect, it } from 'vitest';
import { errorFields } from '../src/error-fields.ts';

class StoreError extends Error {
  readonly code = 'not-found';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

describe('errorFields', () => {
  it('leaves out the class of a plain Error', () => {
    expect(errorFields(new Error('store /x not found'))).toEqual({});
  });

  it('names the class, the code and the cause', () => {
    const cause = Object.assign(new Error("ENOENT: no such file or directory, open '/x/index.sqlite'"), { code: 'ENOENT' });
    expect(errorFields(new StoreError('store /x not found', { cause }))).toEqual({
      type: 'StoreError',
      code: 'not-found',
      cause: "ENOENT: no such file or directory, open '/x/index.sqlite'",
    });
  });

  it('keeps a system error code', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1883'), { code: 'ECONNREFUSED' });
    expect(errorFields(error)).toEqual({ code: 'ECONNREFUSED' });
  });

  it('says nothing of a thrown value that is not an Error', () => {
    expect(errorFields('plain string')).toEqual({});
  });
});
