import { CloseCode } from '../frame/close-code.js';
import type { WebSocketConnection } from '../io/connection.js';
import type { RoutingHandler, UpgradeInfo, VerifyResult } from '../server/server.js';

/**
 * Names of the `{name}` parameters in a route pattern, as a union of string literals:
 * `ParamNames<'/rooms/{room}/users/{user}'>` is `'room' | 'user'`.
 *
 * @example
 * ```ts
 * import type { ParamNames } from 'fullduplex';
 *
 * type Names = ParamNames<'/rooms/{room}/users/{user}'>; // 'room' | 'user'
 * const name: Names = 'room';
 * ```
 */
export type ParamNames<Pattern extends string> = Pattern extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

/**
 * The params object a route handler receives, typed from its pattern:
 * `RouteParams<'/light/{status}'>` is `{ readonly status: string }`. A pattern that is not a
 * literal type gives a string record.
 *
 * @example
 * ```ts
 * import type { RouteParams } from 'fullduplex';
 *
 * function describe(params: RouteParams<'/light/{status}'>): string {
 *   return `light is ${params.status}`; // params.colour would not compile
 * }
 * ```
 */
export type RouteParams<Pattern extends string> = string extends Pattern
  ? Readonly<Record<string, string>>
  : { readonly [Name in ParamNames<Pattern>]: string };

/**
 * Handles a connection on a matched route, with the path parameters (percent-decoded) and the
 * query string. As with any handler, a returned promise closes the connection when it settles.
 *
 * @example
 * ```ts
 * import { Router, type RouteHandler } from 'fullduplex';
 *
 * const room: RouteHandler<'/rooms/{room}'> = async (ws, { room }, query) => {
 *   ws.subscribe(room);
 *   for await (const message of ws) console.log(room, query.get('user'), message);
 * };
 * const router = new Router().route('/rooms/{room}', room);
 * ```
 */
export type RouteHandler<Pattern extends string> = (
  ws: WebSocketConnection,
  params: RouteParams<Pattern>,
  query: URLSearchParams,
) => void | Promise<void>;

/**
 * What {@link Router.match} found for a path.
 *
 * @example
 * ```ts
 * import { Router } from 'fullduplex';
 *
 * const router = new Router().route('/light/{status}', () => {});
 * router.match('/light/on'); // { pattern: '/light/{status}', params: { status: 'on' } }
 * router.match('/switch/on'); // null
 * ```
 */
export interface RouteMatch {
  /** The pattern as registered, e.g. `/light/{status}`. */
  pattern: string;
  /** Decoded parameter values (a null-prototype object). */
  params: Readonly<Record<string, string>>;
}

interface CompiledRoute {
  pattern: string;
  names: string[];
  regexp: RegExp;
  handler: RouteHandler<string>;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Routes WebSocket connections by path, refusing unknown paths at the handshake — the
 * `websockets-routes` `Router` of the seed, except that a path with no route gets
 * `HTTP 404 Not Found` instead of an accepted-then-dropped connection.
 *
 * Patterns are literal paths with `{name}` placeholders. A placeholder matches one or more
 * characters up to the next `/` (never across segments); its value is percent-decoded. Matching
 * is exact: no trailing-slash folding, and the query string is not part of the path. Literal
 * routes (no placeholders) win over patterns; otherwise the first pattern registered wins.
 *
 * A `Router` is a {@link RoutingHandler}: pass it wherever a handler is accepted.
 *
 * @example
 * const router = new Router().route('/light/{status}', async (ws, params) => {
 *   for await (const message of ws) await ws.send(`${params.status}: ${message}`);
 * });
 * const server = await serve(router, { port: 8765 });
 */
export class Router implements RoutingHandler {
  private readonly literal = new Map<string, CompiledRoute>();
  private readonly patterns: CompiledRoute[] = [];

