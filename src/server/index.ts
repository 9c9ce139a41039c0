export { startServer, type RunningServer, type ServerOptions, type Route, type RouteTable } from './server.js';
export { ApiError, type ApiErrorType } from './errors.js';
export { startGateway, DEFAULT_GATEWAY_MODEL, type GatewayOptions } from './gateway/gateway.js';
