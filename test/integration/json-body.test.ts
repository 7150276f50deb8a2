import type { Server } from 'node:http';
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { toArtifact, train } from '../../src/nce';
import { normalRecords, suffix } from '../helpers/data';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

/**
 * JSON bodies are read on one of two paths (src/api/body.ts): a plain `application/json` body
 * directly, anything else through body-parser. A client must not be able to tell which: the same
 * body gets the same answer on both. `application/json; charset=UTF-8` (upper case) takes the
 * body-parser path, `application/json` the direct one.
 */
const MAX_BODY = 4096;
const name = `m-${suffix()}`;
let running: EmbeddedService;
let server: Server;
let base: string;

beforeAll(async () => {
  running = await startEmbedded({ MAX_BODY_BYTES: String(MAX_BODY) });
  ({ server, base } = await listen(running.service.app));
  await running.service.store.save(name, toArtifact(await train(normalRecords(100, 3, 1), { epochs: 2 }), { datasetFingerprint: 'x', datasetRows: 100, backend: running.backend }));
});

afterAll(async () => {
  server?.close();
  await running?.close();
});

const DIRECT = 'application/json';
const BODY_PARSER = 'application/json; charset=UTF-8';

/** Sends a body byte for byte (supertest re-encodes a Buffer sent as JSON); the answer's body parsed. */
async function answer(body: string | Buffer, type: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: unknown }> {
  const res = await fetch(`${base}/v1/models/${name}/score`, { method: 'POST', headers: { 'content-type': type, ...headers }, body });
  return { status: res.status, type: res.headers.get('content-type'), body: JSON.parse(await res.text()) as unknown };
}

/**
 * Sends only a request's headers, declaring `length` bytes of body, and returns the first answer
 * that comes back (or fails after `timeoutMs` without one).
 */
