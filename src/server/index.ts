export { startServer, type RunningServer, type ServerOptions } from './server.js';
export { ApiError, type ApiErrorType } from './errors.js';
export { DEFAULT_SHUTDOWN_GRACE_MS } from './host.js';
