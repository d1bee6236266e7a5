export { Router, type RouteHandler, type RouteMatch, type RouteParams, type ParamNames } from './router.js';