function headersOnly(type: string, length: number, timeoutMs = 3000): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((ok, fail) => {
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no answer within ${timeoutMs} ms to headers alone`));
    }, timeoutMs);
    socket.once('error', fail);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      ok(chunk.toString('latin1'));
    });
    socket.write(`POST /v1/models/${name}/score HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`);
  });
}

/** Bodies at the edges of what body-parser's strict mode reads. */
const EDGES = ['', '   ', 'null', '5', '"x"', '[]', '{}', '{', '{"records":[{"f0":1,"f1":2,"f2":3}]', '\uFEFF{"records":[{"f0":1,"f1":2,"f2":3}]}', '\uFEFF', '{"records":[{"f0":1,"f1":2,"f2":3}]}\u0000'];
const leaf = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 4 }), fc.constant(null), fc.boolean());
const record = fc.dictionary(fc.constantFrom('f0', 'f1', 'f2', 'x', '__proto__'), leaf, { maxKeys: 4 });
const scoreBody = fc.record({ records: fc.array(record, { maxLength: 4 }), explain: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: [] }).map((b) => JSON.stringify(b));
const text = fc.oneof(
  scoreBody,
  fc.json({ maxDepth: 2 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...EDGES),
  fc.nat({ max: 2 * MAX_BODY }).map((n) => `{"records":[${'1,'.repeat(n)}1]}`),
);
const padded = fc.tuple(fc.constantFrom('', ' ', '\n\t '), text, fc.constantFrom('', ' ', '\r\n')).map(([a, t, b]) => a + t + b);

describe('POST /v1/models/:name/score with a JSON body', () => {
  it.each(EDGES)('when the body is %j, answers the same read directly as through body-parser', async (body) => {
    expect(await answer(body, DIRECT)).toEqual(await answer(body, BODY_PARSER));
  });

  it('when the body is generated JSON, text or an oversized batch, answers the same read directly as through body-parser', async () => {
    await fc.assert(
      fc.asyncProperty(padded, async (body) => {
        const direct = await answer(body, DIRECT);
        expect(direct).toEqual(await answer(body, BODY_PARSER));
      }),
      { numRuns: 300 },
    );
  });

  it('when sent as plain application/json, scores it, and answers 400 MALFORMED_BODY to broken JSON or a scalar and 413 BODY_TOO_LARGE over the limit', async () => {
    const ok = await answer('{"records":[{"f0":1,"f1":2,"f2":3}]}', DIRECT);
    expect(ok.status).toBe(200);
    expect((await answer('{"records":', DIRECT)).body).toMatchObject({ status: 400, code: 'MALFORMED_BODY' });
    expect((await answer('7', DIRECT)).body).toMatchObject({ status: 400, code: 'MALFORMED_BODY' });
    // Valid JSON, but a bare value: the answer says what is wanted rather than that it is not JSON.
    expect((await answer('"str"', DIRECT)).body).toMatchObject({ status: 400, code: 'MALFORMED_BODY', detail: expect.stringContaining('its top level is a bare value') });
    // A table sent as JSON is told its media type, on both paths.
    for (const type of [DIRECT, BODY_PARSER]) {
      expect((await answer('f0,f1,f2\n1,2,3\n', type)).body).toMatchObject({ status: 400, code: 'MALFORMED_BODY', detail: expect.stringContaining('it looks like CSV: send it with Content-Type: text/csv') });
      expect((await answer('{"f0":1,"f1":2,"f2":3}\n{"f0":1,"f1":2,"f2":4}\n', type)).body).toMatchObject({ status: 400, detail: expect.stringContaining('it looks like NDJSON (one JSON object a line): send it with Content-Type: application/x-ndjson') });
    }
    expect(((await answer('{"records":', DIRECT)).body as { detail: string }).detail).not.toContain('looks like');
    // A quoted header (pandas' quoting=ALL) is CSV too; two JSON requests one after the other are not NDJSON, nor is a broken line.
    expect((await answer('"f0","f1","f2"\n1,2,3\n', DIRECT)).body).toMatchObject({ detail: expect.stringContaining('it looks like CSV') });
    for (const body of ['{"records":[{"f0":1,"f1":2,"f2":3}]}\n{"records":[{"f0":1,"f1":2,"f2":3}]}\n', '{"f0":1}\n{"f0":1,}\n']) {
      expect(((await answer(body, DIRECT)).body as { detail: string }).detail).not.toContain('looks like');
    }
    // UTF-16 without its byte-order mark is valid UTF-8 byte for byte, with a NUL beside each letter.
    expect((await answer(Buffer.from('{"records":[{"f0":1,"f1":2,"f2":3}]}', 'utf16le'), DIRECT)).body).toMatchObject({ detail: expect.stringContaining('looks like UTF-16 text without its byte-order mark') });
    expect((await answer(`{"records":[${'1,'.repeat(MAX_BODY)}1]}`, DIRECT)).body).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', detail: expect.stringContaining(`the limit of ${MAX_BODY} bytes (MAX_BODY_BYTES)`) });
    // The UTF-8 byte order mark is dropped, as body-parser drops it.
    expect((await answer('\uFEFF{"records":[{"f0":1,"f1":2,"f2":3}]}', DIRECT)).status).toBe(200);
    // A number too large for a double parses as Infinity: the answer says why it is refused.
    expect((await answer('{"records":[{"f0":1,"f1":1e400,"f2":3}]}', DIRECT)).body).toMatchObject({ status: 400, pointer: '/records/0/f1', detail: expect.stringContaining('must be a finite number') });
  });

  it('when plain application/json declares a Content-Length over the limit, answers 413 before any of the body is sent (read directly)', async () => {
    // body-parser would wait for the whole body; only the direct path answers from the headers.
    const head = await headersOnly(DIRECT, 2 * MAX_BODY);
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head).toContain('application/problem+json');
  });

  it('the upper-case charset does take the body-parser path: to the same headers alone it does not answer yet', async () => {
    // Without this, the differential tests above could compare the direct path with itself.
    await expect(headersOnly(BODY_PARSER, 2 * MAX_BODY, 1000)).rejects.toThrow('no answer within 1000 ms');
  });

  it('when compressed, inflates it (body-parser), applies the limit to the inflated size, and answers 400 MALFORMED_BODY to a body that does not decompress', async () => {
    const plain = '{"records":[{"f0":1,"f1":2,"f2":3}]}';
    const inflated = await answer(gzipSync(plain), DIRECT, { 'content-encoding': 'gzip' });
    expect(inflated.status).toBe(200);
    expect(inflated).toEqual(await answer(plain, DIRECT));
    expect(await answer(brotliCompressSync(plain), DIRECT, { 'content-encoding': 'br' })).toEqual(inflated);
    for (const encoding of ['gzip', 'deflate', 'br']) {
      expect(await answer(`${plain}${plain}`, DIRECT, { 'content-encoding': encoding })).toMatchObject({ status: 400, body: { status: 400, code: 'MALFORMED_BODY' } });
    }
    // The limit holds for what the body inflates to, not what was sent.
    const bomb = gzipSync(`{"records":[${' '.repeat(4 * MAX_BODY)}]}`);
    expect(bomb.length).toBeLessThan(MAX_BODY);
    expect(await answer(bomb, DIRECT, { 'content-encoding': 'gzip' })).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE' } });
    // ...and for what arrives: sent chunked, empty deflate blocks inflate to nothing but still count.
    const deflated = deflateSync(plain);
    const padded = Buffer.concat([deflated.subarray(0, 2), Buffer.from('000000ffff'.repeat((2 * MAX_BODY) / 5), 'hex'), deflated.subarray(2)]);
    expect(inflateSync(padded).toString()).toBe(plain);
    const streamed = await fetch(`${base}/v1/models/${name}/score`, { method: 'POST', headers: { 'content-type': DIRECT, 'content-encoding': 'deflate' }, body: new Blob([padded]).stream(), duplex: 'half' } as RequestInit);
    expect({ status: streamed.status, code: ((await streamed.json()) as { code: string }).code }).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
    expect(await answer(gzipSync(plain), DIRECT, { 'content-encoding': 'zstd' })).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('a request without a body is told it has none, whatever its Content-Type; a charset other than UTF-8 is named', async () => {
    const { hostname, port } = new URL(base);
    // No Content-Length and no Transfer-Encoding (fetch always sends one of them for a POST).
    const bare = (type: string): Promise<string> => new Promise((ok, fail) => {
      const socket = connect(Number(port), hostname);
      socket.once('error', fail);
      let got = '';
      socket.on('data', (chunk: Buffer) => (got += chunk.toString('utf8')));
      socket.once('end', () => ok(got));
      socket.write(`POST /v1/models/${name}/score HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`);
    });
    for (const type of [DIRECT, 'text/csv', '']) {
      const raw = await bare(type);
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toContain('"code":"MALFORMED_BODY"');
      expect(raw).toContain('the request has no body');
    }
    for (const type of [DIRECT, BODY_PARSER]) expect(await answer('', type)).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringContaining('the request has no body') } });
    expect(await answer('{"records":[]}', 'application/json; charset=latin1')).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE', detail: expect.stringContaining('charset "latin1" is not supported: send UTF-8') } });
  });

  it('when the bytes are not UTF-8, answers 400 MALFORMED_BODY on both paths instead of replacing them', async () => {
    const bytes = Buffer.concat([Buffer.from('{"records":[{"f0":1,"f1":2,"f2":"w'), Buffer.from([0xff]), Buffer.from('b"}]}')]);
    for (const type of [DIRECT, BODY_PARSER]) {
      // Where: the line and byte of the first byte that is not UTF-8.
      expect(await answer(bytes, type)).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringMatching(/^the body is not UTF-8 text from line 1, byte 35 \(0xFF\) on: save it as UTF-8 .*WINDOWS-1252/) } });
    }
    // UTF-16 (Excel's "Unicode text", Windows tools) is named as what it is.
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"records":[]}', 'utf16le')]);
    expect(await answer(utf16, DIRECT)).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringContaining('the body is UTF-16 text') } });
    // Valid multi-byte UTF-8 is read as itself.
    expect((await answer('{"records":[{"f0":1,"f1":2,"f2":"Zürich"}]}', DIRECT)).body).toMatchObject({ code: 'INVALID_RECORD' });
  });

  it('reads JSON declared as UTF-16 or UTF-32 only when it is well formed in it: what is not is refused, not replaced or dropped', async () => {
    const text = '{"records":[{"f0":1,"f1":2,"f2":3}]}';
    const utf32 = (s: string, bigEndian = false): Buffer => {
      const out = Buffer.alloc(4 * [...s].length);
      [...s].forEach((ch, i) => (bigEndian ? out.writeUInt32BE(ch.codePointAt(0) as number, 4 * i) : out.writeUInt32LE(ch.codePointAt(0) as number, 4 * i)));
      return out;
    };
    const scored = await answer(text, DIRECT);
    expect(scored.status).toBe(200);
    for (const [bytes, charset] of [
      [Buffer.from(text, 'utf16le'), 'utf-16le'],
      [Buffer.from(text, 'utf16le').swap16(), 'utf-16be'],
      [Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]), 'utf-16'],
      [utf32(text), 'utf-32le'],
      [utf32(text, true), 'utf-32be'],
      // Without a byte-order mark or an order in the name, in the order iconv-lite then takes (big-endian here).
      [utf32(text, true), 'utf-32'],
    ] as [Buffer, string][]) {
      expect({ charset, ...(await answer(bytes, `application/json; charset=${charset}`)) }).toEqual({ charset, ...scored });
    }
    // A big-endian body without a mark whose letters' low bytes would read as halves of surrogate pairs little-endian (ß: 00 DF).
    const unusual = '{"records":[{"f0":1,"f1":2,"f2":"Größe"}]}';
    const unmarked = await answer(Buffer.from(unusual, 'utf16le').swap16(), 'application/json; charset=utf-16');
    expect(unmarked).toEqual(await answer(unusual, DIRECT));
    const refused = { status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringMatching(/^the body is not well-formed UTF-(16|32), as its charset \(utf-(16|32)le\) says it is: send UTF-8/) } };
    // A stray last byte, half of a surrogate pair, a code point past U+10FFFF.
    expect(await answer(Buffer.concat([Buffer.from(text, 'utf16le'), Buffer.from([0x20])]), 'application/json; charset=utf-16le')).toMatchObject(refused);
    const half = Buffer.from(text.replace('3}', '"x"}'), 'utf16le');
    half.writeUInt16LE(0xd800, half.indexOf(Buffer.from('x', 'utf16le')));
    expect(await answer(half, 'application/json; charset=utf-16le')).toMatchObject(refused);
    const beyond = utf32(text.replace('3}', '"x"}'));
    beyond.writeUInt32LE(0x110000, beyond.indexOf(utf32('x')));
    expect(await answer(beyond, 'application/json; charset=utf-32le')).toMatchObject(refused);
    // Another Unicode form body-parser would decode (UTF-7) is not taken.
    expect(await answer(text, 'application/json; charset=utf-7')).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE', detail: expect.stringContaining('charset "utf-7" is not supported') } });
  });

  it('a CSV body is decompressed as its Content-Encoding says, its limit applies inflated, and bytes that are not UTF-8 or not compressed are a 400', async () => {
    const csv = `f0,f1,f2\n${'1,2,3\n'.repeat(5)}`;
    const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(`${base}/v1/models/${name}/score`, { method: 'POST', headers: { 'content-type': 'text/csv', ...headers }, body }).then(async (r) => ({ status: r.status, body: JSON.parse(await r.text()) as { results?: unknown[]; code?: string; detail?: string } }));
    const plain = await post(csv);
    expect(plain.status).toBe(200);
    expect(await post(gzipSync(csv), { 'content-encoding': 'gzip' })).toEqual(plain);
    expect(await post(brotliCompressSync(csv), { 'content-encoding': 'br' })).toEqual(plain);
    expect(await post(csv, { 'content-encoding': 'gzip' })).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringContaining('decompressed') } });
    expect(await post(gzipSync(csv), { 'content-encoding': 'zstd-ish' })).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    const bomb = gzipSync(`f0,f1,f2\n${'1,2,3\n'.repeat(MAX_BODY)}`);
    expect(bomb.length).toBeLessThan(MAX_BODY);
    expect(await post(bomb, { 'content-encoding': 'gzip' })).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE' } });
    // Sent chunked (no Content-Length): empty deflate blocks inflate to nothing, and still count as they arrive.
    const deflated = deflateSync(csv);
    const padded = Buffer.concat([deflated.subarray(0, 2), Buffer.from('000000ffff'.repeat(2 * MAX_BODY / 5), 'hex'), deflated.subarray(2)]);
    expect(inflateSync(padded).toString()).toBe(csv);
    const streamed = await fetch(`${base}/v1/models/${name}/score`, { method: 'POST', headers: { 'content-type': 'text/csv', 'content-encoding': 'deflate' }, body: new Blob([padded]).stream(), duplex: 'half' } as RequestInit);
    expect({ status: streamed.status, code: ((await streamed.json()) as { code: string }).code }).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
    const latin1 = Buffer.concat([Buffer.from('f0,f1,f2\n1,2,Z'), Buffer.from([0xfc]), Buffer.from('rich\n')]);
    expect(await post(latin1)).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringContaining('not UTF-8 text from line 2, byte 15 (0xFC) on') } });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')]);
    expect(await post(utf16)).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', detail: expect.stringContaining('the body is UTF-16 text (it starts with UTF-16\'s byte-order mark), not UTF-8: save it as UTF-8 (for example with iconv -f UTF-16 -t UTF-8') } });
  });
});


describe('a JSON body that gives a key twice in one object', () => {
  /** A dataset upload sent byte for byte; the answer's status and body. */
  const put = async (dataset: string, body: string | Buffer, type: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}/v1/datasets/${dataset}`, { method: 'PUT', headers: { 'content-type': type, ...headers }, body });
    return { status: res.status, body: JSON.parse(await res.text()) as { code?: string; pointer?: string; detail?: string; rows?: number } };
  };

  it('is refused naming the key, on every path a body is read on, and nothing is stored: JSON.parse would keep one value and drop the other', async () => {
    const cases: [string, string][] = [
      ['{"records":[{"a":1,"b":2}],"records":[{"a":3,"b":4},{"a":5,"b":6}]}', '/records'],
      ['{"records":[{"a":1,"b":2},{"a":1,"b":2,"a":"x"}]}', '/records/1/a'],
      ['{"records":[{"\\u0061":1,"a":2}]}', '/records/0/a'],
    ];
    for (const [body, pointer] of cases) {
      const dataset = `twice-${suffix()}`;
      for (const [type, sent, headers] of [
        [DIRECT, body, {}],
        [BODY_PARSER, body, {}],
        [DIRECT, gzipSync(body), { 'content-encoding': 'gzip' }],
      ] as [string, string | Buffer, Record<string, string>][]) {
        const got = await put(dataset, sent, type, headers);
        expect({ status: got.status, code: got.body.code, pointer: got.body.pointer }).toEqual({ status: 400, code: 'MALFORMED_BODY', pointer });
        expect(got.body.detail).toMatch(/gives the key "a|records" twice in one object/);
      }
      // Sent chunked (no Content-Length), through body-parser as well.
      const chunked = await fetch(`${base}/v1/datasets/${dataset}`, { method: 'PUT', headers: { 'content-type': DIRECT }, body: new Blob([body]).stream(), duplex: 'half' } as RequestInit);
      expect({ status: chunked.status, pointer: ((await chunked.json()) as { pointer: string }).pointer }).toEqual({ status: 400, pointer });
      expect((await fetch(`${base}/v1/datasets/${dataset}`)).status).toBe(404);
    }
    // In UTF-16 (big-endian: decoded as body-parser decodes it, not as Node's Buffer can).
    const utf16be = Buffer.from('{"records":[{"a":1}],"records":[{"a":2},{"a":3}]}', 'utf16le').swap16();
    const wide = await put(`twice-${suffix()}`, utf16be, 'application/json; charset=utf-16be');
    expect({ status: wide.status, pointer: wide.body.pointer }).toEqual({ status: 400, pointer: '/records' });
    // An NDJSON line: named with its line and record.
    const ndjson = await put(`twice-${suffix()}`, '{"a":1,"b":2}\n{"a":1,"b":2,"b":3}\n', 'application/x-ndjson');
    expect(ndjson).toMatchObject({ status: 400, body: { code: 'MALFORMED_BODY', pointer: '/records/1/b', detail: expect.stringContaining('NDJSON line 2 gives the key "b" twice') } });
    // A train request's config given twice, of which one would be dropped.
    const train = await fetch(`${base}/v1/models/${name}/train`, { method: 'POST', headers: { 'content-type': DIRECT }, body: '{"dataset":"d","config":{"epochs":1},"config":{}}' });
    expect({ status: train.status, pointer: ((await train.json()) as { pointer: string }).pointer }).toEqual({ status: 400, pointer: '/config' });
    // The same keys in different objects, and keys written inside strings, are no repeat.
    const fine = await put(`once-${suffix()}`, '{"records":[{"a":1,"b":"\\"a\\":2"},{"a":3,"b":"{\\"b\\":1,\\"b\\":2}"}]}', DIRECT);
    expect(fine).toMatchObject({ status: 200, body: { rows: 2 } });
  });

  it('is scored with its last value, as JSON.parse reads it, in JSON and NDJSON alike: scoring does not pay for the scan', async () => {
    const once = await answer('{"records":[{"f0":1,"f1":2,"f2":3}]}', DIRECT);
    expect(once.status).toBe(200);
    for (const type of [DIRECT, BODY_PARSER]) expect(await answer('{"records":[{"f0":99999,"f0":1,"f1":2,"f2":3}]}', type)).toEqual(once);
    expect(await answer('{"f0":99999,"f0":1,"f1":2,"f2":3}\n', 'application/x-ndjson')).toEqual(once);
    // A field no feature reads, its name with spaces around: passed over in both, as any unread field.
    expect(await answer('{"records":[{"f0":1,"f1":2,"f2":3," x ":5}]}', DIRECT)).toEqual(once);
    expect(await answer('{"f0":1,"f1":2,"f2":3," x ":5}\n', 'application/x-ndjson')).toEqual(once);
    // JSON Lines under the media types its tools send.
    for (const type of ['application/jsonl', 'application/x-jsonlines']) expect(await answer('{"f0":1,"f1":2,"f2":3}\n', type)).toEqual(once);
  });

  it('answers the same read directly as through body-parser on a route that refuses it, whatever the text', async () => {
    // Generated JSON with keys given twice now and then, and text that is not JSON holding such keys.
    const twice = fc.oneof(
      fc.json({ maxDepth: 2 }),
      fc.constantFrom('{"records":[{"a":1}],"records":[', '{"x":1,"x":2}\n{"x":3}\n', '{"records":[{"a":1,"a":2}]}}', '{"a":1,"a":2}', '[{"a":{"b":1,"b":2}}]'),
      fc.tuple(fc.constantFrom('a', 'b', 'records'), fc.json({ maxDepth: 1 }), fc.json({ maxDepth: 1 })).map(([k, v, w]) => `{"${k}":${v},"${k}":${w}}`),
    );
    await fc.assert(
      fc.asyncProperty(twice, async (body) => {
        const send = async (type: string) => {
          const res = await fetch(`${base}/v1/models/${name}/train`, { method: 'POST', headers: { 'content-type': type }, body });
          return { status: res.status, body: JSON.parse(await res.text()) as unknown };
        };
        expect(await send(DIRECT)).toEqual(await send(BODY_PARSER));
      }),
      { numRuns: 150 },
    );
  });
});
