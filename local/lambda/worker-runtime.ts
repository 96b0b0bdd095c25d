import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { raceDeadline } from '../../shared/lambda/deadline';
import type { LambdaContext, LambdaHandler } from './async-lambda';

/**
 * Runs a handler module the way Lambda does: in execution environments (worker threads) that each load
 * the module once (cold start) and then serve one invocation at a time (warm). A new environment starts
 * only when all are busy; a timed-out invocation ends its environment.
 */

interface Container {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
}

let nextId = 0;

export class WorkerRuntime {
  private readonly containers: Container[] = [];
  readonly stats = { coldStarts: 0 };

  constructor(
    private readonly options: {
      modulePath: string;
      exportName: string;
      environment: Record<string, string>;
      /** Each EMF document the function prints (CloudWatch Logs would extract its metrics). */
      onMetrics?: (document: unknown) => void;
    },
  ) {}

  /** A handler for AsyncLambda: each call takes a free container or starts one. */
  readonly handler: LambdaHandler = async (event, context) => {
    const container = this.containers.find((c) => !c.busy) ?? this.start();
    container.busy = true;
    try {
      await container.ready;
      return await this.invoke(container, event, context);
    } finally {
      container.busy = false;
    }
  };

  /** Starts containers until `count` are idle and ready, as provisioned concurrency would (benchmarks start their clock after). */
  async prestart(count: number): Promise<void> {
    while (this.containers.filter((c) => !c.busy).length < count) this.start();
    await Promise.all(this.containers.map((c) => c.ready));
  }

  private start(): Container {
    this.stats.coldStarts++;
    const worker = new Worker(resolve(__dirname, 'container.cjs'), {
      workerData: { modulePath: this.options.modulePath, exportName: this.options.exportName },
      env: { ...process.env, ...this.options.environment },
      // A bundle needs no TypeScript loader: do not inherit one (e.g. --import tsx) from this process.
      ...(/\.c?js$/.test(this.options.modulePath) ? { execArgv: [] } : {}),
      stdout: false,
      stderr: false,
    });
    worker.unref();
    worker.on('message', (message: { type: string; document?: unknown }) => {
      if (message.type === 'emf') this.options.onMetrics?.(message.document);
    });
    const ready = new Promise<void>((resolveReady, reject) => {
      const onMessage = (message: { type: string; error?: { name: string; message: string } }) => {
        if (message.type === 'ready') resolveReady();
        if (message.type === 'init-error') reject(Object.assign(new Error(message.error?.message), { name: 'Runtime.ImportModuleError' }));
        if (message.type === 'ready' || message.type === 'init-error') worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    ready.catch(() => this.remove(worker));
    const container: Container = { worker, ready, busy: false };
    this.containers.push(container);
    return container;
  }

  private remove(worker: Worker): void {
    const at = this.containers.findIndex((c) => c.worker === worker);
    if (at >= 0) this.containers.splice(at, 1);
    void worker.terminate();
  }

  private async invoke(container: Container, event: unknown, context: LambdaContext): Promise<unknown> {
    const id = ++nextId;
    const deadline = Date.now() + context.getRemainingTimeInMillis();
    const { getRemainingTimeInMillis: _, ...plainContext } = context;
    let stopListening = () => {};
    const answered = new Promise<unknown>((resolveResult, reject) => {
      const onMessage = (message: { type: string; id: number; result?: unknown; error?: { name: string; message: string } }) => {
        if (message.id !== id) return;
        stopListening();
        if (message.type === 'result') resolveResult(message.result);
        else reject(Object.assign(new Error(message.error?.message), { name: message.error?.name ?? 'Error' }));
      };
      const onError = (error: Error) => {
        stopListening();
        this.remove(container.worker);
        reject(error);
      };
      stopListening = () => {
        container.worker.off('message', onMessage);
        container.worker.off('error', onError);
      };
      container.worker.on('message', onMessage);
      container.worker.once('error', onError);
      container.worker.postMessage({ id, event, context: { ...plainContext, deadline } });
    });
    const raced = await raceDeadline(answered, deadline);
    if (raced.kind === 'done') return raced.value;
    if (raced.kind === 'failed') throw raced.error;
    stopListening();
    // Lambda ends an environment whose invocation timed out; the next one cold-starts.
    this.remove(container.worker);
    throw Object.assign(new Error('Task timed out'), { name: 'Sandbox.Timedout' });
  }

  async close(): Promise<void> {
    await Promise.all(this.containers.splice(0).map((c) => c.worker.terminate()));
  }
}
