import * as tf from '@tensorflow/tfjs';
import { NceError } from './errors';

/** The tfjs backends the engine can run on, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

const ORDER: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let active: Promise<BackendName> | null = null;

/**
 * Selects and initialises the tfjs backend once per process: native libtensorflow
 * (`@tensorflow/tfjs-node`) when it loads, else WebAssembly, else plain JavaScript.
 * @param preferred - force one backend (the `TF_BACKEND` setting); fails if it cannot load
 * @returns the name of the active backend
 */
export function initBackend(preferred?: BackendName): Promise<BackendName> {
  if (!active) {
    active = select(preferred).catch((e: unknown) => {
      active = null;
      throw e;
    });
  }
  return active;
}

/** The active backend's name, or null before {@link initBackend} resolved. */
export function activeBackend(): BackendName | null {
  const name = tf.getBackend();
  return ORDER.includes(name as BackendName) ? (name as BackendName) : null;
}

async function select(preferred?: BackendName): Promise<BackendName> {
  const candidates = preferred ? [preferred] : ORDER;
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      register(name);
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      failures.push(`${name}: did not initialise`);
    } catch (e: unknown) {
      failures.push(`${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  throw new NceError('BACKEND_UNAVAILABLE', `no tfjs backend could start (${failures.join('; ')})`);
}

function register(name: BackendName): void {
  // Importing a backend package registers it with tfjs-core; the native one may be absent.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native package, loaded only when chosen
  if (name === 'tensorflow') require('@tensorflow/tfjs-node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- registers the backend on first use only
  else if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
}

/** Tensors alive on the backend now: flat under steady scoring, or something leaks. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}
