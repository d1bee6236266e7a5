/**
 * `npm run docs` must stay clean: typedoc runs over every entry point of typedoc.json without
 * errors (missing documentation is reported as warnings, by design). The API reference is written
 * to a temporary directory, never into docs/api.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');

interface Reflection {
  name: string;
  children?: Reflection[];
  signatures?: Reflection[];
  comment?: { blockTags?: Array<{ tag: string }> };
  sources?: Array<{ fileName: string }>;
}

describe('API reference (typedoc)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds with zero errors, and every export of frame, handshake and router has an @example', { timeout: 120_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'fullduplex-docs-'));
    const json = join(dir, 'api.json');
    let output: string;
    try {
      const result = await run(process.execPath, [typedoc, '--out', join(dir, 'html'), '--json', json, '--logLevel', 'Warn'], {
        cwd: root,
        maxBuffer: 16 * 1024 * 1024,
      });
      output = result.stdout + result.stderr;
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string; code?: number };
      throw new Error(`typedoc exited with ${failed.code}:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
    }
    // eslint-disable-next-line no-control-regex
    const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).not.toMatch(/\[error\]/);
    expect(plain).toMatch(/Found 0 errors/);

    const project = JSON.parse(await readFile(json, 'utf8')) as Reflection;
    const missing: string[] = [];
    const known = new Set<string>();
    for (const module of project.children ?? []) {
      for (const item of module.children ?? []) {
        // A re-export of something documented in another entry point is a reference: skip it.
        if ('target' in item) continue;
        known.add(`${module.name}.${item.name}`);
        const documented = [item, ...(item.signatures ?? [])].some((r) => r.comment?.blockTags?.some((t) => t.tag === '@example'));
        if (documented) continue;
        missing.push(`${module.name}.${item.name}`);
      }
    }
    // The exports documented with the frame, handshake, router and reconnecting modules. Others
    // (io, protocol, server, client, conformance; frame/parser.ts) are listed, not enforced.
    const required = ["frame.Opcode", "frame.OpcodeValue", "frame.DataOpcode", "frame.isControlOpcode", "frame.isKnownOpcode", "frame.protocolError", "frame.applyMask", "frame.MaskSource", "frame.RandomMaskSource", "frame.FixedMaskSource", "frame.Utf8Validator", "frame.isValidUtf8", "frame.FrameHeaderFields", "frame.COPY_THRESHOLD", "frame.headerSize", "frame.writeHeader", "frame.encodeFrame", "frame.toBuffer", "frame.FrameWriter", "handshake.WS_GUID", "handshake.computeAccept", "handshake.generateKey", "handshake.isValidKey", "handshake.isToken", "handshake.HeadLimits", "handshake.DEFAULT_MAX_HEAD_SIZE", "handshake.DEFAULT_MAX_HEADER_COUNT", "handshake.ParsedHeaders", "handshake.ParsedRequestHead", "handshake.ParsedResponseHead", "handshake.HeadParseError", "handshake.HeadParseResult", "handshake.parseRequestHead", "handshake.parseResponseHead", "handshake.HeaderSyntaxError", "handshake.ExtensionOffer", "handshake.hasToken", "handshake.parseTokenList", "handshake.parseSubprotocols", "handshake.parseExtensions", "handshake.formatExtensions", "handshake.UpgradeRequest", "handshake.HandshakeResponse", "handshake.ServerExtensionNegotiator", "handshake.ServerHandshakeOptions", "handshake.ServerHandshakeResult", "handshake.fromIncomingMessage", "handshake.acceptUpgrade", "handshake.rejectResponse", "handshake.serializeResponse", "handshake.HandshakeErrorCode", "handshake.HandshakeError", "handshake.ClientRequestOptions", "handshake.ClientRequest", "handshake.buildClientRequest", "handshake.ExpectedHandshake", "handshake.ClientHandshakeResult", "handshake.validateServerResponse", "index.CloseCode", "index.isValidWireCloseCode", "index.ProtocolError", "index.ProtocolErrorCode", "index.Router", "index.RouteMatch", "index.RouteHandler", "index.RouteParams", "index.ParamNames", "index.ReconnectingWebSocket", "index.ReconnectOptions", "index.ReconnectingOptions", "index.ReconnectingEvent", "index.ReconnectingEvents", "index.ReconnectingError"];
    const present = required.filter((name) => known.has(name));
    expect(present.filter((name) => missing.includes(name))).toEqual([]);
    const others = missing.filter((name) => !required.includes(name));
    if (others.length > 0) console.log(`exports without an @example: ${others.join(', ')}`);
  });
});
