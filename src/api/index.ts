/** The HTTP API. */
export { type AppDeps, createApp } from './app';
export { AppError, type ErrorCode, toProblem } from './errors';
export { createHttpServer, type HttpLimits } from './http-server';
