import { notUtf8Words, utf16Words } from '../../../src/store';

describe('notUtf8Words', () => {
  it('names the line and byte of text that is not UTF-8, and UTF-16 as UTF-16 with or without its byte-order mark', () => {
    const latin1 = Buffer.concat([Buffer.from('a,b\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    expect(notUtf8Words(latin1, { what: 'the file' })).toBe('the file is not UTF-8 text from line 2, byte 10 (0xE9) on: save it as UTF-8 (from Latin-1 or Windows-1252 with iconv -f WINDOWS-1252 -t UTF-8)');
    // A later chunk of a body: the byte counts from the body's start, and no line is named.
    expect(notUtf8Words(latin1, { what: 'the body', start: 100, final: false })).toMatch(/^the body is not UTF-8 text from byte 110 \(0xE9\) on/);
    const text = 'a,b\n1,café\n';
    expect(notUtf8Words(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), { what: 'the file' })).toMatch(/^the file is UTF-16 text \(it starts with UTF-16's byte-order mark\)/);
    expect(notUtf8Words(Buffer.from(text, 'utf16le'), { what: 'the file' })).toMatch(/^the file looks like UTF-16 text without its byte-order mark/);
    expect(utf16Words(Buffer.from('{"a":1}', 'utf16le').toString('utf8'), 'it')).toMatch(/^it looks like UTF-16/);
    expect(utf16Words('{"a":1}', 'it')).toBeNull();
  });
});
