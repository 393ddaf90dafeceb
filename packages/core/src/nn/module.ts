import { tf } from '../backend/tf.js';

export type NamedTensors = Record<string, tf.Tensor>;

/**
 * A tree of named parameters, like torch.nn.Module: parameters are tf.Variables registered under a name,
 * sub-modules nest with dotted paths ("layers.0.weight"), and the state dict is the flat name → tensor map
 * that checkpoints store.
 *
 * tfjs variable names are global to the engine, so the variables themselves get engine-unique names; the
 * dotted path lives here.
 */
export abstract class Module {
  private readonly ownParameters = new Map<string, tf.Variable>();
  private readonly ownBuffers = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();
  /** Training mode toggles dropout and other train-only behaviour. */
  training = true;

  protected registerParameter(name: string, initial: tf.Tensor, trainable = true): tf.Variable {
    this.assertFreeName(name);
    const v = tf.variable(initial, trainable);
    initial.dispose();
    this.ownParameters.set(name, v);
    return v;
  }

  /**
   * Non-trainable state saved with the module (e.g. fixed frequencies). Held as a non-trainable variable so
   * loading a state dict updates it in place: fields that point at the buffer stay valid.
   */
  protected registerBuffer(name: string, value: tf.Tensor): tf.Variable {
    this.assertFreeName(name);
    const buffer = tf.variable(value, false);
    value.dispose();
    this.ownBuffers.set(name, buffer);
    return buffer;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.assertFreeName(name);
    this.children.set(name, module);
    return module;
  }

  private assertFreeName(name: string): void {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`invalid parameter/module name '${name}': use letters, digits, _`);
    if (this.ownParameters.has(name) || this.ownBuffers.has(name) || this.children.has(name)) {
      throw new Error(`'${name}' is already registered on ${this.constructor.name}`);
    }
  }

  /** [dotted name, variable] for every parameter in the tree, in registration order. */
  namedParameters(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [name, v] of this.ownParameters) out.push([prefix + name, v]);
    for (const [name, child] of this.children) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [name, b] of this.ownBuffers) out.push([prefix + name, b]);
    for (const [name, child] of this.children) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  trainableParameters(): tf.Variable[] {
    return this.parameters().filter((v) => v.trainable);
  }

  /** Total number of scalar parameters. */
  parameterCount(): number {
    return this.parameters().reduce((n, v) => n + v.size, 0);
  }

  /** The live parameters and buffers by dotted name (not copies: do not dispose them). */
  stateDict(): NamedTensors {
    const out: NamedTensors = {};
    for (const [name, v] of this.namedParameters()) out[name] = v;
    for (const [name, b] of this.namedBuffers()) out[name] = b;
    return out;
  }

  /**
   * Copies values into the parameters. Checks names, shapes and dtypes and reports every problem at once;
   * with `strict` (default) missing and unexpected names are errors too. Nothing is changed on error.
   */
  loadStateDict(state: NamedTensors, options: { strict?: boolean; source?: string } = {}): void {
    const strict = options.strict ?? true;
    const where = options.source ? `${options.source}: ` : '';
    const problems: string[] = [];
    const targets = new Map<string, tf.Variable>([...this.namedParameters(), ...this.namedBuffers()]);
    for (const [name, target] of targets) {
      const value = state[name];
      if (!value) {
        if (strict) problems.push(`missing tensor '${name}' (expected shape [${target.shape}] ${target.dtype})`);
        continue;
      }
      if (value.dtype !== target.dtype) problems.push(`tensor '${name}' has dtype ${value.dtype}, expected ${target.dtype}`);
      if (!sameShape(value.shape, target.shape)) {
        problems.push(`tensor '${name}' has shape [${value.shape}], expected [${target.shape}]`);
      }
    }
    if (strict) {
      for (const name of Object.keys(state)) if (!targets.has(name)) problems.push(`unexpected tensor '${name}'`);
    }
    if (problems.length) {
      // One line (a CLI prints it as the whole error); the first few problems say enough to see what happened.
      const shown = problems.slice(0, 6).join('; ') + (problems.length > 6 ? `; and ${problems.length - 6} more` : '');
      throw new Error(`${where}the weights do not fit ${this.constructor.name} (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${shown}`);
    }
    for (const [name, target] of targets) {
      const value = state[name];
      if (value) target.assign(value);
    }
  }

  train(on = true): this {
    this.training = on;
    for (const child of this.children.values()) child.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  dispose(): void {
    for (const v of this.ownParameters.values()) v.dispose();
    for (const b of this.ownBuffers.values()) b.dispose();
    for (const child of this.children.values()) child.dispose();
    this.ownParameters.clear();
    this.ownBuffers.clear();
    this.children.clear();
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
