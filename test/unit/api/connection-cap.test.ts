import { connectionCap, FILES_KEPT, openFilesLimit } from '../../../src/api';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 1048576              files
Max locked memory         8388608              8388608              bytes
`;

describe('the connection cap', () => {
  it('reads the soft open-files limit, and none where it is unlimited or there is nothing to read', () => {
    expect(openFilesLimit(LIMITS)).toBe(1024);
    expect(openFilesLimit(LIMITS.replace('1024                 1048576', 'unlimited            unlimited'))).toBeNull();
    expect(openFilesLimit(null)).toBeNull();
    expect(openFilesLimit('')).toBeNull();
  });

  it('keeps HTTP_MAX_CONNECTIONS where the limit leaves room for it, and caps it below the limit where not', () => {
    expect(connectionCap(4096, null)).toBe(4096);
    expect(connectionCap(4096, 1_048_576)).toBe(4096);
    expect(connectionCap(4096, 1024)).toBe(1024 - FILES_KEPT);
    expect(connectionCap(500, 1024)).toBe(500);
    // A limit too small for the files kept still takes a few connections.
    expect(connectionCap(4096, 200)).toBe(64);
  });
});
