/** Training jobs. */
export { gateFailure, InProcessQueue, type QualityGate } from './in-process-queue';
export type { JobInfo, JobPayload, JobQueue, JobState, TrainJobPayload } from './job-queue';
export { cronProblem, InProcessScheduler, type Schedule, type ScheduleInfo } from './scheduler';
