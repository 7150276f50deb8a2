/** Training jobs. */
export { InProcessQueue } from './in-process-queue';
export { BullMqQueue, failedReason, failureCode, jobOptions, type JobProgress, QUEUE_NAME, QUEUE_PREFIX, runKeys, TRAPPED_EXIT_CODE, writeRunProgress } from './bullmq-queue';
export { enqueuedAt, type JobError, jobError, type JobInfo, type JobPayload, type JobQueue, type JobResult, type JobState, type TrainJobPayload } from './job-queue';
export { BullMqScheduler } from './bullmq-scheduler';
export { InProcessScheduler } from './in-process-scheduler';
export { cronProblem, DEFAULT_TIMEZONE, keptSince, type Schedule, type ScheduleInfo, type Scheduler, timezoneProblem } from './scheduler';
export { currentVersionOf, gateFailure, type QualityGate, refusedAgain, runTrainJob, sameTraining, storeVersion, trainedOn, trainArtifact, trainingTooLarge, type TrainInput } from './train-job';
export { type DriftPolicy, DriftRetrainer } from './drift-retrainer';
