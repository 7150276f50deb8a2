/**
 * Typed arrays for what one scoring call computes, small ones carved out of shared slabs. Node
 * gives every `new Float64Array(n)` a zeroed backing store of its own from its allocator, ~1 us
 * each on the machines measured (a view on an existing buffer: ~20 ns), and scoring one record
 * makes about fifteen such arrays: most of its cost. A small array is instead a view into a
 * 16 KB slab; a slab region is handed out once and never reused (a slab is freed with its last
 * view), so these behave as fresh zeroed arrays, with one difference: their `.buffer` is shared.
 * Never transfer it to another thread or wrap it as if the array owned it: take {@link owned} first.
 */

const SLAB_BYTES = 16 * 1024;
/** Larger arrays get their own buffer: for them the allocation is a small share of the work. */
const SMALL_BYTES = 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** Byte offset of a fresh region of `bytes` in the current slab (8-byte aligned), starting a new slab when it is full. */
function carve(bytes: number): number {
  const size = (bytes + 7) & ~7;
  if (used + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += size;
  return at;
}

/** A zeroed Float64Array of length n. */
export function float64(n: number): Float64Array {
  if (n * 8 > SMALL_BYTES) return new Float64Array(n);
  const at = carve(n * 8);
  return new Float64Array(slab, at, n);
}

/** A zeroed Float32Array of length n. */
export function float32(n: number): Float32Array {
  if (n * 4 > SMALL_BYTES) return new Float32Array(n);
  const at = carve(n * 4);
  return new Float32Array(slab, at, n);
}

/** A zeroed Int32Array of length n. */
export function int32(n: number): Int32Array {
  if (n * 4 > SMALL_BYTES) return new Int32Array(n);
  const at = carve(n * 4);
  return new Int32Array(slab, at, n);
}

/** A zeroed Uint8Array of length n. */
export function uint8(n: number): Uint8Array {
  if (n > SMALL_BYTES) return new Uint8Array(n);
  const at = carve(n);
  return new Uint8Array(slab, at, n);
}

/** `a` itself when it owns its whole buffer, else a copy that does: safe to transfer or post. */
export function owned<T extends Float64Array | Float32Array | Int32Array | Uint8Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}
