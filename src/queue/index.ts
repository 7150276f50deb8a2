/** Training jobs. */
export { InProcessQueue } from './in-process-queue';
export type { JobInfo, JobPayload, JobQueue, JobState, TrainJobPayload } from './job-queue';
