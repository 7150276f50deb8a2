/** Model registry and dataset storage. */
export { FsModelStore } from './fs-model-store';
export { type LoadedModel, type ModelStore, NAME_PATTERN } from './model-store';
export { CsvError, type CsvTable, parseCsv, readCsv, typeField } from './csv';
export { type DatasetInfo, type DatasetStore } from './dataset-store';
export { FsDatasetStore } from './fs-dataset-store';
