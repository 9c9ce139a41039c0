export {
  startServer,
  apiHandler,
  type RunningServer,
  type ServerOptions,
  type Route,
  type RouteTable,
} from './serve/server.js';
export {
  startHost,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type Host,
  type HostOptions,
  type RequestHandler,
  type RequestControls,
} from './http/host.js';
export { jsonResponse, sseResponse, errorResponse, type HttpResponse } from './http/response.js';
export type { Handler, ServerContext, RequestContext } from './serve/context.js';
export { ApiError, type ApiErrorType } from './http/errors.js';
export { startGateway, DEFAULT_GATEWAY_MODEL, type GatewayOptions } from './gateway/gateway.js';
export { startViewer, type ViewerOptions, type RunningViewer } from './viewer/viewer.js';
export { loadRun, runOverview, problemView, type LoadedRun, type RunOverview } from './viewer/run.js';
