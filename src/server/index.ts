export { startServer, type RunningServer, type ServerOptions, type Route, type RouteTable } from './server.js';
export { ApiError, type ApiErrorType } from './errors.js';
export { startGateway, DEFAULT_GATEWAY_MODEL, type GatewayOptions } from './gateway/gateway.js';
export { startViewer, type ViewerOptions, type RunningViewer } from './viewer/viewer.js';
export { loadRun, runOverview, problemView, type LoadedRun, type RunOverview } from './viewer/run.js';
export { DEFAULT_SHUTDOWN_GRACE_MS } from './host.js';
