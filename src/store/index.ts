/** Model registry and dataset storage. */
export { FsModelStore } from './fs-model-store';
export { type LoadedModel, type ModelStore, NAME_PATTERN } from './model-store';
