/** The HTTP API. */
export { type AppDeps, createApp } from './app';
export { toProblem } from './problems';
export { connectionCap, createHttpServer, drainConnections, FILES_KEPT, openFilesLimit, trackedAnswers, type HttpLimits } from './http-server';
