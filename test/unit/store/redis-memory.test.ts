import { evictionWarning } from '../../../src/store';

/** The memory section of INFO, as Redis 7 writes it (abridged). */
const info = (max: number, policy: string): string => `# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:${max}\r\nmaxmemory_human:1.00G\r\nmaxmemory_policy:${policy}\r\nmem_fragmentation_ratio:1.10\r\n`;

describe('evictionWarning', () => {
  it('says when Redis would evict keys at its memory limit, and not otherwise', () => {
    expect(evictionWarning(info(1 << 30, 'volatile-lru'))).toMatch(/maxmemory-policy volatile-lru\): it can drop datasets, models and jobs/);
    expect(evictionWarning(info(1 << 30, 'allkeys-lru'))).toMatch(/allkeys-lru/);
    expect(evictionWarning(info(1 << 30, 'noeviction'))).toBeNull();
    // No memory limit: nothing is evicted, whatever the policy.
    expect(evictionWarning(info(0, 'allkeys-lru'))).toBeNull();
    // An INFO without the fields (a proxy that hides them): nothing said.
    expect(evictionWarning('# Memory\r\nused_memory:1\r\n')).toBeNull();
  });
});
