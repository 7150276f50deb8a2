/** Bytes of JSON per string when a long list is serialized: well under V8's large-object size. */
const SLICE_BYTES = 48 * 1024;

/**
 * The JSON of `{ ...head, [key]: items }` as one buffer, the items stringified a slice at a time.
 * One JSON.stringify of a large answer (1,000 scored records are ~136 KB) yields a string past V8's
 * large-object size (128 KB), and UTF-8 encoding such a string costs several times more per byte:
 * measured on Node 20, 1.4 ms for 136 KB against 0.19 ms for 122 KB. Slices stay below it.
 * A short list is one string: Node then sends it in one write with the headers. The first slice
 * is short too, and each next one is sized from the bytes per item so far, so that records with
 * many `contributions` (explain) stay below the limit as well. For plain data only: `head` does not
 * hold `key`, `key` is not an array index, and no item has a `toJSON` (each would serialize
 * differently from one JSON.stringify).
 */
export function jsonListBody(head: object, key: string, items: readonly unknown[]): string | Buffer {
  // Strings joined, not `{ ...head, [key]: items }`: spreading into an object with a computed key
  // costs more than stringifying a one-record answer.
  if (items.length <= SHORT_LIST) return `${listOpening(head, key)}${JSON.stringify(items)}}`;
  return Buffer.concat([Buffer.from(`${listOpening(head, key)}[`), jsonItems(items), CLOSE]);
}

/** `{...head, "key":` as JSON. */
export function listOpening(head: object, key: string): string {
  const open = JSON.stringify(head);
  return `${open.length > 2 ? `${open.slice(0, -1)},` : '{'}${JSON.stringify(key)}:`;
}

/** A list of up to this many items is one string (and the first slice of a longer one this long). */
export const SHORT_LIST = 16;
const CLOSE = Buffer.from(']}');

/** The JSON of the items of a list, comma-separated without the brackets, serialized a slice at a time. */
function jsonItems(items: readonly unknown[]): Buffer {
  const parts: Buffer[] = [];
  let size = SHORT_LIST;
  for (let i = 0; i < items.length; ) {
    const slice = JSON.stringify(items.slice(i, i + size));
    parts.push(Buffer.from(i === 0 ? slice.slice(1, -1) : `,${slice.slice(1, -1)}`));
    i += size;
    // Size the next slice from what this one weighed.
    size = Math.max(1, Math.floor((SLICE_BYTES * size) / slice.length));
  }
  return Buffer.concat(parts);
}
