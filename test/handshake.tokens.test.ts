import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatExtensions,
  hasToken,
  HeaderSyntaxError,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
} from '../src/handshake/tokens.js';
import type { ExtensionOffer } from '../src/handshake/tokens.js';

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 10 });

/** Expects `fn` to throw a HeaderSyntaxError and nothing else. */
function expectSyntaxError(fn: () => unknown): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(HeaderSyntaxError);
  expect(error).toBeInstanceOf(SyntaxError);
  expect((error as HeaderSyntaxError).offset).toBeGreaterThanOrEqual(0);
}

describe('hasToken', () => {
  it.each<[string | undefined, string, boolean]>([
    ['Upgrade', 'upgrade', true],
    ['keep-alive, Upgrade', 'upgrade', true],
    ['keep-alive,Upgrade', 'upgrade', true],
    ['UPGRADE', 'upgrade', true],
    ['uPgRaDe', 'upgrade', true],
    ['  upgrade  ,  close', 'upgrade', true],
    ['Upgrade,', 'upgrade', true],
    ['websocket', 'websocket', true],
    ['WebSocket', 'websocket', true],
    ['h2c, WebSocket/13', 'websocket', false],
    ['keep-alive', 'upgrade', false],
    ['upgrades', 'upgrade', false],
    ['x-upgrade', 'upgrade', false],
    ['up grade', 'upgrade', false],
    ['', 'upgrade', false],
    [undefined, 'upgrade', false],
  ])('%j has %j: %s', (header, wanted, expected) => {
    expect(hasToken(header, wanted)).toBe(expected);
  });
});

describe('parseTokenList / parseSubprotocols', () => {
  it.each<[string, string[]]>([
    ['chat', ['chat']],
    ['chat, superchat', ['chat', 'superchat']],
    ['chat,superchat', ['chat', 'superchat']],
    [' \tchat ,\t superchat\t ', ['chat', 'superchat']],
    ['chat, , superchat,', ['chat', 'superchat']],
    ['v1.json.example.com, mqtt', ['v1.json.example.com', 'mqtt']],
  ])('%j → %j', (header, expected) => {
    expect(parseTokenList(header)).toEqual(expected);
    expect(parseSubprotocols(header)).toEqual(expected);
  });

  it.each(['', ' ', ',', ', ,', 'chat superchat', 'chat;x', 'a/b', '"chat"', 'chät', 'chat\r\n'])('rejects %j', (header) => {
    expectSyntaxError(() => parseTokenList(header));
    expectSyntaxError(() => parseSubprotocols(header));
  });

  it('rejects duplicate subprotocols (RFC 6455 §4.1 item 10), case-sensitively', () => {
    expectSyntaxError(() => parseSubprotocols('chat, superchat, chat'));
    expect(parseTokenList('chat, chat')).toEqual(['chat', 'chat']);
    expect(parseSubprotocols('chat, Chat')).toEqual(['chat', 'Chat']);
  });
});

