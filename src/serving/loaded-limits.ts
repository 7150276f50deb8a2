/** What a holder of loaded models may keep: at most so many, holding at most so many bytes together. */
export interface LoadedLimits {
  count: number;
  bytes: number;
}

/** The bytes `loaded`'s entries hold together. */
function heldBytes(loaded: Map<string, { bytes: number }>): number {
  let bytes = 0;
  for (const entry of loaded.values()) bytes += entry.bytes;
  return bytes;
}

/** Whether `loaded` has room for one more: fewer entries than `limits.count`, holding fewer bytes than `limits.bytes`. */
export function hasRoom(loaded: Map<string, { bytes: number }>, limits: LoadedLimits): boolean {
  return loaded.size < limits.count && heldBytes(loaded) < limits.bytes;
}

/**
 * Takes the least recently used entries out of `loaded` (a Map in order of use, the most recent
 * last) until at most `limits.count` stay, holding at most `limits.bytes` together; never the last
 * one, the model just used. `unload` is told of each one taken out.
 */
export function unloadBeyond<T extends { bytes: number }>(loaded: Map<string, T>, limits: LoadedLimits, unload: (name: string, entry: T) => void): void {
  let bytes = heldBytes(loaded);
  for (const [name, entry] of loaded) {
    if (loaded.size <= 1 || (loaded.size <= limits.count && bytes <= limits.bytes)) return;
    bytes -= entry.bytes;
    loaded.delete(name);
    unload(name, entry);
  }
}
