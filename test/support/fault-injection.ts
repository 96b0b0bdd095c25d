/**
 * A fault right after a named step of a Lambda's work: `crash` — the step did its work, then the process
 * died, so that call and every later one fail without reaching AWS; `fail` — that call fails the same way
 * but the process lives on (its error handling runs, as after a timeout on the way back). Steps are named
 * `<port>.<method>` for wrapped ports, or whatever the caller passes to `after`.
 */

export class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

export type FaultKind = 'crash' | 'fail';

/** The steps of the shared binding workflow (shared/provisioning/bind-certificate.ts), JITR and vending alike, in order. */
export const BIND_STEPS = [
  'registry.claim',
  'iot.createThing',
  'iot.addThingToThingGroup',
  'iot.attachPolicy',
  'iot.attachThingPrincipal',
  'iot.updateCertificateStatus',
  'registry.markBound',
] as const;

export class FaultInjector {
  private dead = false;
  private fired = false;

  constructor(private readonly fault?: { step: string; how: FaultKind }) {}

  /** The process died (a `crash` fired). */
  get crashed(): boolean {
    return this.dead;
  }

  /** The fault fired, whichever kind. */
  get triggered(): boolean {
    return this.fired;
  }

  async after<T>(step: string, work: () => Promise<T>): Promise<T> {
    if (this.dead) throw new InjectedCrash('the process is gone');
    const result = await work();
    if (this.fault && !this.fired && this.fault.step === step) {
      this.fired = true;
      if (this.fault.how === 'crash') this.dead = true;
      throw new InjectedCrash(`injected ${this.fault.how} after ${step}`);
    }
    return result;
  }

  /** `target` with every method call going through `after('<port>.<method>')`. */
  wrap<T extends object>(target: T, port: string): T {
    return new Proxy(target, {
      get: (object, key, receiver) => {
        const value = Reflect.get(object, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => this.after(`${port}.${String(key)}`, () => (value as (...a: unknown[]) => Promise<unknown>).apply(object, args));
      },
    });
  }
}