describe('parseExtensions', () => {
  it.each<[string, string, ExtensionOffer[]]>([
    ['bare name', 'permessage-deflate', [{ name: 'permessage-deflate', params: {} }]],
    ['param without value', 'permessage-deflate; client_max_window_bits', [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }]],
    ['param with token value', 'permessage-deflate; server_max_window_bits=10', [{ name: 'permessage-deflate', params: { server_max_window_bits: '10' } }]],
    ['param with quoted value', 'foo; bar="10"', [{ name: 'foo', params: { bar: '10' } }]],
    ['quoted value with escapes', 'foo; bar="a\\"b\\\\c\\d"', [{ name: 'foo', params: { bar: 'a"b\\cd' } }]],
    ['quoted value with separators', 'foo; bar="x, y; z=1"', [{ name: 'foo', params: { bar: 'x, y; z=1' } }]],
    ['empty quoted value', 'foo; bar=""', [{ name: 'foo', params: { bar: '' } }]],
    ['no whitespace', 'a;b=1;c,d;e', [{ name: 'a', params: { b: '1', c: true } }, { name: 'd', params: { e: true } }]],
    ['lots of whitespace', ' \t a \t ; \t b \t = \t 1 \t ; c \t , \t d ', [{ name: 'a', params: { b: '1', c: true } }, { name: 'd', params: {} }]],
    ['empty list elements', ', a, , b ,', [{ name: 'a', params: {} }, { name: 'b', params: {} }]],
    [
      'repeated offers stay separate, in order',
      'permessage-deflate; client_max_window_bits=10, permessage-deflate, x-webkit-deflate-frame',
      [
        { name: 'permessage-deflate', params: { client_max_window_bits: '10' } },
        { name: 'permessage-deflate', params: {} },
        { name: 'x-webkit-deflate-frame', params: {} },
      ],
    ],
    ['__proto__ as a parameter name is data', 'a; __proto__=1', [{ name: 'a', params: { ['__proto__']: '1' } }]],
  ])('%s: %j', (_name, header, expected) => {
    const parsed = parseExtensions(header);
    expect(parsed).toEqual(expected);
    // Parameter order is kept too (toEqual alone would not notice).
    expect(parsed.map((e) => Object.keys(e.params))).toEqual(expected.map((e) => Object.keys(e.params)));
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['only whitespace', '  \t '],
    ['only commas', ' , ,'],
    ['leading semicolon', '; a'],
    ['empty param name', 'a; =1'],
    ['trailing semicolon', 'a;'],
    ['missing value after =', 'a; b='],
    ['missing value before comma', 'a; b=, c'],
    ['two names without comma', 'a b'],
    ['value with space', 'a; b=1 2'],
    ['value with slash', 'a; b=1/2'],
    ['unterminated quoted-string', 'a; b="1'],
    ['escape at end', 'a; b="1\\'],
    ['quote in token position', 'a; b=1"2"'],
    ['quoted name', '"a"'],
    ['quoted param name', 'a; "b"=1'],
    ['control char in quoted-string', 'a; b="\x01"'],
    ['CR LF in quoted-string', 'a; b="x\r\ny"'],
    ['escaped control char', 'a; b="\\\x00"'],
    ['non-latin1 in quoted-string', 'a; b="€"'],
    ['non-ASCII name', 'défl'],
    ['duplicate param', 'a; b=1; b=2'],
    ['duplicate flag param', 'a; b; b'],
    ['double equals', 'a; b==1'],
    ['double semicolon', 'a;; b'],
  ])('rejects %s: %j', (_name, header) => {
    expectSyntaxError(() => parseExtensions(header));
  });

  it('parses pathological inputs with a single scan', () => {
    // Each would be a catastrophic case for a backtracking regex; here they finish at once.
    const manyParams = `x${Array.from({ length: 4000 }, (_, i) => `; p${i}`).join('')}`;
    expect(parseExtensions(manyParams)[0]!.params.p3999).toBe(true);
    expectSyntaxError(() => parseExtensions(`x${';a'.repeat(4000)}`)); // duplicate, found at the second
    expectSyntaxError(() => parseExtensions(`x; a="${'\\"'.repeat(50_000)}`)); // unterminated
    expectSyntaxError(() => parseExtensions(`${' '.repeat(100_000)}x ${' '.repeat(100_000)}y`));
    expect(parseExtensions(`${'a, '.repeat(50_000)}a`)).toHaveLength(50_001);
    expect(parseExtensions(`x; a="${'b'.repeat(200_000)}"`)[0]!.params.a).toHaveLength(200_000);
  });

  it('throws nothing but HeaderSyntaxError on random strings', () => {
    const unit = fc.oneof(
      fc.constantFrom(',', ';', '=', '"', '\\', ' ', '\t', 'a', 'b', '1', '\r', '\n', '\0', '\xff', '€', '/'),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 40 }).map((parts) => parts.join('')), (header) => {
        try {
          const list = parseExtensions(header);
          expect(list.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(HeaderSyntaxError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('formatExtensions', () => {
  it.each<[ExtensionOffer[], string]>([
    [[{ name: 'permessage-deflate', params: {} }], 'permessage-deflate'],
    [
      [{ name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: '10' } }],
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
    ],
    [[{ name: 'a', params: { b: 'x y' } }, { name: 'c', params: {} }], 'a; b="x y", c'],
    [[{ name: 'a', params: { b: 'q"b\\s' } }], 'a; b="q\\"b\\\\s"'],
    [[{ name: 'a', params: { b: '' } }], 'a; b=""'],
  ])('%j → %j', (list, expected) => {
    expect(formatExtensions(list)).toBe(expected);
  });

  it.each<[string, ExtensionOffer[]]>([
    ['name with space', [{ name: 'a b', params: {} }]],
    ['empty name', [{ name: '', params: {} }]],
    ['param name with =', [{ name: 'a', params: { 'b=c': true } }]],
    ['CRLF in value', [{ name: 'a', params: { b: 'x\r\nX-Injected: 1' } }]],
    ['non-latin1 value', [{ name: 'a', params: { b: '€' } }]],
  ])('refuses %s', (_name, list) => {
    expect(() => formatExtensions(list)).toThrow(TypeError);
  });

  it('round-trips: parseExtensions(formatExtensions(x)) equals x', () => {
    const valueChar = fc.constantFrom(...'az09-_. ,;="\\\t!~', '\x80', '\xe9', '\xff');
    const value = fc.oneof(token, fc.string({ unit: valueChar, maxLength: 12 }));
    const params = fc
      .uniqueArray(fc.tuple(token, fc.oneof(fc.constant(true as const), value)), { selector: ([k]) => k, maxLength: 5 })
      .map((entries) => Object.fromEntries(entries) as Record<string, string | true>);
    const list = fc.array(fc.record({ name: token, params }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(list, (offers) => {
        const header = formatExtensions(offers);
        expect(parseExtensions(header)).toEqual(offers);
      }),
      { numRuns: 1000 },
    );
  });
});
