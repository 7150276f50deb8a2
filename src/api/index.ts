/** The HTTP API. */
export { type AppDeps, createApp } from './app';
export { toProblem } from './problems';
export { createHttpServer, drainConnections, trackedAnswers, type HttpLimits } from './http-server';
