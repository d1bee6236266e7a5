import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseExtensionsRaw, parseExtensions, HeaderSyntaxError } from '../src/handshake/tokens.js';
import { parseWindowBits, acceptOffer, acceptAnswer, makeOffer, type ClientPolicy, type ServerPolicy } from '../src/extensions/params.js';
import { permessageDeflate, permessageDeflateClient, PerMessageDeflate } from '../src/extensions/index.js';

type Raw = Array<[string, string | true]>;

describe('parseExtensionsRaw', () => {
  it('keeps repeated parameters in order, where parseExtensions throws', () => {
    const h = 'permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate';
    expect(() => parseExtensions(h)).toThrow(HeaderSyntaxError);
    expect(parseExtensionsRaw(h)).toEqual([
      { name: 'permessage-deflate', params: [['server_no_context_takeover', true], ['server_no_context_takeover', true]] },
      { name: 'permessage-deflate', params: [] },
    ]);
  });
  it('unquotes values and keeps syntax errors', () => {
    expect(parseExtensionsRaw('a; b="1\\0" ;c=2')).toEqual([{ name: 'a', params: [['b', '10'], ['c', '2']] }]);
    expect(() => parseExtensionsRaw('a; =1')).toThrow(HeaderSyntaxError);
    expect(() => parseExtensionsRaw('')).toThrow(HeaderSyntaxError);
    expect(() => parseExtensionsRaw('a; b="1')).toThrow(HeaderSyntaxError);
  });
  it('agrees with parseExtensions whenever there are no repeats', () => {
    const token = fc.stringMatching(/^[a-z_]{1,6}$/);
    const value = fc.oneof(fc.constant(true as const), token, fc.stringMatching(/^[ a-z,;=]{0,5}$/));
    fc.assert(
      fc.property(fc.array(fc.record({ name: token, params: fc.dictionary(token, value, { maxKeys: 4 }) }), { minLength: 1, maxLength: 3 }), (list) => {
        const header = list
          .map(({ name, params }) => [name, ...Object.entries(params).map(([k, v]) => (v === true ? k : `${k}="${v}"`))].join('; '))
          .join(', ');
        const raw = parseExtensionsRaw(header);
        const rec = parseExtensions(header);
        expect(raw.map((o) => ({ name: o.name, params: Object.fromEntries(o.params) }))).toEqual(rec.map((o) => ({ name: o.name, params: { ...o.params } })));
      }),
    );
  });
});

describe('parseWindowBits', () => {
  it.each([['8', 8], ['9', 9], ['10', 10], ['12', 12], ['15', 15]])('%s → %d', (v, n) => expect(parseWindowBits(v)).toBe(n));
  it.each(['0', '7', '16', '09', '010', '0x9', '1e1', '9.0', '+9', '-9', ' 9', '9 ', '', '٩', '1O', '100'])('%j is invalid', (v) => expect(parseWindowBits(v)).toBeNull());
  it('accepts exactly the decimal strings 8..15', () => {
    fc.assert(fc.property(fc.string({ maxLength: 4 }), (s) => {
      expect(parseWindowBits(s)).toBe(/^(8|9|1[0-5])$/.test(s) ? Number(s) : null);
    }));
  });
});

const DEFAULT_SERVER: ServerPolicy = { serverMaxWindowBits: 12, clientMaxWindowBits: 12, serverNoContextTakeover: false, clientNoContextTakeover: false };

/** An independent statement of RFC 7692 §7.1 for the server, to check every combination against. */
function oracle(offer: Raw, policy: ServerPolicy): Record<string, string | true> | null {
  const names = offer.map(([k]) => k);
  if (new Set(names).size !== names.length) return null;
  const get = (k: string) => offer.find(([n]) => n === k)?.[1];
  const valid = (v: string | true | undefined) => typeof v === 'string' && /^(8|9|1[0-5])$/.test(v);
  for (const [k, v] of offer) {
    if (k === 'server_no_context_takeover' || k === 'client_no_context_takeover') {
      if (v !== true) return null;
    } else if (k === 'server_max_window_bits') {
      if (!valid(v)) return null;
    } else if (k === 'client_max_window_bits') {
      if (v !== true && !valid(v)) return null;
    } else return null;
  }
  const out: Record<string, string | true> = {};
  if (get('server_no_context_takeover') || policy.serverNoContextTakeover) out.server_no_context_takeover = true;
  if (get('client_no_context_takeover') || policy.clientNoContextTakeover) out.client_no_context_takeover = true;
  const smwb = get('server_max_window_bits');
  const s = Math.min(smwb === undefined ? 15 : Number(smwb), policy.serverMaxWindowBits);
  if (smwb !== undefined || s < 15) out.server_max_window_bits = String(s);
  const cmwb = get('client_max_window_bits');
  if (cmwb === true) out.client_max_window_bits = String(policy.clientMaxWindowBits);
  else if (cmwb !== undefined && policy.clientMaxWindowBits < Number(cmwb)) out.client_max_window_bits = String(policy.clientMaxWindowBits);
  return out;
}

