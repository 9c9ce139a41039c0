export { startServer, type RunningServer, type ServerOptions } from './server.js';
export { ApiError, type ApiErrorType } from './errors.js';
