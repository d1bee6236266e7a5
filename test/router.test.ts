/**
 * src/router: path patterns with typed `{name}` parameters, the handshake-time 404 for paths with
 * no route, and routing on a live server (serve, and attach to node:http).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  connect,
  ConnectError,
  Router,
  serve,
  WebSocketServer,
  type ParamNames,
  type RouteParams,
  type UpgradeInfo,
  type WebSocketConnection,
} from '../src/index.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(router: Router, options: Parameters<typeof serve>[1] = {}): Promise<string> {
  const server = await serve(router, { port: 0, pingInterval: 0, ...options });
  cleanups.push(() => server.close());
  return server.url.replace(/\/$/, '');
}

function refusal(url: string): Promise<ConnectError> {
  return connect(url).then(
    async (ws) => {
      await ws.close();
      throw new Error(`${url} was accepted`);
    },
    (error: unknown) => error as ConnectError,
  );
}

function info(path: string): UpgradeInfo {
  return { url: path, path, query: new URLSearchParams(), headers: {}, method: 'GET', remoteAddress: '127.0.0.1', offeredProtocols: [] };
}

const noop = (): void => {};

describe('Router.match', () => {
  it('matches literal paths exactly and gives no params', () => {
    const router = new Router().route('/echo', noop);
    expect(router.match('/echo')).toEqual({ pattern: '/echo', params: {} });
    expect(router.match('/echo/')).toBeNull();
    expect(router.match('/Echo')).toBeNull();
    expect(router.match('/echo/more')).toBeNull();
    expect(router.match('/')).toBeNull();
  });

  it('captures {name} parameters within one segment, percent-decoded', () => {
    const router = new Router().route('/light/{status}', noop).route('/rooms/{room}/users/{user}', noop);
    expect(router.match('/light/on')).toEqual({ pattern: '/light/{status}', params: { status: 'on' } });
    expect(router.match('/light/1')?.params).toEqual({ status: '1' });
    expect(router.match('/light/caf%C3%A9%20au%2Flait')?.params).toEqual({ status: 'café au/lait' });
    expect(router.match('/rooms/a/users/b')?.params).toEqual({ room: 'a', user: 'b' });
    // Never across segments, never empty.
    expect(router.match('/light/on/off')).toBeNull();
    expect(router.match('/light/')).toBeNull();
    expect(router.match('/light')).toBeNull();
    expect(router.match('/switch/on')).toBeNull();
  });

  it('supports parameters inside a segment, between literals', () => {
    const router = new Router().route('/files/{name}.{ext}', noop).route('/v{version}/status', noop);
    expect(router.match('/files/report.json')?.params).toEqual({ name: 'report', ext: 'json' });
    expect(router.match('/v2/status')?.params).toEqual({ version: '2' });
    expect(router.match('/files/report')).toBeNull();
  });

  it('escapes regular-expression characters in literals', () => {
    const router = new Router().route('/a.b/{x}', noop).route('/c+(d)', noop);
    expect(router.match('/a.b/1')).not.toBeNull();
    expect(router.match('/aXb/1')).toBeNull();
    expect(router.match('/c+(d)')).not.toBeNull();
    expect(router.match('/ccd')).toBeNull();
  });

  it('prefers literal routes, then the first pattern registered', () => {
    const router = new Router()
      .route('/light/{status}', noop)
      .route('/light/{other}', noop)
      .route('/light/all', noop);
    expect(router.match('/light/all')?.pattern).toBe('/light/all');
    expect(router.match('/light/on')?.pattern).toBe('/light/{status}');
  });

  it('returns null-prototype params, so any name is just a key', () => {
    const router = new Router().route('/x/{__proto__}/{constructor}', noop);
    const params = router.match('/x/a/b')!.params;
    expect(Object.getPrototypeOf(params)).toBeNull();
    expect(params['__proto__']).toBe('a');
    expect(params['constructor']).toBe('b');
  });

  it('throws URIError for malformed percent-encoding in a parameter', () => {
    const router = new Router().route('/light/{status}', noop);
    expect(() => router.match('/light/%E0%A4')).toThrow(URIError);
  });
});

describe('Router.route', () => {
  it.each([
    ['light/{status}', /must start with '\/'/],
    ['/light/{status', /Unbalanced '\{'/],
    ['/light/status}', /Unbalanced '\}'/],
    ['/light/{}', /Invalid parameter name/],
    ['/light/{1st}', /Invalid parameter name/],
    ['/light/{a-b}', /Invalid parameter name/],
    ['/{a}/{a}', /appears twice/],
    ['/{a}{b}', /Adjacent parameters/],
  ])('rejects the pattern %s', (pattern, message) => {
    expect(() => new Router().route(pattern, noop)).toThrow(message);
  });

  it('rejects a pattern registered twice', () => {
    const router = new Router().route('/a', noop).route('/b/{x}', noop);
    expect(() => router.route('/a', noop)).toThrow(/already registered/);
    expect(() => router.route('/b/{x}', noop)).toThrow(/already registered/);
  });

  it('types params from the pattern', () => {
    expectTypeOf<ParamNames<'/rooms/{room}/users/{user}'>>().toEqualTypeOf<'room' | 'user'>();
    expectTypeOf<RouteParams<'/light/{status}'>>().toEqualTypeOf<{ readonly status: string }>();
    expectTypeOf<RouteParams<'/echo'>>().toEqualTypeOf<{}>();
    expectTypeOf<RouteParams<string>>().toEqualTypeOf<Readonly<Record<string, string>>>();
    new Router().route('/light/{status}', (ws, params, query) => {
      expectTypeOf(ws).toEqualTypeOf<WebSocketConnection>();
      expectTypeOf(params.status).toEqualTypeOf<string>();
      expectTypeOf(query).toEqualTypeOf<URLSearchParams>();
      // @ts-expect-error: no such parameter in the pattern
      void params.colour;
    });
  });
});

describe('Router.verify', () => {
  const router = new Router().route('/light/{status}', noop);

  it('accepts a routed path', () => {
    expect(router.verify(info('/light/on'))).toBe(true);
  });

  it('refuses an unknown path with 404 and says which', () => {
    expect(router.verify(info('/switch/on'))).toEqual({ status: 404, message: 'No WebSocket route for /switch/on' });
  });

  it('refuses malformed percent-encoding with 400', () => {
    expect(router.verify(info('/light/%ZZ'))).toEqual({ status: 400, message: 'Malformed percent-encoding in /light/%ZZ' });
  });
});

describe('a Router on a live server', () => {
  const lights = (): Router =>
    new Router().route('/light/{status}', async (ws, params, query) => {
      for await (const message of ws) {
        const suffix = query.has('room') ? ` in ${query.get('room')}` : '';
        if (params.status === 'on') await ws.send(`the light has turned on${suffix}`);
        else if (params.status === 'off') await ws.send(`the light has turned off${suffix}`);
        else await ws.send(`invalid params (${message})`);
      }
    });

  it('routes by path, with typed params and the query string', async () => {
    const base = await start(lights());
    for (const [path, expected] of [
      ['/light/on', 'the light has turned on'],
      ['/light/off?room=kitchen', 'the light has turned off in kitchen'],
      ['/light/1', 'invalid params (00-12-4b-01)'],
    ] as const) {
      const ws = await connect(base + path);
      await ws.send('00-12-4b-01');
      expect(await ws.recv()).toBe(expected);
      await ws.close();
      expect(ws.closeCode).toBe(1000);
    }
  });

  it('refuses a path with no route at the handshake: the client gets a 404 error that says so', async () => {
    let handled = 0;
    const router = lights().route('/count', () => void handled++);
    const base = await start(router);
    const error = await refusal(`${base}/switch/on`);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.status).toBe(404);
    expect(error.message).toContain('404 Not Found');
    expect(handled).toBe(0);
    expect((await refusal(`${base}/light/%E0%A4`)).status).toBe(400);
  });

  it('closes the connection when a route handler settles', async () => {
    const base = await start(new Router().route('/once', async (ws) => void (await ws.send('bye'))));
    const ws = await connect(`${base}/once`);
    expect(await ws.recv()).toBe('bye');
    await ws.whenClosed();
    expect(ws.closeCode).toBe(1000);
  });

  it('closes with 1011 when a route handler throws, and reports the error on the server', async () => {
    const router = new Router().route('/boom', () => {
      throw new Error('route failed');
    });
    const server = new WebSocketServer(router, { port: 0, pingInterval: 0 });
    const errors: Error[] = [];
    server.on('error', (error) => errors.push(error));
    await server.listen();
    cleanups.push(() => server.close());
    const ws = await connect(`${server.url}boom`);
    await ws.whenClosed();
    expect(ws.closeCode).toBe(1011);
    expect(errors.map((error) => error.message)).toEqual(['route failed']);
  });

  it('runs the server’s own verify hook after the route check', async () => {
    const seen: string[] = [];
    const base = await start(lights(), {
      verify: (request) => {
        seen.push(request.path);
        return request.headers['authorization'] === 'Bearer ok' ? true : 401;
      },
    });
    expect((await refusal(`${base}/nowhere`)).status).toBe(404);
    expect(seen).toEqual([]); // refused before reaching it
    expect((await refusal(`${base}/light/on`)).status).toBe(401);
    const ws = await connect(`${base}/light/on`, { headers: { Authorization: 'Bearer ok' } });
    await ws.send('x');
    expect(await ws.recv()).toBe('the light has turned on');
    await ws.close();
  });

  it('routes upgrades taken from a node:http server (attach), leaving its HTTP requests alone', async () => {
    const http: HttpServer = createServer((_req, res) => res.end('plain http'));
    const wss = new WebSocketServer(lights(), { pingInterval: 0 }).attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await wss.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    });
    const { port } = http.address() as AddressInfo;
    expect(await (await fetch(`http://127.0.0.1:${port}/light/on`)).text()).toBe('plain http');
    const ws = await connect(`ws://127.0.0.1:${port}/light/off`);
    await ws.send('x');
    expect(await ws.recv()).toBe('the light has turned off');
    await ws.close();
    expect((await refusal(`ws://127.0.0.1:${port}/switch/on`)).status).toBe(404);
  });

  it('closes with 1008 when handle() is called for a connection no route matches', async () => {
    const router = new Router().route('/only', noop);
    // A plain handler that hands every connection to the router without the handshake check.
    const server = await serve((ws) => router.handle(ws), { port: 0, pingInterval: 0 });
    cleanups.push(() => server.close());
    const ws = await connect(`${server.url}other`);
    await ws.whenClosed();
    expect(ws.closeCode).toBe(1008);
    expect(ws.closeReason).toBe('No route');
  });
});
