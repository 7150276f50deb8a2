import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/nce';
import { type Architecture, HostNet, Mlp, ServingNet } from '../../../src/nce/model';
import { createRng } from '../../../src/nce/random';

beforeAll(async () => {
  await initBackend();
});

describe('Mlp', () => {
  const arch: Architecture = { inputWidth: 3, hiddenUnits: [5, 4], activation: 'swish', members: 3 };

  it('packs and unpacks member-major weights unchanged', () => {
    const a = Mlp.init(arch, createRng(1));
    const weights = a.readWeights();
    const b = new Mlp(arch, weights);
    try {
      expect(weights).toHaveLength(3 * 3);
      expect(b.readWeights()).toEqual(weights);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('the ensemble logit is the mean of each member run alone as a one-member network', () => {
    const ensemble = Mlp.init(arch, createRng(2));
    const weights = ensemble.readWeights();
    const input = Float32Array.from({ length: 4 * 3 }, (_, i) => Math.sin(i));
    const single = [0, 1, 2].map((m) => {
      const net = new Mlp({ ...arch, members: 1 }, weights.slice(m * 3, m * 3 + 3));
      try {
        return net.predict(input, 4);
      } finally {
        net.dispose();
      }
    });
    const mean = ensemble.predict(input, 4);
    for (let i = 0; i < 4; i++) expect(mean[i]).toBeCloseTo((single[0][i] + single[1][i] + single[2][i]) / 3, 5);
    ensemble.dispose();
  });

  it('dispose releases every variable', () => {
    const before = tf.memory().numTensors;
    Mlp.init(arch, createRng(3)).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('HostNet', () => {
  it('with an input wider than every hidden layer, agrees with the tfjs forward pass', () => {
    const arch: Architecture = { inputWidth: 13, hiddenUnits: [5, 3], activation: 'swish', members: 1 };
    const net = Mlp.init(arch, createRng(9));
    const input = Float32Array.from({ length: 7 * 13 }, (_, i) => Math.sin(i * 0.9));
    try {
      const expected = net.predict(input, 7);
      const got = new HostNet(arch, net.readWeights()).predict(input, 7);
      for (let i = 0; i < 7; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-4);
    } finally {
      net.dispose();
    }
  });

  it.each(['swish', 'relu', 'tanh', 'elu'] as const)('with %s, agrees with the tfjs forward pass to 1e-4 (float32 rounding)', (activation) => {
    const arch: Architecture = { inputWidth: 4, hiddenUnits: [8, 6], activation, members: 2 };
    const net = Mlp.init(arch, createRng(5));
    const input = Float32Array.from({ length: 10 * 4 }, (_, i) => 2 * Math.cos(i * 1.3));
    try {
      const expected = net.predict(input, 10);
      const host = new HostNet(arch, net.readWeights());
      const got = host.predict(input, 10);
      for (let i = 0; i < 10; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-4);
      // Its scratch buffers carry nothing from one call to the next.
      expect(host.predict(input.subarray(4 * 4), 6)).toEqual(got.subarray(4));
    } finally {
      net.dispose();
    }
  });
});

describe('ServingNet', () => {
  it.each([1, 3])('with %i members, gives the training network\'s logits (float32) and releases its tensors', (members) => {
    const arch: Architecture = { inputWidth: 5, hiddenUnits: [16, 8], activation: 'swish', members };
    const net = Mlp.init(arch, createRng(members));
    const input = Float32Array.from({ length: 200 * 5 }, (_, i) => Math.sin(i * 0.7) * 3);
    const before = tf.memory().numTensors;
    const serving = new ServingNet(arch, net.readWeights());
    try {
      const expected = net.predict(input, 200);
      const got = serving.predict(input, 200);
      for (let i = 0; i < 200; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-5);
    } finally {
      serving.dispose();
      net.dispose();
    }
    expect(tf.memory().numTensors).toBe(before - net.variables().length);
  });
});
