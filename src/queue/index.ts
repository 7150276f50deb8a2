/** Training jobs. */
export { gateFailure, InProcessQueue, type QualityGate } from './in-process-queue';
export type { JobInfo, JobPayload, JobQueue, JobState, TrainJobPayload } from './job-queue';
