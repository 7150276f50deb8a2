import * as tf from '@tensorflow/tfjs';
import type { Rng } from './random';

/** Hidden activation of the classifier. */
export type Activation = 'relu' | 'tanh' | 'elu' | 'swish';

/** The classifier's shape. */
export interface Architecture {
  inputWidth: number;
  hiddenUnits: number[];
  activation: Activation;
}

/** Weights of one dense layer, as plain arrays: kernel is in x out, row-major. */
export interface DenseWeights {
  kernel: Float32Array;
  bias: Float32Array;
  in: number;
  out: number;
}

/**
 * A multilayer perceptron whose single output is the logit of "real record, not noise".
 * Holds tfjs variables; call {@link Mlp.dispose} when done.
 */
export class Mlp {
  private readonly vars: { kernel: tf.Variable; bias: tf.Variable }[];

  constructor(
    readonly arch: Architecture,
    weights: DenseWeights[],
  ) {
    this.vars = weights.map((w) => ({
      kernel: tf.variable(tf.tensor2d(w.kernel, [w.in, w.out])),
      bias: tf.variable(tf.tensor1d(w.bias)),
    }));
  }

  /** A fresh network with He-scaled normal weights drawn from `rng`. */
  static init(arch: Architecture, rng: Rng): Mlp {
    const widths = [arch.inputWidth, ...arch.hiddenUnits, 1];
    const weights: DenseWeights[] = [];
    for (let l = 0; l + 1 < widths.length; l++) {
      const fanIn = widths[l];
      const fanOut = widths[l + 1];
      const std = Math.sqrt((l + 2 === widths.length ? 1 : 2) / fanIn);
      const kernel = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < kernel.length; i++) kernel[i] = std * rng.normal();
      weights.push({ kernel, bias: new Float32Array(fanOut), in: fanIn, out: fanOut });
    }
    return new Mlp(arch, weights);
  }

  /** The trainable variables, for an optimiser. */
  variables(): tf.Variable[] {
    return this.vars.flatMap((v) => [v.kernel, v.bias]);
  }

  /** Logits for a batch of network inputs (n x inputWidth) -> n. */
  logits(x: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      this.vars.forEach((v, l) => {
        const z = tf.add(tf.matMul(h, v.kernel), v.bias) as tf.Tensor2D;
        h = l + 1 === this.vars.length ? z : activate(z, this.arch.activation);
      });
      return tf.reshape(h, [-1]) as tf.Tensor1D;
    });
  }

  /** Logits for plain inputs, read back synchronously. */
  predict(input: Float32Array, n: number): Float32Array {
    const x = tf.tensor2d(input, [n, this.arch.inputWidth]);
    try {
      const y = this.logits(x);
      try {
        return y.dataSync() as Float32Array;
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  /** A copy of the current weights. */
  readWeights(): DenseWeights[] {
    return this.vars.map((v) => {
      const [inW, outW] = v.kernel.shape;
      return {
        kernel: Float32Array.from(v.kernel.dataSync()),
        bias: Float32Array.from(v.bias.dataSync()),
        in: inW,
        out: outW,
      };
    });
  }

  /** Overwrites the weights (same shapes). */
  writeWeights(weights: DenseWeights[]): void {
    weights.forEach((w, l) => {
      tf.tidy(() => {
        this.vars[l].kernel.assign(tf.tensor2d(w.kernel, [w.in, w.out]));
        this.vars[l].bias.assign(tf.tensor1d(w.bias));
      });
    });
  }

  dispose(): void {
    for (const v of this.vars) {
      v.kernel.dispose();
      v.bias.dispose();
    }
  }
}

function activate(z: tf.Tensor2D, a: Activation): tf.Tensor2D {
  switch (a) {
    case 'relu':
      return tf.relu(z);
    case 'tanh':
      return tf.tanh(z);
    case 'elu':
      return tf.elu(z);
    case 'swish':
      return tf.mul(z, tf.sigmoid(z));
  }
}
