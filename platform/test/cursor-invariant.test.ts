// The one page-cursor codec and the one invariant every service uses: a cursor round-trips any
// position of its list and anything a client did not get from the API is a 400 on
// /query/cursor; a broken invariant fails with an error naming it.
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { cursorCodec, isoInstant } from '../src/http/cursor.js';
import { ProblemError } from '../src/http/problem.js';
import { invariant, InvariantViolation } from '../src/invariant.js';

interface Position {
  readonly at: Date;
  readonly id: string;
}

const codec = cursorCodec<Position>({
  toJson: ({ at, id }) => ({ at: at.toISOString(), id }),
  fromJson: ({ at, id }) => {
    const instant = isoInstant(at);
    return instant !== undefined && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)
      ? { at: instant, id }
      : undefined;
  },
});

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

function refusal(cursor: unknown): unknown {
  try {
    codec.decode(cursor);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('cursorCodec', () => {
  it('gives back every position it encoded, in a URL-safe string', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1970-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        fc.uuid(),
        (at, id) => {
          const cursor = codec.encode({ at, id });
          expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
          expect(codec.decode(cursor)).toEqual({ at, id });
        },
      ),
    );
  });

  it('reads no cursor as the first page', () => {
    expect(codec.decode(undefined)).toBeNull();
  });

  it.each([
    ['not base64url', 'not a cursor!'],
    ['not JSON', base64url('{"at":')],
    ['JSON that is no object', base64url('[1,2]')],
    ['JSON null', base64url('null')],
    ['another list’s shape', base64url('{"seq":3}')],
    ['an instant in another format', base64url('{"at":"yesterday","id":"x"}')],
    ['longer than any issued', 'A'.repeat(513)],
    ['no string', 42],
    ['a repeated parameter', ['a', 'b']],
  ])('refuses %s with 400 validation-failed on /query/cursor', (_what, cursor) => {
    const error = refusal(cursor);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({
      problem: {
        status: 400,
        type: expect.stringMatching(/validation-failed$/),
        errors: [{ pointer: '/query/cursor', message: 'is not a cursor returned by this API' }],
      },
    });
  });
});

describe('invariant', () => {
  it('passes when the invariant holds and builds no message', () => {
    let built = 0;
    const message = () => {
      built += 1;
      return 'never built';
    };
    expect(() => invariant(true, message)).not.toThrow();
    expect(built).toBe(0);
  });

  it('fails fast naming the broken invariant', () => {
    expect(() => invariant(1 + 1 === 3, 'arithmetic holds')).toThrow(
      new InvariantViolation('arithmetic holds'),
    );
    const error = (() => {
      try {
        invariant(null, () => 'a posting has two legs');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvariantViolation);
    expect(error).toMatchObject({
      name: 'InvariantViolation',
      invariant: 'a posting has two legs',
      message: 'invariant violated: a posting has two legs',
    });
  });
});
