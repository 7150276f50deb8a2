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

/** The typed arrays made here, by constructor. */
interface TypedArrayKind<T> {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
}

/** A zeroed array of `kind` of length n: its own buffer when large, else a fresh slab region. */
function made<T>(kind: TypedArrayKind<T>, n: number): T {
  const bytes = n * kind.BYTES_PER_ELEMENT;
  if (bytes > SMALL_BYTES) return new kind(n);
  const at = carve(bytes);
  return new kind(slab, at, n);
}

export const float64 = (n: number): Float64Array => made(Float64Array, n);
export const float32 = (n: number): Float32Array => made(Float32Array, n);
export const int32 = (n: number): Int32Array => made(Int32Array, n);
export const uint8 = (n: number): Uint8Array => made(Uint8Array, n);

/** `a` itself when it owns its whole buffer, else a copy that does: safe to transfer or post. */
export function owned<T extends Float64Array | Float32Array | Int32Array | Uint8Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}