describe('server negotiation', () => {
  const snt: Array<string | true | undefined> = [undefined, true, '', 'x', '1'];
  const cnt = snt;
  const smwb: Array<string | true | undefined> = [undefined, '8', '9', '12', '13', '15', true, '7', '16', '09', '0x9', '1e1', '+9', '9.0'];
  const cmwb: Array<string | true | undefined> = [undefined, true, '8', '10', '12', '15', '0', '16', '08', '1e1'];
  const policies: ServerPolicy[] = [
    DEFAULT_SERVER,
    { serverMaxWindowBits: 15, clientMaxWindowBits: 15, serverNoContextTakeover: false, clientNoContextTakeover: false },
    { serverMaxWindowBits: 8, clientMaxWindowBits: 8, serverNoContextTakeover: true, clientNoContextTakeover: true },
  ];
  it(`answers every parameter combination (${snt.length * cnt.length * smwb.length * cmwb.length} × ${policies.length}) as RFC 7692 §7.1 says`, () => {
    let accepted = 0;
    for (const policy of policies) {
      for (const a of snt) for (const b of cnt) for (const c of smwb) for (const d of cmwb) {
        const offer: Raw = [];
        if (a !== undefined) offer.push(['server_no_context_takeover', a]);
        if (b !== undefined) offer.push(['client_no_context_takeover', b]);
        if (c !== undefined) offer.push(['server_max_window_bits', c]);
        if (d !== undefined) offer.push(['client_max_window_bits', d]);
        const want = oracle(offer, policy);
        let got: Record<string, string | true> | null;
        try {
          got = acceptOffer(offer, policy).answer;
        } catch {
          got = null;
        }
        expect(got, JSON.stringify(offer)).toEqual(want);
        if (got) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it.each<[string, Raw[], Record<string, string | true> | null]>([
    ['plain offer', [[]], { server_max_window_bits: '12' }],
    ['browser offer', [[['client_max_window_bits', true]]], { server_max_window_bits: '12', client_max_window_bits: '12' }],
    ['quoted value (already unquoted)', [[['server_max_window_bits', '10']]], { server_max_window_bits: '10' }],
    ['offer of 8 answered 8', [[['server_max_window_bits', '8']]], { server_max_window_bits: '8' }],
    ['duplicate declined, next offer taken', [[['server_no_context_takeover', true], ['server_no_context_takeover', true]], [['client_max_window_bits', '10']]], { server_max_window_bits: '12' }],
    ['unknown declined, next taken', [[['x_unknown', true]], []], { server_max_window_bits: '12' }],
    ['invalid value declined, next taken', [[['server_max_window_bits', '09']], [['server_max_window_bits', '9']]], { server_max_window_bits: '9' }],
    ['value on no_context_takeover declined', [[['client_no_context_takeover', 'yes']]], null],
    ['server_max_window_bits without a value declined', [[['server_max_window_bits', true]]], null],
    ['all offers bad → no extension', [[['a', true]], [['server_max_window_bits', '16']]], null],
    ['client_no_context_takeover echoed', [[['client_no_context_takeover', true]]], { client_no_context_takeover: true, server_max_window_bits: '12' }],
  ])('%s', (_name, offers, want) => {
    const r = permessageDeflate().negotiate(offers);
    expect(r?.params ?? null).toEqual(want);
    r?.extension.dispose();
  });

  it('runtime parameters follow the answer', () => {
    const r = permessageDeflate({ serverNoContextTakeover: true }).negotiate([[['client_max_window_bits', true], ['server_max_window_bits', '10']]])!;
    expect((r.extension as PerMessageDeflate).params).toEqual({ localMaxWindowBits: 10, remoteMaxWindowBits: 12, localNoContextTakeover: true, remoteNoContextTakeover: false });
    const firefox = permessageDeflate().negotiate([[]])!;
    expect((firefox.extension as PerMessageDeflate).params.remoteMaxWindowBits).toBe(15);
  });

  it('rejects bad options', () => {
    expect(() => permessageDeflate({ serverMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => permessageDeflate({ clientMaxWindowBits: 7.5 })).toThrow(RangeError);
    expect(() => permessageDeflate({ memLevel: 0 })).toThrow(RangeError);
    expect(() => permessageDeflate({ level: 10 })).toThrow(RangeError);
    expect(() => permessageDeflate({ threshold: -1 })).toThrow(RangeError);
  });
});

describe('client negotiation', () => {
  const base: ClientPolicy = { clientMaxWindowBits: true, serverMaxWindowBits: undefined, serverNoContextTakeover: false, clientNoContextTakeover: false, windowBits: 12 };

  it('offers client_max_window_bits only, by default', () => {
    expect(permessageDeflateClient().offer()).toEqual([{ client_max_window_bits: true }]);
    expect(makeOffer({ ...base, clientMaxWindowBits: 10, serverMaxWindowBits: 9, serverNoContextTakeover: true, clientNoContextTakeover: true })).toEqual({
      client_max_window_bits: '10',
      server_max_window_bits: '9',
      server_no_context_takeover: true,
      client_no_context_takeover: true,
    });
    expect(makeOffer({ ...base, clientMaxWindowBits: false })).toEqual({});
  });

  it.each<[string, Partial<ClientPolicy>, Raw, RegExp]>([
    ['unknown parameter', {}, [['foo', true]], /unknown parameter foo/],
    ['duplicate', {}, [['server_no_context_takeover', true], ['server_no_context_takeover', true]], /duplicate/],
    ['value on server_no_context_takeover', {}, [['server_no_context_takeover', '1']], /takes no value/],
    ['value on client_no_context_takeover', {}, [['client_no_context_takeover', '1']], /takes no value/],
    ['server_max_window_bits without value', {}, [['server_max_window_bits', true]], /needs a value/],
    ['server_max_window_bits out of range', {}, [['server_max_window_bits', '16']], /invalid server_max_window_bits/],
    ['server_max_window_bits leading zero', {}, [['server_max_window_bits', '09']], /invalid/],
    ['client_max_window_bits not offered', { clientMaxWindowBits: false }, [['client_max_window_bits', '10']], /not offered/],
    ['client_max_window_bits without value', {}, [['client_max_window_bits', true]], /needs a value/],
    ['client_max_window_bits invalid', {}, [['client_max_window_bits', '0x9']], /invalid/],
    ['client_max_window_bits above offer', { clientMaxWindowBits: 10 }, [['client_max_window_bits', '11']], /exceeds/],
    ['server_max_window_bits above offer', { serverMaxWindowBits: 10 }, [['server_max_window_bits', '11']], /exceeds/],
    ['server_max_window_bits missing', { serverMaxWindowBits: 10 }, [], /missing/],
    ['server_no_context_takeover missing', { serverNoContextTakeover: true }, [], /missing/],
  ])('rejects: %s', (_name, policy, answer, message) => {
    expect(() => acceptAnswer(answer, { ...base, ...policy })).toThrow(message);
  });

  it.each<[string, Partial<ClientPolicy>, Raw, object]>([
    ['empty answer', {}, [], { localMaxWindowBits: 12, remoteMaxWindowBits: 15, localNoContextTakeover: false, remoteNoContextTakeover: false }],
    ['server adds everything', {}, [['server_no_context_takeover', true], ['client_no_context_takeover', true], ['server_max_window_bits', '9'], ['client_max_window_bits', '8']], { localMaxWindowBits: 8, remoteMaxWindowBits: 9, localNoContextTakeover: true, remoteNoContextTakeover: true }],
    ['client_max_window_bits=8 (compress with zlib 9)', {}, [['client_max_window_bits', '8']], { localMaxWindowBits: 8, remoteMaxWindowBits: 15, localNoContextTakeover: false, remoteNoContextTakeover: false }],
    ['our cap below the allowed window', { windowBits: 15 }, [['client_max_window_bits', '14']], { localMaxWindowBits: 14, remoteMaxWindowBits: 15, localNoContextTakeover: false, remoteNoContextTakeover: false }],
    ['server_max_window_bits asked and lowered', { serverMaxWindowBits: 10 }, [['server_max_window_bits', '8']], { localMaxWindowBits: 12, remoteMaxWindowBits: 8, localNoContextTakeover: false, remoteNoContextTakeover: false }],
  ])('accepts: %s', (_name, policy, answer, want) => {
    expect(acceptAnswer(answer, { ...base, ...policy })).toEqual(want);
  });

  it('accept() throws a plain Error with a clear message', () => {
    const c = permessageDeflateClient({ clientMaxWindowBits: false });
    expect(() => c.accept([['client_max_window_bits', '10']])).toThrow(/invalid permessage-deflate answer: client_max_window_bits in the answer but not offered/);
    const ext = c.accept([]);
    expect(ext.name).toBe('permessage-deflate');
    ext.dispose();
  });
});