  /**
   * Adds a route. `handler` gets the connection, the parameters typed from `pattern`, and the
   * query string. Returns the router, for chaining.
   *
   * @throws {TypeError} when the pattern does not start with `/`, has an invalid or repeated
   * parameter name, two adjacent parameters, or is already registered.
   */
  route<Pattern extends string>(pattern: Pattern, handler: RouteHandler<Pattern>): this {
    const route = compile(pattern, handler as RouteHandler<string>);
    if (route.names.length === 0) {
      if (this.literal.has(pattern)) throw new TypeError(`Route ${pattern} is already registered`);
      this.literal.set(pattern, route);
    } else {
      if (this.patterns.some((existing) => existing.pattern === pattern)) {
        throw new TypeError(`Route ${pattern} is already registered`);
      }
      this.patterns.push(route);
    }
    return this;
  }

  /**
   * Finds the route for a path (without query string). Returns null when no route matches.
   * @throws {URIError} when a parameter has malformed percent-encoding.
   */
  match(path: string): RouteMatch | null {
    const found = this.find(path);
    return found && { pattern: found.route.pattern, params: found.params };
  }

  /**
   * The handshake check: 404 for a path with no route, 400 for a parameter that is not valid
   * percent-encoding. Called by the server before the upgrade.
   */
  verify(request: UpgradeInfo): VerifyResult {
    let found: ReturnType<Router['find']>;
    try {
      found = this.find(request.path);
    } catch {
      return { status: 400, message: `Malformed percent-encoding in ${request.path}` };
    }
    if (!found) return { status: 404, message: `No WebSocket route for ${request.path}` };
    return true;
  }

  /** Runs the handler of the route matching `ws.request.path`. Called by the server. */
  handle(ws: WebSocketConnection): void | Promise<void> {
    let found: ReturnType<Router['find']> = null;
    try {
      found = this.find(ws.request.path);
    } catch {
      // Unreachable after verify(); handled below like a missing route.
    }
    if (!found) {
      // Only when handle() is called without verify() (e.g. by hand): there is no HTTP left to refuse.
      return ws.close(CloseCode.POLICY_VIOLATION, 'No route');
    }
    return found.route.handler(ws, found.params, ws.request.query);
  }

  private find(path: string): { route: CompiledRoute; params: Record<string, string> } | null {
    const exact = this.literal.get(path);
    if (exact) return { route: exact, params: Object.create(null) as Record<string, string> };
    for (const route of this.patterns) {
      const result = route.regexp.exec(path);
      if (!result) continue;
      const params = Object.create(null) as Record<string, string>;
      for (let i = 0; i < route.names.length; i++) params[route.names[i]!] = decodeURIComponent(result[i + 1]!);
      return { route, params };
    }
    return null;
  }
}

function compile(pattern: string, handler: RouteHandler<string>): CompiledRoute {
  if (!pattern.startsWith('/')) throw new TypeError(`Route pattern must start with '/': ${pattern}`);
  const names: string[] = [];
  let source = '^';
  let rest = pattern;
  let previousWasParam = false;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    if (open < 0) {
      if (rest.includes('}')) throw new TypeError(`Unbalanced '}' in route pattern ${pattern}`);
      source += escapeRegExp(rest);
      break;
    }
    const close = rest.indexOf('}', open);
    if (close < 0) throw new TypeError(`Unbalanced '{' in route pattern ${pattern}`);
    const literal = rest.slice(0, open);
    if (literal.includes('}')) throw new TypeError(`Unbalanced '}' in route pattern ${pattern}`);
    if (literal.length === 0 && previousWasParam) {
      throw new TypeError(`Adjacent parameters need a literal between them in route pattern ${pattern}`);
    }
    const name = rest.slice(open + 1, close);
    if (!PARAM_NAME.test(name)) throw new TypeError(`Invalid parameter name '{${name}}' in route pattern ${pattern}`);
    if (names.includes(name)) throw new TypeError(`Parameter '{${name}}' appears twice in route pattern ${pattern}`);
    names.push(name);
    source += `${escapeRegExp(literal)}([^/]+)`;
    previousWasParam = true;
    rest = rest.slice(close + 1);
  }
  return { pattern, names, regexp: new RegExp(`${source}$`), handler };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
