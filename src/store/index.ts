/** Model registry and dataset storage. */
export { FsModelStore } from './fs-model-store';
export { cancelledBy, deletedMeanwhile, DELETION_MEMORY_MS, type LoadedModel, type ModelStore, NAME_PATTERN, SavedByAnotherRun, VERSION_PATTERN } from './model-store';
export { notUtf8Words, utf16Words, type Utf8Source } from './utf8';
export { columnNameProblem, CsvError, type CsvTable, fileProblem, parseCsv, parseCsvStream, readCsv, typeField } from './csv-parser';
export { type AppendResult, type DatasetInfo, type DatasetStore, datasetNotFound, REMEMBERED_APPEND_KEYS } from './dataset-store';
export { checkContract, checkMixedColumns, checkNumbersAsText, type ColumnContract, contractOf, withCategories } from './dataset-contract';
export { FsDatasetStore } from './fs-dataset-store';
export { RedisDatasetStore } from './redis-dataset-store';
export { RedisModelStore } from './redis-model-store';
export { type JobCancel, JOB_CANCEL_TTL_SECONDS, type ModelEvent, redisKeys } from './redis-keys';
export { COMMAND_TIMEOUT_MS, evictionWarning, guardRedis, lostConnection, openRedis, type RedisRole, redisFull, redisNowMs, redisRefusal, whenConnected } from './redis-connection';
export { KeyedSerial, makeFolder, writeFileAtomic } from './files';
export { loadArtifact, saveArtifact } from './artifact-files';
export { sweepLeftovers } from './sweep';
export { claimFolder, SERVICE_LOCK } from './folder-lock';
export { describeVersions, listedModel, type VersionSummary } from './version-list';
