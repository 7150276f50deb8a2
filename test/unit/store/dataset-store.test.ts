import { appendFingerprint } from '../../../src/store/dataset-store';

describe('appendFingerprint', () => {
  it('when records spell their categories in other ways (boolean case, Unicode form, spaces around), gives the same fingerprint', () => {
    const canonical = [{ amount: 1.5, channel: 'true', size: 'Gr\u00f6\u00dfe', hour: 2 }];

    const respelt = [{ hour: 2, size: ' Gro\u0308\u00dfe', channel: 'TRUE', amount: 1.5 }];

    expect(appendFingerprint(respelt)).toBe(appendFingerprint(canonical));
  });

  it('when records differ in a value, a number sent as text, or a category other than by its spelling, gives another fingerprint', () => {
    const base = appendFingerprint([{ amount: 1.5, channel: 'true' }]);

    for (const other of [[{ amount: 1.5, channel: 'false' }], [{ amount: '1.5', channel: 'true' }], [{ amount: 1.5, channel: 'True ish' }], [{ amount: 1.5, channel: 'true' }, { amount: 1.5, channel: 'true' }]]) {
      expect(appendFingerprint(other)).not.toBe(base);
    }
  });

  it('when records are spelt canonically already, gives the fingerprint earlier releases remembered, so a retry across an upgrade still replays', () => {
    // The first 22 base64url characters of the SHA-256 of the text the release before hashed:
    // '[["amount",1.5],["channel","true"],["hour",2]]\n[["amount",3],["channel","Größe"]]\n'.
    expect(appendFingerprint([{ amount: 1.5, channel: 'true', hour: 2 }, { amount: 3, channel: 'Gr\u00f6\u00dfe', hour: null }])).toBe('VwX0d6BOqCBqHxLLEJsElp');
  });
});
